// Package pipeline is the wiring that `netspot run`, `netspot serve` and
// `netspot eval` share: a typed Config in, and capture → miner → analyzer →
// fan-out → sinks out, with the detectors' state saved and restored. The
// three commands differ only in where packets come from and who starts and
// stops the pipeline.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"netspot/core/analyzer"
	"netspot/core/capture"
	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/miner"
	"netspot/core/sink"
)

// CloseTimeout bounds how long the sinks may take to deliver what is
// queued when the pipeline stops.
const CloseTimeout = 10 * time.Second

// Options are what a pipeline takes besides its Config.
type Options struct {
	Log     *slog.Logger // nil discards
	Stdout  io.Writer    // the console sink's stream; io.Discard when nil
	Version string       // netspot's version, for the sinks that publish it
	// Source replaces the configured device: `netspot eval` streams its
	// merged timeline through it. It is a replay.
	Source capture.Source
	// Extra sinks get every Record beside the configured ones: the API's
	// live feed, the evaluation's scorer.
	Extra []Extra
	// RunID prefixes alarm ids; random when empty (see analyzer.Options).
	RunID string
	// Started is called once capture is open and every sink added.
	Started func(*Running)
	// Now is the wall clock of state saving; time.Now when nil.
	Now func() time.Time
}

// Extra is a sink added by the caller of Run.
type Extra struct {
	Name  string
	Sink  sink.Sink
	Queue sink.QueueOptions
}

// Running is a started pipeline, for its caller to watch.
type Running struct {
	m   *miner.Miner
	fan atomic.Pointer[sink.FanOut]
	an  *analyzer.Analyzer
}

// Live reports whether packets come from an interface (false: a replay).
func (r *Running) Live() bool { return r.m.Live() }

// Progress reports how far capture went.
func (r *Running) Progress() miner.Progress { return r.m.Progress() }

// SinkStats reports how every sink keeps up.
func (r *Running) SinkStats() []sink.QueueStats { return r.fan.Load().Stats() }

// Watched returns the statistics the pipeline watches, in order.
func (r *Running) Watched() []string {
	var names []string
	for _, s := range r.an.Stats() {
		names = append(names, s.Name)
	}
	return names
}

// Run runs the pipeline until the capture file ends or ctx is cancelled
// (SIGINT, SIGTERM, a stop through the API), then lets the sinks deliver
// what is queued (at most CloseTimeout) and saves the detectors.
//
// Errors: a configuration problem is a *config.Problem or
// config.Problems; capture errors are those of the capture package
// (capture.ErrNotFound, capture.ErrFormat, *capture.PermissionError); a sink
// that may not use what it needs wraps fs.ErrPermission.
func Run(ctx context.Context, cfg *Config, opt Options) (err error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Stdout == nil {
		opt.Stdout = io.Discard
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	log := opt.Log
	var extraOpen []Extra // closed here if Run fails before the fan-out owns them
	extraOpen = append(extraOpen, opt.Extra...)
	defer func() {
		for _, e := range extraOpen {
			_ = e.Sink.Close()
		}
	}()
	if err := cfg.Validate(); err != nil {
		return err
	}

	period := cfg.Analyzer.Period.D()
	var mopts []miner.Option
	if opt.Source != nil {
		mopts = append(mopts, miner.WithSource(opt.Source))
	}
	m, err := miner.New(cfg.Miner, period, log, mopts...)
	if err != nil {
		var fe *config.FieldError
		if errors.As(err, &fe) {
			return &config.Problem{Key: "miner." + fe.Key, Err: fe.Err}
		}
		return err
	}
	defer m.Close()

	an, err := analyzer.New(cfg.Analyzer, cfg.Spot, analyzer.Options{Log: log, RunID: opt.RunID})
	if err != nil {
		return err
	}
	state, err := openState(cfg.Analyzer, log)
	if err != nil {
		return err
	}
	state.restore(an)
	defer func() { state.close(an, opt.Now()) }()

	mode := sink.Replay
	if m.Live() {
		mode = sink.Live
	}
	fan := sink.NewFanOut(log, mode)
	for _, e := range opt.Extra {
		fan.Add(e.Name, e.Sink, e.Queue)
	}
	extraOpen = nil
	env := sink.Env{
		Stdout:    opt.Stdout,
		Series:    seriesName(cfg.Miner.Device, m.Live(), opt.Now()),
		Version:   opt.Version,
		Live:      m.Live(),
		SinkStats: fan.Stats,
	}
	for _, s := range an.Stats() {
		env.Watched = append(env.Watched, sink.StatInfo{Name: s.Name, Unit: s.Unit})
	}
	closeFan := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
		defer cancel()
		err := fan.Close(ctx)
		for _, st := range fan.Stats() {
			if st.DroppedRecords > 0 || st.Failed > 0 {
				log.Warn("sink summary", "sink", st.Name, "delivered", st.Delivered, "failed", st.Failed,
					"dropped_records", st.DroppedRecords, "dropped_alarms", st.DroppedAlarms)
			}
		}
		return err
	}
	if err := openSinks(fan, cfg.Sinks, env, log); err != nil {
		_ = closeFan()
		return err
	}

	run := &Running{m: m, an: an}
	run.fan.Store(fan)
	if opt.Started != nil {
		opt.Started(run)
	}
	left := an.LearningLeft()
	log.Info("netspot started", "device", deviceName(cfg, opt), "period", period,
		"stats", strings.Join(run.Watched(), ","), "learning_periods", left,
		"watching_in", (time.Duration(left) * period).String())

	learning := learningLog{total: left, log: log}
	runErr := m.Run(ctx, func(s *event.Snapshot) {
		rec := an.Process(s)
		learning.update(rec)
		fan.Publish(ctx, rec)
		state.maybeSave(an, opt.Now())
	})
	closeErr := closeFan()
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		return fmt.Errorf("sinks: %w", closeErr)
	}
	log.Info("netspot stopped", "packets", m.Progress().Packets)
	return nil
}

// openSinks opens every enabled sink of the configuration and adds it to
// the fan-out, then hands the uplink (the first sink that has one) to the
// sinks that show it. On error, the sinks already added are closed with
// the fan-out by the caller.
func openSinks(fan *sink.FanOut, sinks []SinkConfig, env sink.Env, log *slog.Logger) error {
	var uplink sink.Uplink
	var watchers []sink.UplinkWatcher
	for _, sc := range sinks {
		if !sc.Config.Enabled() {
			continue
		}
		e := env
		e.Log = log.With("sink", sc.Factory.Name)
		s, err := sc.Config.New(e)
		if err != nil {
			var fe *config.FieldError
			if errors.As(err, &fe) {
				return &config.Problem{Key: sc.Factory.Section + "." + fe.Key, Err: fe.Err}
			}
			return fmt.Errorf("%s: %w", sc.Factory.Name, err)
		}
		var q sink.QueueOptions
		if qd, ok := sc.Config.(sink.Queued); ok {
			q = qd.Queue()
		}
		fan.Add(sc.Factory.Name, s, q)
		if u, ok := s.(sink.Uplink); ok && uplink == nil {
			uplink = u
		}
		if w, ok := s.(sink.UplinkWatcher); ok {
			watchers = append(watchers, w)
		}
	}
	for _, w := range watchers {
		w.WatchUplink(uplink)
	}
	return nil
}

func deviceName(cfg *Config, opt Options) string {
	if opt.Source != nil {
		return "timeline"
	}
	return cfg.Miner.Device
}

// seriesName names a run for file templates: a capture file's name without
// extension, or the interface and the start time.
func seriesName(device string, live bool, now time.Time) string {
	if live {
		return device + "-" + now.UTC().Format("20060102T150405Z")
	}
	base := filepath.Base(device)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// learningLog reports calibration progress in tenths, so that someone
// watching the log of a new box knows when it starts watching.
type learningLog struct {
	total  int
	logged int // tenths already reported
	log    *slog.Logger
}

func (l *learningLog) update(r *event.Record) {
	if l.total == 0 || r.LearningLeft == 0 && l.logged == 10 {
		return
	}
	tenths := 10 * (l.total - r.LearningLeft) / l.total
	if tenths > l.logged {
		l.logged = tenths
		if r.LearningLeft == 0 {
			l.log.Info("learning done: every detector watches")
			return
		}
		l.log.Info("learning", "done_percent", 10*tenths, "periods_left", r.LearningLeft)
	}
}

// Runner runs pipelines for the API of `netspot serve`, one at a time, each
// with the API's live feed as one more sink.
type Runner struct {
	// Options of every run; Extra and Started are set by Run.
	Options Options
	running atomic.Pointer[Running]
}

// Run runs the pipeline with cfg and feed beside the configured sinks, and
// calls ready once capture has started.
func (r *Runner) Run(ctx context.Context, cfg *Config, feed sink.Sink, ready func()) error {
	opt := r.Options
	opt.Extra = append(slices.Clone(opt.Extra), Extra{Name: "api", Sink: feed})
	opt.Started = func(run *Running) {
		r.running.Store(run)
		ready()
	}
	return Run(ctx, cfg, opt)
}

// SinkStats reports how the sinks of the current (or last) run keep up;
// nil before the first.
func (r *Runner) SinkStats() []sink.QueueStats {
	if run := r.running.Load(); run != nil {
		return run.SinkStats()
	}
	return nil
}
