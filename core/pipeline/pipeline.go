// Package pipeline is the wiring that `netspot run`, `netspot serve` and
// `netspot eval` share: a typed Config in, and capture → miner → analyzer →
// fan-out → sinks out, with the detectors' state saved and restored. The
// three commands differ only in where packets come from and who starts and
// stops the pipeline.
package pipeline

import (
	"bytes"
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
	// live feed, the evaluation's scorer. They stay across reloads.
	Extra []Extra
	// RunID prefixes alarm ids; random when empty (see analyzer.Options).
	RunID string
	// Started is called once capture is open and every sink added.
	Started func(*Running)
	// Reload receives new configurations (SIGHUP): see Run.
	Reload <-chan *Config
	// Now is the wall clock of state saving; time.Now when nil.
	Now func() time.Time
	// Stdin is what the device "-" reads (a capture on standard input).
	Stdin io.Reader
	// Count and Duration end capture early, as tcpdump's -c does: after
	// Count packets, or Duration of capture time (on the packet clock of
	// a replay, from its first packet; on the wall clock live). The end
	// is that of a capture file: the last window flushed, sinks closed,
	// detectors saved. Zero for no limit.
	Count    uint64
	Duration time.Duration
}

// Extra is a sink added by the caller of Run.
type Extra struct {
	Name  string
	Sink  sink.Sink
	Queue sink.QueueOptions
}

// Running is a started pipeline, for its caller to watch.
type Running struct {
	m   atomic.Pointer[miner.Miner]
	fan atomic.Pointer[sink.FanOut]
	an  atomic.Pointer[analyzer.Analyzer]
}

// Live reports whether packets come from an interface (false: a replay).
func (r *Running) Live() bool { return r.m.Load().Live() }

// Progress reports how far capture went.
func (r *Running) Progress() miner.Progress { return r.m.Load().Progress() }

// SinkStats reports how every sink keeps up.
func (r *Running) SinkStats() []sink.QueueStats { return r.fan.Load().Stats() }

// Watched returns the statistics the pipeline watches, in order.
func (r *Running) Watched() []string {
	var names []string
	for _, s := range r.an.Load().Stats() {
		names = append(names, s.Name)
	}
	return names
}

// Run runs the pipeline until the capture file ends or ctx is cancelled
// (SIGINT, SIGTERM, a stop through the API), then lets the sinks deliver
// what is queued (at most CloseTimeout) and saves the detectors.
//
// A configuration received on opt.Reload replaces the running one at the
// next window, as mosquitto and Prometheus reload theirs: the detectors of
// statistics whose parameters did not change go on where they were (with
// their active alarms), changed sinks are closed (delivering what they
// hold) and opened again, and a change of [miner] or of the period restarts
// live capture (a replay keeps its capture settings until it ends). A
// reload that cannot be applied (a sink that cannot open) is logged and
// the running configuration kept.
//
// Errors: a configuration problem is a *config.Problem or
// config.Problems; capture errors are those of the capture package
// (capture.ErrNotFound, capture.ErrFormat, *capture.PermissionError); a sink
// that may not use what it needs wraps fs.ErrPermission.
func Run(ctx context.Context, cfg *Config, opt Options) error {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Stdout == nil {
		opt.Stdout = io.Discard
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	p := &pipe{opt: opt, log: opt.Log, cfg: cfg}
	if opt.Count > 0 || opt.Duration > 0 {
		p.limit = &miner.Limit{Packets: opt.Count, Duration: opt.Duration}
	}
	// The extra sinks belong to the caller's run, not to one fan-out: a
	// reload closes the configured sinks only.
	defer p.closeExtras()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := p.openMiner(cfg); err != nil {
		return err
	}
	defer func() { p.m.Close() }()
	an, err := analyzer.New(cfg.Analyzer, cfg.Spot, analyzer.Options{Log: p.log, RunID: opt.RunID})
	if err != nil {
		return err
	}
	p.an = an
	if p.state, err = openState(cfg.Analyzer, p.log); err != nil {
		return err
	}
	p.state.restore(an)
	defer func() { p.state.close(p.an, opt.Now()) }()
	if p.fan, err = p.openFanOut(cfg); err != nil {
		return err
	}
	p.run.m.Store(p.m)
	p.run.an.Store(p.an)
	p.run.fan.Store(p.fan)
	if opt.Started != nil {
		opt.Started(&p.run)
	}
	p.logStart()

	var runErr error
	for {
		runCtx, stopCapture := context.WithCancel(ctx)
		restart := false
		runErr = p.m.Run(runCtx, func(s *event.Snapshot) {
			select {
			case next := <-opt.Reload:
				if p.reload(next) {
					restart = true
					stopCapture()
				}
			default:
			}
			p.process(ctx, s)
		})
		stopCapture()
		if !restart || runErr != nil || ctx.Err() != nil {
			break
		}
		p.m.Close()
		if runErr = p.openMiner(p.cfg); runErr != nil {
			break
		}
		p.run.m.Store(p.m)
		p.log.Info("capture restarted", "device", p.cfg.Miner.Device, "period", p.cfg.Analyzer.Period)
	}
	closeErr := p.closeFanOut(p.fan)
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		return fmt.Errorf("sinks: %w", closeErr)
	}
	p.log.Info("netspot stopped", "packets", p.m.Progress().Packets)
	return nil
}

// pipe is a running pipeline's parts. Only Run's goroutine uses it.
type pipe struct {
	opt      Options
	log      *slog.Logger
	cfg      *Config
	m        *miner.Miner
	an       *analyzer.Analyzer
	fan      *sink.FanOut
	state    *stateKeeper
	run      Running
	learning learningLog
	limit    *miner.Limit // shared by the miners of a run; nil: none
}

func (p *pipe) openMiner(cfg *Config) error {
	mopts := []miner.Option{miner.WithStdin(p.opt.Stdin), miner.WithLimit(p.limit)}
	if p.opt.Source != nil {
		mopts = append(mopts, miner.WithSource(p.opt.Source))
	}
	m, err := miner.New(cfg.Miner, cfg.Analyzer.Period.D(), p.log, mopts...)
	if err != nil {
		return minerProblem(err)
	}
	p.m = m
	return nil
}

// minerProblem names the key of a miner's configuration error in full.
func minerProblem(err error) error {
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return &config.Problem{Key: "miner." + fe.Key, Err: fe.Err}
	}
	return err
}

// openFanOut opens the enabled sinks of cfg, and the extra sinks, in a new
// fan-out.
func (p *pipe) openFanOut(cfg *Config) (*sink.FanOut, error) {
	fan := p.bareFanOut()
	env := sink.Env{
		Stdout:    p.opt.Stdout,
		Series:    seriesName(cfg.Miner.Device, p.m.Live(), p.opt.Now()),
		Version:   p.opt.Version,
		Live:      p.m.Live(),
		SinkStats: fan.Stats,
	}
	for _, s := range p.an.Stats() {
		env.Watched = append(env.Watched, sink.StatInfo{Name: s.Name, Unit: s.Unit})
	}
	if err := openSinks(fan, cfg.Sinks, env, p.log); err != nil {
		_ = p.closeFanOut(fan)
		return nil, err
	}
	return fan, nil
}

// bareFanOut is a fan-out with the extra sinks only.
func (p *pipe) bareFanOut() *sink.FanOut {
	mode := sink.Replay
	if p.m.Live() {
		mode = sink.Live
	}
	fan := sink.NewFanOut(p.log, mode)
	for _, e := range p.opt.Extra {
		fan.Add(e.Name, keepOpen{e.Sink}, e.Queue)
	}
	return fan
}

// closeFanOut lets the sinks deliver what they hold, for at most
// CloseTimeout, and reports those that lost records.
func (p *pipe) closeFanOut(fan *sink.FanOut) error {
	ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
	defer cancel()
	err := fan.Close(ctx)
	for _, st := range fan.Stats() {
		if st.DroppedRecords > 0 || st.Failed > 0 {
			p.log.Warn("sink summary", "sink", st.Name, "delivered", st.Delivered, "failed", st.Failed,
				"dropped_records", st.DroppedRecords, "dropped_alarms", st.DroppedAlarms)
		}
	}
	return err
}

func (p *pipe) closeExtras() {
	for _, e := range p.opt.Extra {
		_ = e.Sink.Close()
	}
}

// keepOpen is an extra sink as a fan-out holds it: closing the fan-out
// (at a reload) does not close it.
type keepOpen struct{ sink.Sink }

func (keepOpen) Close() error { return nil }

func (p *pipe) logStart() {
	left := p.an.LearningLeft()
	period := p.cfg.Analyzer.Period.D()
	p.log.Info("netspot started", "device", deviceName(p.cfg, p.opt), "period", period,
		"stats", strings.Join(p.run.Watched(), ","), "learning_periods", left,
		"watching_in", (time.Duration(left) * period).String())
	p.learning = learningLog{total: left, log: p.log}
}

// process judges one window and hands its Record to the sinks.
func (p *pipe) process(ctx context.Context, s *event.Snapshot) {
	rec := p.an.Process(s)
	p.learning.update(rec)
	p.fan.Publish(ctx, rec)
	p.state.maybeSave(p.an, p.opt.Now())
}

// reload applies next; it reports whether capture must restart.
func (p *pipe) reload(next *Config) (restart bool) {
	next = next.Clone()
	cur := p.cfg
	captureChanged := !same(&cur.Miner, &next.Miner) || cur.Analyzer.Period != next.Analyzer.Period
	if captureChanged && !p.m.Live() {
		p.log.Warn("reload: [miner] and the period apply to a replay at its next start; the other changes apply now")
		next.Miner, next.Analyzer.Period = p.cfg.Miner, p.cfg.Analyzer.Period
		captureChanged = false
	}
	if p.opt.Source != nil {
		next.Miner = p.cfg.Miner
	}
	analyzerChanged := captureChanged || !same(&cur.Analyzer, &next.Analyzer) || !same(&cur.Spot, &next.Spot)
	sinksChanged := !slices.Equal(cur.Analyzer.Watched(), next.Analyzer.Watched())
	for i := range next.Sinks {
		sinksChanged = sinksChanged || !same(cur.Sinks[i].Config, next.Sinks[i].Config)
	}
	if !analyzerChanged && !sinksChanged && !captureChanged {
		p.log.Info("reload: configuration unchanged")
		return false
	}

	// Everything that can fail comes first: a reload that fails changes
	// nothing. The new capture is checked, not opened: two live captures
	// of one fan-out group would share its packets.
	if captureChanged && p.opt.Source == nil {
		if err := miner.Check(next.Miner, next.Analyzer.Period.D()); err != nil {
			p.log.Error("reload refused: the running configuration is kept", "err", minerProblem(err))
			return false
		}
	}
	an, state := p.an, p.state
	if analyzerChanged {
		var err error
		an, err = analyzer.New(next.Analyzer, next.Spot, analyzer.Options{Log: p.log})
		if err != nil {
			p.log.Error("reload refused: the running configuration is kept", "err", err)
			return false
		}
		if next.Analyzer.StateFile != p.cfg.Analyzer.StateFile {
			if state, err = openState(next.Analyzer, p.log); err != nil {
				p.log.Error("reload refused: the running configuration is kept", "err", err)
				return false
			}
		}
	}
	if sinksChanged {
		// The sinks learn the watched statistics when they open (MQTT's
		// discovery): another list of statistics means new sinks. The
		// former close first, as the new may need what they hold (the
		// MQTT store's lock, the Prometheus port); if the new cannot open,
		// the former open again.
		if err := p.closeFanOut(p.fan); err != nil {
			p.log.Warn("reload: the former sinks did not close cleanly", "err", err)
		}
		old := p.an
		p.an = an
		fan, err := p.openFanOut(next)
		p.an = old
		if err != nil {
			if state != p.state {
				state.close(nil, p.opt.Now())
			}
			p.log.Error("reload refused: the running configuration is kept", "err", err)
			if p.fan, err = p.openFanOut(cur); err != nil {
				p.log.Error("the former sinks do not open again: until the next reload, records go to none of them", "err", err)
				p.fan = p.bareFanOut()
			}
			p.run.fan.Store(p.fan)
			return false
		}
		p.fan = fan
		p.run.fan.Store(fan)
	}

	if an != p.an {
		relearning := an.Adopt(p.an)
		p.log.Info("reload: detectors kept", "learning_again", strings.Join(relearning, ","))
		p.an = an
		p.run.an.Store(an)
	}
	if state != p.state {
		p.state.close(p.an, p.opt.Now())
		p.state = state
	}
	p.cfg = next
	p.log.Info("configuration reloaded", "restart_capture", captureChanged)
	p.learning = learningLog{total: p.an.LearningLeft(), log: p.log}
	return captureChanged
}

// same reports whether two sections hold the same values.
func same(a, b any) bool {
	var ta, tb bytes.Buffer
	if config.Render(&ta, config.Section{Value: a}) != nil || config.Render(&tb, config.Section{Value: b}) != nil {
		return false
	}
	return bytes.Equal(ta.Bytes(), tb.Bytes())
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
	if device == miner.StdinDevice {
		return "stdin"
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

// update logs the progress of r's window; the analyzer itself says when
// each statistic starts judging, and when every one does.
func (l *learningLog) update(r *event.Record) {
	if l.total == 0 || r.LearningLeft == 0 {
		return
	}
	tenths := 10 * (l.total - r.LearningLeft) / l.total
	if tenths > l.logged {
		l.logged = tenths
		l.log.Info("learning", "done_percent", 10*tenths, "values_left", r.LearningLeft)
	}
}

// Runner runs pipelines for the API of `netspot serve`, one at a time, each
// with the API's live feed as one more sink.
type Runner struct {
	// Options of every run; Extra, Started and Reload are set by Run.
	Options Options
	running atomic.Pointer[Running]
}

// Run runs the pipeline with cfg and feed beside the configured sinks,
// calls ready once capture has started, and applies the configurations
// received on reload.
func (r *Runner) Run(ctx context.Context, cfg *Config, feed sink.Sink, ready func(), reload <-chan *Config) error {
	opt := r.Options
	opt.Extra = append(slices.Clone(opt.Extra), Extra{Name: "api", Sink: feed})
	opt.Reload = reload
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
