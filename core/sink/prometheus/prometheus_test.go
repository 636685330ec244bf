package prometheus

import (
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/event/eventtest"
	"netspot/core/sink"
)

func record(i int, alarm bool) *event.Record {
	r := eventtest.Record(i, eventtest.Stat("R_SYN", 0.25, 0.5),
		event.Stat{Name: "TRAFFIC", Value: math.NaN(), Up: math.NaN(), Down: math.NaN(), Learning: true})
	r.Dropped, r.Malformed, r.LearningLeft = 2, 1, 5
	if alarm {
		eventtest.Raise(r, "syn-1", "R_SYN", 0.9, 0.5)
	}
	return r
}

// serve starts a sink on a free loopback port.
func serve(t *testing.T, opts Options) *Sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Listener = ln
	s, err := New(Config{Serve: true}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func get(t *testing.T, s *Sink, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.Addr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func scrape(t *testing.T, s *Sink) string {
	t.Helper()
	resp, body := get(t, s, http.MethodGet, "/metrics")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ContentType {
		t.Fatalf("GET /metrics: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	return body
}

// samples returns the sample lines of the exposition, without comments.
func samples(body string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			m[l] = true
		}
	}
	return m
}

func TestMetrics(t *testing.T) {
	queues := []sink.QueueStats{{Name: "mqtt", Queued: 3, Delivered: 10, Failed: 1, DroppedRecords: 4, DroppedAlarms: 2}}
	s := serve(t, Options{SinkStats: func() []sink.QueueStats { return queues }, Version: "1.2.3"})
	if err := s.Write(record(0, false)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(record(1, true)); err != nil {
		t.Fatal(err)
	}
	body := scrape(t, s)
	got := samples(body)
	for _, want := range []string{
		`netspot_build_info{version="1.2.3"} 1`,
		`netspot_windows_total 2`,
		`netspot_last_window_end_timestamp_seconds 1772366402`,
		`netspot_learning_windows_left 5`,
		`netspot_packets_total 200`,
		`netspot_packets_dropped_total 4`,
		`netspot_packets_malformed_total 2`,
		`netspot_capture_failing 0`,
		`netspot_stat_value{stat="R_SYN"} 0.25`,
		`netspot_stat_threshold{stat="R_SYN",side="up"} 0.5`,
		`netspot_stat_learning{stat="R_SYN"} 0`,
		`netspot_stat_learning{stat="TRAFFIC"} 1`,
		`netspot_stat_alarm_active{stat="R_SYN"} 1`,
		`netspot_stat_alarm_active{stat="TRAFFIC"} 0`,
		`netspot_alarms_total{stat="R_SYN",side="up"} 1`,
		`netspot_alarms_total{stat="R_SYN",side="down"} 0`,
		`netspot_alarms_total{stat="TRAFFIC",side="up"} 0`,
		`netspot_alarm_last_timestamp_seconds{stat="R_SYN",side="up"} 1772366402`,
		`netspot_sink_records_delivered_total{sink="mqtt"} 10`,
		`netspot_sink_records_failed_total{sink="mqtt"} 1`,
		`netspot_sink_records_dropped_total{sink="mqtt"} 4`,
		`netspot_sink_alarms_dropped_total{sink="mqtt"} 2`,
		`netspot_sink_queue_records{sink="mqtt"} 3`,
	} {
		if !got[want] {
			t.Errorf("missing %s", want)
		}
	}
	// Undefined values are absent, not NaN.
	for _, absent := range []string{`stat="TRAFFIC"} NaN`, `netspot_stat_value{stat="TRAFFIC"}`, `side="down"} NaN`, "NaN"} {
		if strings.Contains(body, absent) {
			t.Errorf("exposition contains %q", absent)
		}
	}
	for _, family := range []string{"# TYPE netspot_alarms_total counter", "# TYPE netspot_stat_value gauge", "# TYPE go_goroutines gauge"} {
		if !strings.Contains(body, family+"\n") {
			t.Errorf("missing %q", family)
		}
	}
	checkWellFormed(t, body)
}

// checkWellFormed checks what a scraper relies on: every sample belongs to
// the family declared just before it, a family is declared once, and no
// series appears twice.
func checkWellFormed(t *testing.T, body string) {
	t.Helper()
	if !strings.HasSuffix(body, "\n") {
		t.Error("exposition does not end with a newline")
	}
	declared := map[string]bool{}
	series := map[string]bool{}
	current := ""
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "# HELP "):
			current = strings.Fields(l)[2]
			if declared[current] {
				t.Errorf("family %s declared twice", current)
			}
			declared[current] = true
		case strings.HasPrefix(l, "# TYPE "):
			if f := strings.Fields(l); f[2] != current || (f[3] != "gauge" && f[3] != "counter") {
				t.Errorf("bad TYPE line %q", l)
			}
		default:
			name, _, _ := strings.Cut(l, "{")
			name, _, _ = strings.Cut(name, " ")
			if name != current {
				t.Errorf("sample %q outside its family (%s)", l, current)
			}
			key := l[:strings.LastIndexByte(l, ' ')]
			if series[key] {
				t.Errorf("series %s twice", key)
			}
			series[key] = true
		}
	}
}

func TestBeforeAnyRecord(t *testing.T) {
	s := serve(t, Options{SinkStats: func() []sink.QueueStats {
		t.Error("SinkStats called before the first record: the fan-out may still be assembled")
		return nil
	}})
	body := scrape(t, s)
	if !samples(body)["netspot_windows_total 0"] || strings.Contains(body, "netspot_stat_") || strings.Contains(body, "learning_windows_left") {
		t.Errorf("before any record:\n%s", body)
	}
	checkWellFormed(t, body)
}

// A family without samples (no threshold while learning) is left out.
func TestNoEmptyFamily(t *testing.T) {
	s := serve(t, Options{})
	r := record(0, false)
	r.Stats[0].Up = math.NaN()
	s.Write(r)
	body := scrape(t, s)
	if strings.Contains(body, "netspot_stat_threshold") {
		t.Errorf("empty threshold family exposed:\n%s", body)
	}
	checkWellFormed(t, body)
}

// Scrapes while records arrive (run with -race).
func TestConcurrentScrapes(t *testing.T) {
	queues := func() []sink.QueueStats { return []sink.QueueStats{{Name: "x"}} }
	s := serve(t, Options{SinkStats: queues})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 300 {
			s.Write(record(i, i%10 == 0))
		}
	}()
	for range 30 {
		checkWellFormed(t, scrape(t, s))
	}
	<-done
	if !samples(scrape(t, s))[`netspot_alarms_total{stat="R_SYN",side="up"} 30`] {
		t.Error("alarm count after 300 records is not 30")
	}
}

func TestCaptureFailure(t *testing.T) {
	s := serve(t, Options{})
	r := record(0, false)
	r.CaptureErr = "eth1: link down"
	s.Write(r)
	got := samples(scrape(t, s))
	if !got["netspot_capture_failing 1"] || !got["netspot_capture_failed_windows_total 1"] {
		t.Error("capture failure not exposed")
	}
	s.Write(record(1, false))
	got = samples(scrape(t, s))
	if !got["netspot_capture_failing 0"] || !got["netspot_capture_failed_windows_total 1"] {
		t.Error("capture recovery not exposed")
	}
}

func TestLabelEscaping(t *testing.T) {
	b := sample(nil, "m", 1.5, label{"stat", "a\"b\\c\nd\xff"})
	if want := "m{stat=\"a\\\"b\\\\c\\nd\uFFFD\"} 1.5\n"; string(b) != want {
		t.Errorf("got %q, want %q", b, want)
	}
	for f, want := range map[float64]string{
		1e-300: "1e-300", 3: "3", -0.5: "-0.5", 1e20: "1e+20", math.Inf(1): "+Inf", math.NaN(): "NaN", 123456789012: "123456789012",
	} {
		if got := string(appendValue(nil, f)); got != want {
			t.Errorf("%v -> %s, want %s", f, got, want)
		}
	}
	if got := string(family(nil, "m", "gauge", "a\\b\nc")); got != "# HELP m a\\\\b\\nc\n# TYPE m gauge\n" {
		t.Errorf("help %q", got)
	}
}

func TestHTTP(t *testing.T) {
	s := serve(t, Options{})
	if resp, _ := get(t, s, http.MethodPost, "/metrics"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /metrics: %s", resp.Status)
	}
	if resp, body := get(t, s, http.MethodHead, "/metrics"); resp.StatusCode != http.StatusOK || body != "" || resp.ContentLength <= 0 {
		t.Errorf("HEAD /metrics: %s, %d bytes announced, body %q", resp.Status, resp.ContentLength, body)
	}
	if resp, _ := get(t, s, http.MethodGet, "/other"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /other: %s", resp.Status)
	}
	if resp, body := get(t, s, http.MethodGet, "/"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `href="/metrics"`) {
		t.Errorf("GET /: %s %q", resp.Status, body)
	}
}

func TestCloseStopsServing(t *testing.T) {
	s := serve(t, Options{})
	addr := s.Addr().String()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("still listening after Close")
	}
}

// A port in use is a failure of the moment (the service manager starts
// netspot again), not an error of the config file: no *config.FieldError.
func TestListenOnBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = New(Config{Serve: true, Listen: busy.Addr().String()}, Options{})
	var fe *config.FieldError
	if err == nil || errors.As(err, &fe) || !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Errorf("New on a busy port = %v", err)
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil || DefaultConfig().Serve {
		t.Errorf("default: %v", err)
	}
	for _, ok := range []string{":9798", "127.0.0.1:9798", "[::1]:9798", "[fe80::1%eth0]:1", "box.lan:80"} {
		if err := (Config{Listen: ok}).Validate(); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for in, msg := range map[string]string{
		"": "want host:port", "9798": "want host:port", ":0": "port", ":70000": "port", ":http": "port",
		"a b:1": "not an IP address", "::1:9798": "want host:port",
		"[a:b]:1": "not an IP address", "a..b:1": "not an IP address",
	} {
		err := Config{Listen: in}.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != "listen" || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: %v, want %q", in, err, msg)
		}
	}
}

// FuzzListen: no listen address makes the check panic.
func FuzzListen(f *testing.F) {
	for _, s := range []string{":9798", "[::1]:1", "a:b:c", "[", "x:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkListen(s) == nil {
			if _, _, err := net.SplitHostPort(s); err != nil {
				t.Fatalf("%q accepted", s)
			}
		}
	})
}

func benchRecord() *event.Record {
	r := record(0, false)
	for i := range 18 {
		r.Stats = append(r.Stats, event.Stat{Name: "STAT_" + string(rune('A'+i)), Value: float64(i) / 3, Up: 1.5, Down: 0.1})
	}
	return r
}

func benchSink(b *testing.B) *Sink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(Config{}, Options{Listener: ln})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkWrite(b *testing.B) {
	s := benchSink(b)
	r := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		s.Write(r)
	}
}

func BenchmarkRender(b *testing.B) {
	s := benchSink(b)
	s.Write(benchRecord())
	buf := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = s.render(buf[:0], nil)
	}
	b.SetBytes(int64(len(buf)))
}
