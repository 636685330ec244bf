// Package api is netspot's HTTP server for `netspot serve`: a versioned JSON
// API to read the status, change the configuration, start and stop the
// pipeline and read the recent records and alarms; a live stream of records
// and alarms as Server-Sent Events; and a dashboard page embedded in the
// binary that uses them.
//
// The server drives the pipeline through a Runner that the command provides,
// and receives the pipeline's Records through a sink.Sink it hands to the
// Runner at each start. It keeps a bounded window of recent records and
// alarms for the dashboard; every live client has a bounded queue, and a
// client that falls behind is disconnected (it resumes from the recent
// records when it reconnects), so that no client can slow the pipeline down.
//
// Endpoints, under /api/v1 (every answer is JSON; errors are
// {"error": "..."} with the status code that fits):
//
//	GET   /ping      the server answers (no token needed)
//	GET   /health    200 when capture works or was stopped on purpose, 503 otherwise
//	GET   /status    state, current run, counters, sinks, stream clients
//	GET   /config    the configuration (?format=toml for the TOML text)
//	PUT   /config    replace it (TOML or JSON body; ?dry_run=true to check only)
//	PATCH /config    change some keys (JSON, nested or "section.key", or TOML)
//	POST  /start     start the pipeline with the configuration
//	POST  /stop      stop it, waiting until its sinks are flushed
//	GET   /stats     the statistics netspot can watch
//	GET   /devices   the network interfaces it can capture from
//	GET   /records   recent records (?since=SEQ&limit=N)
//	GET   /alarms    active alarms and the alarm history (?limit=N)
//	GET   /stream    live records, alarms and status (text/event-stream)
//
// The original netspot's unversioned routes (/api/ping, /api/config,
// /api/run, /api/stats, /api/devices) are kept with their answers, so that
// its scripts and client keep working.
//
// Security: with a token configured every request but ping and the page's
// files needs "Authorization: Bearer TOKEN"; requests from other web
// origins that change something are refused (CSRF), and on a loopback
// endpoint only loopback host names are accepted (DNS rebinding).
package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"netspot/core/config"
	"netspot/core/pipeline"
	"netspot/core/sink"
)

// Options are the parts of a Server that are not configuration.
type Options struct {
	Log     *slog.Logger // nil discards
	Version string       // shown by the status
	// Config is the configuration the server starts with (the config
	// file's); Defaults() when nil.
	Config *pipeline.Config
	// Defaults returns netspot's default configuration: what a PUT of a
	// partial document starts from.
	Defaults func() *pipeline.Config
	// Now is the wall clock (uptimes, stalled capture); time.Now if nil.
	Now func() time.Time
	// Devices lists the capture devices; the machine's network interfaces
	// if nil.
	Devices func() ([]Device, error)
	// Epoch names this server's stream positions, so that a client
	// resuming after a restart of the server starts again; random if "".
	Epoch string
	// KeepAlive is how often an idle live stream gets a comment, so that
	// proxies and browsers keep it open; 15 s if zero.
	KeepAlive time.Duration
}

// Errors of Start and Stop.
var (
	ErrRunning    = errors.New("the pipeline is already running")
	ErrNotRunning = errors.New("the pipeline is not running")
	ErrClosed     = errors.New("the server is shutting down")
)

// StartError is a pipeline that could not start: bad device, missing
// permission, invalid configuration.
type StartError struct{ Err error }

func (e *StartError) Error() string { return "the pipeline could not start: " + e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// Server is the API and dashboard, and the owner of the pipeline's runs.
type Server struct {
	cfg       Config
	token     string
	runner    Runner
	log       *slog.Logger
	version   string
	now       func() time.Time
	devices   func() ([]Device, error)
	keepAlive time.Duration
	started   time.Time
	feed      *feed
	handler   http.Handler

	// base ends with the server: it stops the pipeline and the streams.
	base       context.Context
	cancelBase context.CancelFunc

	defaults func() *pipeline.Config
	// readOnly says why changes are refused; "" when they are allowed.
	readOnly string
	// fileDevice is the capture device of the config file, which the
	// API's rules do not apply to (the administrator chose it).
	fileDevice string

	statusMu sync.Mutex // orders status events

	mu   sync.Mutex
	conf *pipeline.Config
	runs int
	run  *run // current or last run
}

// run is one run of the pipeline; its fields after done are guarded by
// Server.mu.
type run struct {
	id      int
	conf    *pipeline.Config
	started time.Time
	cancel  context.CancelFunc
	ready   chan struct{} // closed when capture started
	done    chan struct{} // closed when the Runner returned
	reload  chan *pipeline.Config

	isReady  bool
	stopping bool
	ended    time.Time
	end      string
	err      error
}

func (r *run) over() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// New returns a server with the [api] section cfg (validated here; errors
// name the key) driving r.
func New(cfg Config, r Runner, opt Options) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	token, err := cfg.LoadToken()
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errors.New("api: no runner")
	}
	if opt.Defaults == nil {
		opt.Defaults = func() *pipeline.Config { return pipeline.New() }
	}
	conf := opt.Config
	if conf == nil {
		conf = opt.Defaults()
	}
	if err := conf.Validate(); err != nil {
		return nil, fmt.Errorf("api: initial configuration: %w", err)
	}
	s := &Server{
		cfg: cfg, token: token, runner: r, log: opt.Log, version: opt.Version,
		now: opt.Now, devices: opt.Devices, keepAlive: opt.KeepAlive, conf: conf.Clone(),
		defaults: opt.Defaults, fileDevice: conf.Miner.Device,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if network, _, _ := ParseEndpoint(cfg.Endpoint); network != "unix" && token == "" {
		s.readOnly = "the API listens on TCP without a token, so it is read-only: set [api] token (or token_file), " +
			"or listen on a Unix socket (endpoint = \"unix:///run/netspot/api.sock\"), to change the configuration or start and stop capture through it"
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.devices == nil {
		s.devices = systemDevices
	}
	if s.keepAlive <= 0 {
		s.keepAlive = 15 * time.Second
	}
	epoch := opt.Epoch
	if epoch == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		epoch = hex.EncodeToString(b[:])
	}
	s.started = s.now()
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.feed = newFeed(cfg, epoch, s.now, s.statusChanged)
	s.handler = s.routes()
	return s, nil
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Timeouts of the HTTP server and of shutting down.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second // a whole request, body included; answers are not bounded (streams)
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 20 * time.Second
)

// Serve answers requests on l until ctx ends, then stops the pipeline,
// ends the live streams and waits for the requests in progress.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		s.log.Info("shutting down: stopping the pipeline and the live streams")
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	closeErr := s.Close(stopCtx)
	if serveErr != nil {
		return fmt.Errorf("api: %w", serveErr)
	}
	if err := srv.Shutdown(stopCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("api: shutdown: %w", err)
	}
	<-errc
	return closeErr
}

// Close stops the pipeline (waiting for it until ctx ends) and ends the
// live streams; the server refuses to start the pipeline afterwards.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	r := s.run
	s.mu.Unlock()
	var err error
	if r != nil && !r.over() {
		if err = s.Stop(ctx); errors.Is(err, ErrNotRunning) {
			err = nil
		}
	}
	s.cancelBase()
	return err
}

// Config returns a copy of the configuration the next start uses.
func (s *Server) Config() *pipeline.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conf.Clone()
}

// SetConfig decodes doc over the current configuration (merge) or over the
// defaults, and unless dryRun makes the result the configuration of the
// next start. doc is Restricted: it may not change file paths, credentials
// or endpoints. It reports whether the running pipeline uses another
// configuration. Problems are config.Problems.
func (s *Server) SetConfig(doc *config.Document, merge, dryRun bool) (*pipeline.Config, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var c *pipeline.Config
	if merge {
		c = s.conf.Clone()
	} else {
		c = s.defaults()
		// What the API may not change keeps its value from the file.
		keepRestricted(c, s.conf)
	}
	doc.Restricted = true
	served := s.cfg
	if err := doc.Decode(append(c.Sections(), apiSection(&served))...); err != nil {
		return nil, false, err
	}
	if c.Miner.Device != s.conf.Miner.Device {
		if err := s.checkDevice(c.Miner.Device); err != nil {
			return nil, false, config.Problems{{Key: "miner.device", Err: err, Forbidden: true}}
		}
	}
	if !dryRun {
		s.conf = c
	}
	restart := s.run != nil && !s.run.over() && !sameConfig(s.run.conf, c)
	if !dryRun {
		s.log.Info("configuration changed", "restart_required", restart)
		go s.statusChanged()
	}
	return c, restart, nil
}

// Reload makes c the configuration (the config file read again on SIGHUP)
// and has the running pipeline, if any, apply it: changes made through the
// API since are replaced by the file's.
func (s *Server) Reload(c *pipeline.Config) {
	s.mu.Lock()
	s.conf = c.Clone()
	s.fileDevice = c.Miner.Device // the file's device is trusted, as at the start
	r := s.run
	if r != nil && !r.over() {
		// Only the latest matters: one waiting is replaced.
		select {
		case <-r.reload:
		default:
		}
		r.reload <- c.Clone()
		r.conf = c.Clone()
	}
	s.mu.Unlock()
	s.log.Info("configuration reloaded from the config file", "running", r != nil && !r.over())
	s.statusChanged()
}

// Start starts the pipeline with the current configuration and returns once
// capture has started, or the *StartError that kept it from starting.
// If ctx ends first, the start goes on and ctx's error is returned.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.base.Err() != nil {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.run != nil && !s.run.over() {
		s.mu.Unlock()
		return ErrRunning
	}
	// A capture file chosen through the API is checked again as the run
	// starts: in between, it could have been replaced by a link to a file
	// outside capture_dir.
	if dev := s.conf.Miner.Device; dev != s.fileDevice {
		if err := s.checkDevice(dev); err != nil {
			s.mu.Unlock()
			return &StartError{Err: config.Problems{{Key: "miner.device", Err: err, Forbidden: true}}}
		}
	}
	s.runs++
	runCtx, cancel := context.WithCancel(s.base)
	r := &run{id: s.runs, conf: s.conf.Clone(), started: s.now(), cancel: cancel,
		ready: make(chan struct{}), done: make(chan struct{}), reload: make(chan *pipeline.Config, 1)}
	s.run = r
	conf := r.conf // Reload replaces r.conf under s.mu
	feedSink := s.feed.beginRun(r.id)
	s.mu.Unlock()
	s.log.Info("pipeline starting", "run", r.id, "device", conf.Miner.Device, "period", conf.Analyzer.Period)
	s.statusChanged()

	var once sync.Once
	ready := func() {
		once.Do(func() {
			s.mu.Lock()
			r.isReady = true
			s.mu.Unlock()
			close(r.ready)
			s.statusChanged()
		})
	}
	go s.runPipeline(runCtx, r, conf.Clone(), feedSink, ready)
	select {
	case <-r.ready:
		return nil
	case <-r.done:
		s.mu.Lock()
		err, started := r.err, r.isReady
		s.mu.Unlock()
		if started { // a short file: capture started and ended already
			return nil
		}
		if err == nil {
			err = errors.New("the pipeline ended before capture started")
		}
		return &StartError{Err: err}
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) runPipeline(ctx context.Context, r *run, conf *pipeline.Config, feedSink sink.Sink, ready func()) {
	err := s.runner.Run(ctx, conf, feedSink, ready, r.reload)
	r.cancel()
	s.mu.Lock()
	r.ended = s.now()
	switch {
	case r.stopping && (err == nil || errors.Is(err, context.Canceled)):
		r.end, err = EndStopped, nil
	case err != nil:
		r.end = EndFailed
	case s.base.Err() != nil:
		r.end = EndStopped
	default:
		r.end = EndFinished
	}
	r.err = err
	s.mu.Unlock()
	s.feed.endRun(r.id)
	close(r.done)
	if err != nil {
		s.log.Error("pipeline failed", "run", r.id, "err", err)
	} else {
		s.log.Info("pipeline ended", "run", r.id, "end", r.end)
	}
	s.statusChanged()
}

// Stop stops the pipeline and waits until it has ended (its sinks
// flushed) or ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	r := s.run
	if r == nil || r.over() {
		s.mu.Unlock()
		return ErrNotRunning
	}
	first := !r.stopping
	r.stopping = true
	s.mu.Unlock()
	if first {
		s.log.Info("pipeline stopping", "run", r.id)
		r.cancel()
		s.statusChanged()
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status describes the server and the pipeline now.
func (s *Server) Status() Status {
	now := s.now()
	s.mu.Lock()
	st := Status{Version: s.version, Uptime: now.Sub(s.started).Seconds(), Config: summary(s.conf),
		ReadOnly: s.readOnly != "", ReadOnlyReason: s.readOnly}
	r := s.run
	var rs *RunStatus
	var ready, stopping, over bool
	if r != nil {
		over = r.over()
		ready, stopping = r.isReady, r.stopping
		rs = &RunStatus{ID: r.id, Config: summary(r.conf), Started: r.started, End: r.end}
		end := now
		if over {
			end = r.ended
			ended := r.ended
			rs.Ended = &ended
			if r.err != nil {
				rs.Error = r.err.Error()
			}
		}
		rs.Uptime = end.Sub(r.started).Seconds()
		st.RestartRequired = !over && !sameConfig(r.conf, s.conf)
	}
	s.mu.Unlock()

	c, active, stream := s.feed.snapshot()
	st.Stream = stream
	st.State = Stopped
	if rs == nil {
		return st
	}
	rs.Windows, rs.Packets, rs.Dropped, rs.Malformed = c.windows, c.packets, c.dropped, c.malformed
	if c.learningLeft >= 0 {
		left := c.learningLeft
		rs.LearningLeft = &left
	}
	rs.LearningTotal = c.learningTotal
	if !c.lastEnd.IsZero() {
		end := c.lastEnd
		rs.LastWindowEnd = &end
	}
	rs.CaptureError = c.captureErr
	rs.ActiveAlarms = active
	st.Run = rs
	switch {
	case over && rs.Error != "":
		st.State = Failed
	case over:
		st.State = Stopped
	case stopping:
		st.State = Stopping
	case !ready:
		st.State = Starting
	case c.learningLeft == 0:
		st.State = Watching
	default:
		st.State = Learning
	}
	st.Running = !over
	if rep, ok := s.runner.(SinkReporter); ok && !over {
		for _, q := range rep.SinkStats() {
			st.Sinks = append(st.Sinks, SinkStats{Name: q.Name, Queued: q.Queued, Delivered: q.Delivered,
				Failed: q.Failed, DroppedRecords: q.DroppedRecords, DroppedAlarms: q.DroppedAlarms})
		}
	}
	return st
}

// checkDevice allows, as the capture device chosen through the API, a
// network interface of this machine, or a capture file inside [api]
// capture_dir: never any other file, which netspot, running as root, would
// open for whoever asks.
func (s *Server) checkDevice(device string) error {
	devs, err := s.devices()
	if err == nil {
		for _, d := range devs {
			if d.Name == device {
				return nil
			}
		}
	}
	if s.cfg.CaptureDir == "" {
		return fmt.Errorf("%q is not a network interface of this machine; capture files can be chosen through the API only inside [api] capture_dir, which is not set (edit the config file over SSH)", device)
	}
	if inside(s.cfg.CaptureDir, device) {
		return nil
	}
	return fmt.Errorf("%q is neither a network interface of this machine nor a capture file inside [api] capture_dir (%s)", device, s.cfg.CaptureDir)
}

// inside reports whether path names a regular file under dir, symbolic
// links resolved.
func inside(dir, path string) bool {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	p, err := filepath.EvalSymlinks(path)
	if err != nil || !filepath.IsAbs(p) {
		return false
	}
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// apiSection is the [api] section as the API shows it: read-only.
func apiSection(c *Config) config.Section {
	return config.Section{Key: "api", Value: c, Comment: "HTTP API and dashboard of netspot serve (read-only here: it applies when netspot serve starts)"}
}

func summary(c *pipeline.Config) ConfigSummary {
	return ConfigSummary{Device: c.Miner.Device, Period: c.Analyzer.Period, Stats: c.Analyzer.Watched()}
}

// sameConfig reports whether two configurations hold the same values.
func sameConfig(a, b *pipeline.Config) bool {
	var ta, tb bytes.Buffer
	if config.Render(&ta, a.Sections()...) != nil || config.Render(&tb, b.Sections()...) != nil {
		return false
	}
	return bytes.Equal(ta.Bytes(), tb.Bytes())
}

// keepRestricted copies into c the values of from's keys that the API may
// not change, so that a PUT of a partial configuration keeps the file's
// paths and credentials instead of resetting them to the defaults.
func keepRestricted(c, from *pipeline.Config) {
	config.CopyRestricted(c.Sections(), from.Sections())
}

// statusChanged sends the status to the live clients. Status events are
// sent in the order of the changes.
func (s *Server) statusChanged() {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	b, err := json.Marshal(s.Status())
	if err != nil {
		s.log.Error("status encoding", "err", err)
		return
	}
	s.feed.publishStatus(b)
}
