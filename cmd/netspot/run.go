package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"netspot/core/analyzer"
	"netspot/core/capture"
	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/miner"
	"netspot/core/sink"
	"netspot/core/sink/console"
	"netspot/core/sink/file"
	"netspot/core/sink/influxdb"
	"netspot/core/sink/prometheus"
	"netspot/core/sink/socket"
	"netspot/core/stats"
	"netspot/mqtt"
)

// closeTimeout bounds how long sinks may take to flush at exit.
const closeTimeout = 10 * time.Second

func cmdRun(ctx context.Context, e *env, args []string) error {
	def := DefaultConfig()
	fs := newFlags("run", "netspot run [options]",
		"Watch a network interface, or replay a capture file (pcap, pcapng) as fast as possible,\n"+
			"and report statistics and alarms. Options override the config file; the defaults\n"+
			"shown are those used when neither sets a value.")
	configPath := fs.StringP("config", "c", "", "config file (TOML; netspot defaults prints a complete one)")
	device := fs.StringP("miner.device", "d", def.Miner.Device, "interface name or capture file")
	period := fs.DurationP("analyzer.period", "p", def.Analyzer.Period.D(), "length of a window")
	statNames := fs.StringSliceP("analyzer.stats", "s", nil, "statistic to watch (repeatable or comma-separated; default: "+strings.Join(def.Analyzer.Watched(), ",")+")")
	verbose := fs.BoolP("verbose", "v", false, "print data records and alarms to stdout")
	fileData := fs.StringP("exporter.file.data", "f", def.Exporter.File.Data, "file receiving data records (%s: series name)")
	logLevel := fs.StringP("log-level", "l", "info", "log level: debug, info, warn, error")
	promisc := fs.Bool("miner.promiscuous", def.Miner.Promiscuous, "put the interface in promiscuous mode")
	snaplen := fs.Int("miner.snapshot_len", def.Miner.SnapshotLen, "bytes captured per packet")
	filter := fs.String("miner.filter", def.Miner.Filter, "capture filter (tcpdump syntax subset, see the README)")
	if err := fs.parse(e, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("run: unexpected argument %q (the device is given with -d)", fs.Arg(0))
	}
	level, err := parseLogLevel(*logLevel)
	if err != nil {
		return usageErrorf("run: --log-level: %v", err)
	}

	cfg := def
	if *configPath != "" {
		if cfg, err = loadConfigFile(*configPath); err != nil {
			return withCode(exitConfig, err)
		}
	}
	// Flags given on the command line win over the file.
	changed := fs.Changed
	if changed("miner.device") {
		cfg.Miner.Device = *device
	}
	if changed("analyzer.period") {
		cfg.Analyzer.Period = config.Duration(*period)
	}
	if changed("analyzer.stats") {
		cfg.Analyzer.Stats = *statNames
	}
	if *verbose {
		cfg.Exporter.Console.Data, cfg.Exporter.Console.Alarm = true, true
	}
	if changed("exporter.file.data") {
		cfg.Exporter.File.Data = *fileData
	}
	if changed("miner.promiscuous") {
		cfg.Miner.Promiscuous = *promisc
	}
	if changed("miner.snapshot_len") {
		cfg.Miner.SnapshotLen = *snaplen
	}
	if changed("miner.filter") {
		cfg.Miner.Filter = *filter
	}
	if err := cfg.Validate(); err != nil {
		return withCode(exitConfig, fmt.Errorf("run: %w", err))
	}

	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	return runPipeline(ctx, e, &cfg, log, pipelineHooks{})
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("unknown level %q (debug, info, warn, error)", s)
	}
	return l, nil
}

// captureError maps capture failures to their exit codes.
func captureError(err error) error {
	var perm *capture.PermissionError
	switch {
	case errors.As(err, &perm):
		return withCode(exitPermission, err)
	case errors.Is(err, capture.ErrNotFound), errors.Is(err, capture.ErrFormat):
		return withCode(exitInput, err)
	}
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return withCode(exitConfig, config.Within("miner", err))
	}
	return err
}

// namedSink is a sink added by the caller of runPipeline (the API server's
// live feed), beside those the config enables.
type namedSink struct {
	name string
	sink sink.Sink
}

// pipelineHooks let another command (serve) take part in a pipeline.
type pipelineHooks struct {
	extra []namedSink // sinks added beside those the config enables
	// started is called once capture is open and every sink added, with
	// the fan-out, whose delivery counters the caller may then read.
	started func(*sink.FanOut)
}

// runPipeline wires capture → analyzer → fan-out → sinks and runs until
// the capture file ends or ctx is cancelled (SIGINT, SIGTERM).
func runPipeline(ctx context.Context, e *env, cfg *Config, log *slog.Logger, hooks pipelineHooks) error {
	// The caller's sinks go first, so that they are closed whatever fails.
	fan := sink.NewFanOut(log)
	for _, s := range hooks.extra {
		fan.Add(s.name, s.sink, 0)
	}
	fail := func(err error) error {
		_ = fan.Close(context.Background())
		return err
	}
	period := cfg.Analyzer.Period.D()
	m, err := miner.New(cfg.Miner, period, log)
	if err != nil {
		return fail(captureError(err))
	}
	defer m.Close()

	an, err := analyzer.New(cfg.Analyzer, cfg.Spot, analyzer.Options{Log: log})
	if err != nil {
		return fail(withCode(exitConfig, err))
	}
	state := &stateKeeper{path: cfg.Analyzer.StateFile, every: cfg.Analyzer.SaveEvery.D(), an: an, log: log}
	state.restore()

	series := seriesName(cfg.Miner.Device, m.Live(), time.Now())
	if err := addSinks(fan, e, cfg, series, an.Stats(), log); err != nil {
		return fail(err)
	}
	if hooks.started != nil {
		hooks.started(fan)
	}

	names := make([]string, 0, len(an.Stats()))
	for _, s := range an.Stats() {
		names = append(names, s.Name)
	}
	left := an.LearningLeft()
	log.Info("netspot started", "device", cfg.Miner.Device, "period", period,
		"stats", strings.Join(names, ","), "learning_periods", left,
		"watching_in", (time.Duration(left) * period).String())

	state.start()
	stopProgress := startProgress(e, m)
	learning := learningLog{total: left, log: log}
	runErr := m.Run(ctx, func(s *event.Snapshot) {
		rec := an.Process(s)
		learning.update(rec)
		fan.Publish(rec)
		state.maybeSave(time.Now())
	})
	stopProgress()

	closeCtx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	closeErr := fan.Close(closeCtx)
	state.stop(time.Now())
	for _, st := range fan.Stats() {
		if st.DroppedRecords > 0 || st.Failed > 0 {
			log.Warn("sink summary", "sink", st.Name, "delivered", st.Delivered, "failed", st.Failed,
				"dropped_records", st.DroppedRecords, "dropped_alarms", st.DroppedAlarms)
		}
	}
	if runErr != nil {
		return captureError(runErr)
	}
	if closeErr != nil {
		return fmt.Errorf("run: %w", closeErr)
	}
	p := m.Progress()
	log.Info("netspot stopped", "packets", p.Packets)
	return nil
}

// learningLog reports calibration progress in tenths, so that someone
// watching the log of a new box knows when it starts watching.
type learningLog struct {
	total  int
	logged int // tenths already reported
	log    *slog.Logger
}

func (l *learningLog) update(r *event.Record) {
	if l.total == 0 || r.LearningLeft == 0 {
		return
	}
	tenths := 10 * (l.total - r.LearningLeft) / l.total
	if tenths > l.logged {
		l.logged = tenths
		l.log.Info("learning", "done_percent", 10*tenths, "periods_left", r.LearningLeft)
	}
}

// addSinks adds every enabled sink to the fan-out. On error, the sinks
// already added are closed by the caller's fan.Close.
func addSinks(fan *sink.FanOut, e *env, cfg *Config, series string, watched []stats.Stat, log *slog.Logger) error {
	if cfg.Exporter.Console.Enabled() {
		fan.Add("console", console.New(cfg.Exporter.Console, e.stdout), 0)
	}
	if cfg.Exporter.File.Enabled() {
		f, err := file.New(cfg.Exporter.File, series)
		if err != nil {
			return withCode(exitConfig, config.Within("exporter.file", err))
		}
		fan.Add("file", f, 0)
	}
	if cfg.Exporter.Socket.Enabled() {
		s, err := socket.New(cfg.Exporter.Socket, series, socket.Options{Log: log.With("sink", "socket")})
		if err != nil {
			return withCode(exitConfig, config.Within("exporter.socket", err))
		}
		fan.Add("socket", s, 0)
	}
	if cfg.Exporter.InfluxDB.Enabled() {
		s, err := influxdb.New(cfg.Exporter.InfluxDB, series, influxdb.Options{Log: log.With("sink", "influxdb")})
		if err != nil {
			return withCode(exitConfig, config.Within("exporter.influxdb", err))
		}
		fan.Add("influxdb", s, 0)
	}
	if cfg.Exporter.Prometheus.Enabled {
		// The sink reads the fan-out's counters only once records flow,
		// after every sink has been added.
		s, err := prometheus.New(cfg.Exporter.Prometheus, prometheus.Options{
			Log: log.With("sink", "prometheus"), SinkStats: fan.Stats, Version: version})
		if err != nil {
			return withCode(exitConfig, config.Within("exporter.prometheus", err))
		}
		fan.Add("prometheus", s, 0)
	}
	var broker *mqtt.Sink
	if cfg.Exporter.MQTT.Enabled {
		info := mqtt.Info{Version: version}
		for _, s := range watched {
			info.Stats = append(info.Stats, mqtt.StatInfo{Name: s.Name, Unit: s.Unit})
		}
		var err error
		broker, err = mqtt.New(cfg.Exporter.MQTT, info, log.With("sink", "mqtt"))
		if err != nil {
			return withCode(exitConfig, config.Within("exporter.mqtt", err))
		}
		fan.Add("mqtt", broker, 0)
	}
	if cfg.Board.Enabled {
		b, err := openBoard(cfg.Board, log)
		if err != nil {
			return err
		}
		if broker != nil {
			b.SetUplink(broker.Connected)
		}
		fan.Add("board", b, 0)
	}
	return nil
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

// stateKeeper saves the detectors to a file now and then, and restores them
// at start, so that a restart resumes watching. The state is taken in the
// pipeline's goroutine (in memory, quickly) and written by a goroutine of
// its own, so that a slow SD card never holds capture up.
type stateKeeper struct {
	path  string
	every time.Duration
	an    *analyzer.Analyzer
	log   *slog.Logger
	last  time.Time

	pending chan []byte   // capacity 1: the latest state waiting to be written
	written chan struct{} // closed when the writer has finished
}

func (k *stateKeeper) restore() {
	if k.path == "" {
		return
	}
	f, err := os.Open(k.path)
	if errors.Is(err, os.ErrNotExist) {
		k.log.Info("no saved detector state: learning from scratch", "state_file", k.path)
		return
	}
	if err != nil {
		k.log.Warn("cannot read detector state: learning from scratch", "err", err)
		return
	}
	defer f.Close()
	rep, err := k.an.LoadState(f)
	if err != nil {
		k.log.Warn("ignoring detector state: learning from scratch", "err", err)
		return
	}
	k.log.Info("detector state restored", "saved", rep.Saved, "restored", len(rep.Restored), "learning", len(rep.Skipped))
	for name, why := range rep.Skipped {
		k.log.Info("detector learns from scratch", "stat", name, "reason", why)
	}
}

// start runs the writer.
func (k *stateKeeper) start() {
	if k.path == "" {
		return
	}
	k.pending = make(chan []byte, 1)
	k.written = make(chan struct{})
	go func() {
		defer close(k.written)
		for b := range k.pending {
			k.write(b)
		}
	}()
}

// maybeSave hands the state to the writer when save_every has passed. A
// state still waiting is replaced: only the latest matters.
func (k *stateKeeper) maybeSave(now time.Time) {
	if k.path == "" {
		return
	}
	if k.last.IsZero() {
		k.last = now
		return
	}
	if now.Sub(k.last) < k.every {
		return
	}
	k.last = now
	b, ok := k.snapshot(now)
	if !ok {
		return
	}
	select {
	case k.pending <- b:
	default:
		// Only this goroutine sends: once the old state is taken out,
		// there is room.
		select {
		case <-k.pending:
		default:
		}
		k.pending <- b
	}
}

// stop waits for the writer, then saves the final state.
func (k *stateKeeper) stop(now time.Time) {
	if k.path == "" {
		return
	}
	close(k.pending)
	<-k.written
	if b, ok := k.snapshot(now); ok {
		k.write(b)
	}
}

func (k *stateKeeper) snapshot(now time.Time) ([]byte, bool) {
	var buf bytes.Buffer
	if err := k.an.SaveState(&buf, now); err != nil {
		k.log.Error("cannot save detector state", "err", err)
		return nil, false
	}
	return buf.Bytes(), true
}

// write puts the state in a temporary file and renames it over the old
// one, so that a crash never leaves a half-written state.
func (k *stateKeeper) write(b []byte) {
	tmp := k.path + ".tmp"
	err := func() error {
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(tmp, k.path)
	}()
	if err != nil {
		k.log.Error("cannot save detector state", "state_file", k.path, "err", err)
		_ = os.Remove(tmp)
	}
}
