// Package prometheus serves netspot's state on /metrics in the Prometheus
// text exposition format (the [exporter.prometheus] section): the latest
// value and thresholds of every statistic, the learning state, the alarms
// raised and active, the packets seen, dropped and malformed, and, when the
// program passes them, the delivery counters of every sink.
//
// Undefined values are left out rather than exposed as NaN: a statistic that
// is 0/0 in a window, or a threshold of a side that is not watched or still
// learning, has no sample, so that sums and comparisons in PromQL stay
// numbers and a graph shows a gap where there was nothing to show.
//
// The exposition is written by hand: it is a few lines per metric, and the
// official client library would add a dozen packages to a binary meant for
// small boards, for features (registries, histograms, protobuf) netspot does
// not use.
package prometheus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/metrics"
	"slices"
	"sync"
	"time"

	"netspot/core/event"
	"netspot/core/sink"
)

// Options are what the sink needs from the program.
type Options struct {
	// Log receives the server's errors; nil discards them.
	Log *slog.Logger
	// Listener, when set, is served instead of listening on cfg.Listen.
	Listener net.Listener
	// SinkStats, when set, is called at each scrape for the sinks' delivery
	// counters (the fan-out's Stats method). It is called only once a Record
	// has been written, hence after the last FanOut.Add: the sink may be
	// created, and scraped, while the fan-out is still being assembled.
	SinkStats func() []sink.QueueStats
	// Version, when set, is exposed as netspot_build_info{version="…"}.
	Version string
}

// stat is the latest state of one statistic.
type stat struct {
	name            string
	value, up, down float64
	learning, alarm bool
}

type alarmKey struct {
	stat string
	side event.Side
}

type alarmCount struct {
	n    uint64
	last time.Time // end of the window of the last alarm; zero if none
}

// Sink keeps the latest Record's values and running counts, and serves
// them over HTTP.
type Sink struct {
	log       *slog.Logger
	srv       *http.Server
	ln        net.Listener
	served    chan error
	sinkStats func() []sink.QueueStats
	version   string

	mu             sync.Mutex
	stats          []stat
	alarms         map[alarmKey]*alarmCount
	alarmKeys      []alarmKey // sorted
	learningLeft   int
	windows        uint64 // Records written; 0 before the first
	packets        uint64
	dropped        uint64
	malformed      uint64
	lastEnd        time.Time
	captureFailing bool
	failedWindows  uint64
	runtime        []metrics.Sample
	closeOnce      sync.Once
	closeErr       error
}

// Timeouts of the HTTP server: a scrape is a short request.
const (
	readTimeout  = 10 * time.Second
	writeTimeout = 10 * time.Second
	closeTimeout = 2 * time.Second
)

// New starts serving /metrics on cfg.Listen (or opts.Listener). An invalid
// address is a *config.FieldError for "listen"; one that cannot be
// listened on (a port in use) is an error of the system, wrapped.
func New(cfg Config, opts Options) (*Sink, error) {
	s := &Sink{
		log: opts.Log, sinkStats: opts.SinkStats, version: opts.Version,
		alarms: make(map[alarmKey]*alarmCount),
		served: make(chan error, 1),
		runtime: []metrics.Sample{
			{Name: "/sched/goroutines:goroutines"},
			{Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/memory/classes/total:bytes"},
		},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ln = opts.Listener
	if s.ln == nil {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			// A port in use (another exporter, the previous netspot not
			// yet gone) or an address not yet configured is a failure
			// of the moment that a restart overcomes, not a mistake in
			// the file: it is not a *config.FieldError.
			return nil, fmt.Errorf("cannot serve /metrics on %s: %w", cfg.Listen, err)
		}
		s.ln = ln
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", s.serveMetrics)
	mux.HandleFunc("/", serveIndex)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go func() {
		err := s.srv.Serve(s.ln)
		if !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("prometheus: /metrics no longer served", "err", err)
		}
		s.served <- err
	}()
	s.log.Info("prometheus metrics served", "address", "http://"+s.ln.Addr().String()+"/metrics")
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Sink) Addr() net.Addr { return s.ln.Addr() }

// Write records r's values. It never fails.
func (s *Sink) Write(r *event.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.windows++
	s.packets += r.Packets
	s.dropped += r.Dropped
	s.malformed += r.Malformed
	s.learningLeft = r.LearningLeft
	s.lastEnd = r.End
	s.captureFailing = r.CaptureErr != ""
	if s.captureFailing {
		s.failedWindows++
	}
	s.stats = s.stats[:0]
	for i := range r.Stats {
		st := &r.Stats[i]
		s.stats = append(s.stats, stat{name: st.Name, value: st.Value, up: st.Up, down: st.Down,
			learning: st.Learning, alarm: st.AlarmID != ""})
		// Every statistic gets its alarm counters at 0 from the start, so
		// that rate() and increase() see the first alarm.
		s.alarmCounter(alarmKey{st.Name, event.Up})
		s.alarmCounter(alarmKey{st.Name, event.Down})
	}
	for i := range r.Alarms {
		a := &r.Alarms[i]
		c := s.alarmCounter(alarmKey{a.Stat, a.Side})
		c.n++
		c.last = a.End
	}
	return nil
}

func (s *Sink) alarmCounter(k alarmKey) *alarmCount {
	c := s.alarms[k]
	if c == nil {
		c = &alarmCount{}
		s.alarms[k] = c
		i, _ := slices.BinarySearchFunc(s.alarmKeys, k, compareKeys)
		s.alarmKeys = slices.Insert(s.alarmKeys, i, k)
	}
	return c
}

func compareKeys(a, b alarmKey) int {
	switch {
	case a.stat < b.stat:
		return -1
	case a.stat > b.stat:
		return 1
	}
	return int(a.side) - int(b.side)
}

// Close stops the server, letting a scrape in progress finish for a
// moment.
func (s *Sink) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.srv.Close()
		}
		if err := <-s.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.closeErr = fmt.Errorf("prometheus: %w", err)
		}
	})
	return s.closeErr
}

func serveIndex(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, `<!doctype html><title>netspot</title><h1>netspot</h1><p><a href="/metrics">Metrics</a></p>`+"\n")
}

func (s *Sink) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var queues []sink.QueueStats
	s.mu.Lock()
	seen := s.windows > 0
	s.mu.Unlock()
	if seen && s.sinkStats != nil {
		queues = s.sinkStats()
	}
	body := s.render(make([]byte, 0, 8<<10), queues)
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}
