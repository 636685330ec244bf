// Package eval measures how well netspot detects attacks: it builds a
// labelled traffic timeline from capture files (benign backgrounds looped to
// fill a duration, attack captures injected at known offsets), replays it
// through the miner and the analyzer as fast as the machine allows, and
// compares the alarms with the attack windows: detected or not, delay, the
// statistics that alarmed, false alarms per hour of benign traffic.
//
// The timeline is merged while it streams: no merged file is written. A
// scenario is a small TOML file (see Scenario); mistakes in it, and
// captures that are missing or unreadable, are errors naming the entry and
// its line before anything runs.
package eval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"netspot/core/event"
	"netspot/core/miner"
	"netspot/core/pipeline"
)

// Options are the configuration an evaluation runs with.
type Options struct {
	// Config gives the capture filter (applied to every capture; the
	// device is ignored), the period, the statistics, the alarm
	// hysteresis and the detectors. The scenario's period, if any, is not
	// applied here: callers choose between the two (see
	// Scenario.PeriodOr). Its sinks are not opened: an evaluation
	// publishes nothing.
	Config *pipeline.Config
	Log    *slog.Logger
	// Observe, if set, sees every Record, in window order (for plots).
	Observe func(*event.Record)
}

// ErrLearning says that an attack starts before the detectors can judge.
var ErrLearning = errors.New("attack during calibration")

// Run evaluates netspot on the scenario's timeline and returns the report.
// The timeline is replayed through the pipeline of netspot run, with the
// scorer as its only sink.
func Run(ctx context.Context, s *Scenario, opt Options) (*Report, error) {
	if opt.Config == nil {
		return nil, errors.New("eval: no configuration")
	}
	cfg := opt.Config.Clone()
	cfg.Sinks = nil
	cfg.Analyzer.StateFile = ""
	if cfg.Miner.Device == "" || cfg.Miner.Device == "any" {
		cfg.Miner.Device = "timeline" // not opened: the timeline is the source
	}
	// Before checkLearning, which reads watch_after, depth and n_init: a
	// value out of range is reported as such, not as an attack during
	// calibration.
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	period := cfg.Analyzer.Period.D()
	if err := checkLearning(s, cfg, period); err != nil {
		return nil, err
	}
	tl, err := Build(s, cfg.Miner.Filter)
	if err != nil {
		return nil, err
	}
	sc := NewScorer(tl.Attacks(), period, s.Grace(period))
	// Alarms go to the report: the pipeline logs only its errors.
	err = pipeline.Run(ctx, cfg, pipeline.Options{
		Log: atLeast(opt.Log, slog.LevelError), Source: tl, RunID: "eval",
		Extra: []pipeline.Extra{{Name: "scorer", Sink: &scorerSink{sc: sc, observe: opt.Observe}}},
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("eval: interrupted: %w", err)
	}
	r := sc.Report(tl.Start())
	r.Scenario = s.Path
	r.Description = s.Description
	r.DurationS = s.Duration.D().Seconds()
	return r, nil
}

// scorerSink hands every Record to the scorer, and to observe.
type scorerSink struct {
	sc      *Scorer
	observe func(*event.Record)
}

func (s *scorerSink) Write(r *event.Record) error {
	s.sc.Add(r)
	if s.observe != nil {
		s.observe(r)
	}
	return nil
}

func (s *scorerSink) Close() error { return nil }

// Replay runs the miner over a timeline and hands each window's Snapshot
// to emit, in order. The miner closes the timeline.
func Replay(ctx context.Context, tl *Timeline, mc miner.Config, period time.Duration, log *slog.Logger, emit func(*event.Snapshot)) error {
	if mc.Device == "" || mc.Device == "any" {
		mc.Device = "timeline" // not opened: the timeline is the source
	}
	m, err := miner.New(mc, period, log, miner.WithSource(tl))
	if err != nil {
		tl.Close()
		return err
	}
	defer m.Close()
	return m.Run(ctx, emit)
}

// checkLearning refuses attacks placed before the detectors judge
// (watch_after periods): they would be learnt as normal traffic, and their
// verdict would say nothing about detection.
func checkLearning(s *Scenario, cfg *pipeline.Config, period time.Duration) error {
	learn := 0
	for _, name := range cfg.Analyzer.Watched() {
		p := cfg.Spot.For(name)
		learn = max(learn, p.Spot().JudgesAfter())
	}
	calib := time.Duration(learn) * period
	for i := range s.Attack {
		a := &s.Attack[i]
		if a.At.D() < calib {
			return problem(s, a.line, attackName(a), "at", fmt.Errorf("%w: %s is before the detectors watch (they learn for %d periods of %s = %s); inject it later, lengthen the timeline, or shorten calibration",
				ErrLearning, a.At, learn, period, calib))
		}
	}
	return nil
}

// atLeast returns a logger that drops log's records below level.
func atLeast(log *slog.Logger, level slog.Level) *slog.Logger {
	if log == nil {
		return nil
	}
	return slog.New(levelHandler{min: level, Handler: log.Handler()})
}

type levelHandler struct {
	min slog.Level
	slog.Handler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return levelHandler{min: h.min, Handler: h.Handler.WithAttrs(as)}
}

func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{min: h.min, Handler: h.Handler.WithGroup(name)}
}
