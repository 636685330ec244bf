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

	"netspot/core/analyzer"
	"netspot/core/event"
	"netspot/core/miner"
)

// Options are the configuration an evaluation runs with: the sections of
// netspot's config file that shape detection.
type Options struct {
	// Miner gives the capture filter (applied to every capture); its
	// device is ignored.
	Miner miner.Config
	// Analyzer gives the period, the statistics and the alarm hysteresis.
	// The scenario's period, if any, is not applied here: callers choose
	// between the two (see Scenario.PeriodOr).
	Analyzer analyzer.Config
	Spot     analyzer.SpotConfig
	Log      *slog.Logger
	// Observe, if set, sees every Record, in window order (for plots).
	Observe func(*event.Record)
}

// ErrLearning says that an attack starts before the detectors can judge.
var ErrLearning = errors.New("attack during calibration")

// Run evaluates netspot on the scenario's timeline and returns the report.
func Run(ctx context.Context, s *Scenario, opt Options) (*Report, error) {
	period := opt.Analyzer.Period.D()
	if err := opt.Analyzer.Validate(); err != nil {
		return nil, fmt.Errorf("eval: analyzer: %w", err)
	}
	// Before checkLearning, which reads watch_after, depth and n_init: a
	// value out of range is reported as such, not as an attack during
	// calibration.
	if err := opt.Spot.Validate(); err != nil {
		return nil, fmt.Errorf("eval: spot: %w", err)
	}
	if err := checkLearning(s, opt, period); err != nil {
		return nil, err
	}
	tl, err := Build(s, opt.Miner.Filter)
	if err != nil {
		return nil, err
	}
	// Alarms go to the report: the analyzer logs only its errors.
	an, err := analyzer.New(opt.Analyzer, opt.Spot, analyzer.Options{Log: atLeast(opt.Log, slog.LevelError), RunID: "eval"})
	if err != nil {
		tl.Close()
		return nil, err
	}
	sc := NewScorer(tl.Attacks(), period, s.Grace(period))
	err = Replay(ctx, tl, opt.Miner, period, opt.Log, func(snap *event.Snapshot) {
		rec := an.Process(snap)
		sc.Add(rec)
		if opt.Observe != nil {
			opt.Observe(rec)
		}
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
func checkLearning(s *Scenario, opt Options, period time.Duration) error {
	learn := 0
	for _, name := range opt.Analyzer.Watched() {
		p := opt.Spot.For(name)
		learn = max(learn, p.Spot().JudgesAfter())
	}
	calib := time.Duration(learn) * period
	for i := range s.Attack {
		a := &s.Attack[i]
		if a.At.D() < calib {
			return &Error{File: s.Path, Line: a.line, Entry: attackName(a), Key: "at",
				Err: fmt.Errorf("%w: %s is before the detectors watch (they learn for %d periods of %s = %s); inject it later, lengthen the timeline, or shorten calibration",
					ErrLearning, a.At, learn, period, calib)}
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
