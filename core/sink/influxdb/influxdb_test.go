package influxdb

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"netspot/core/config"
)

func newSink(t *testing.T, cfg Config, clk *clock) *Sink {
	t.Helper()
	opts := Options{}
	if clk != nil {
		opts.Now = clk.Now
	}
	s, err := New(cfg, "office", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func v1Config(addr string) Config {
	c := DefaultConfig()
	c.Data, c.Alarm, c.Address = true, true, addr
	return c
}

func TestPointsOnTheWire(t *testing.T) {
	f := newFake(t)
	cfg := v1Config(f.URL)
	cfg.BatchSize = 2
	s := newSink(t, cfg, newClock())
	r := record(0, false)
	r.Partial, r.CaptureErr, r.Dropped, r.LearningLeft = true, `link "eth1" down`+"\n", 3, 7
	if err := s.Write(r); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(record(1, true)); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	got := lines(reqs[0].body)
	want := []string{
		`netspot,agent=local,series=office packets=100i,dropped=3i,malformed=0i,learning_left=7i,active_alarms=0i,partial=true,capture_error="link \"eth1\" down ",R_SYN=0.25,R_SYN_up=0.5 1772366401000000000`,
		`netspot,agent=local,series=office packets=101i,dropped=0i,malformed=0i,learning_left=0i,active_alarms=1i,R_SYN=0.25,R_SYN_up=0.5 1772366402000000000`,
		`netspot_alarm,agent=local,series=office,side=up,stat=R_SYN id="syn-1",value=0.9,threshold=0.5,probability=1e-06 1772366402000000000`,
	}
	if len(got) != len(want) {
		t.Fatalf("body:\n%s", reqs[0].body)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	q := reqs[0].query
	if reqs[0].path != "/write" || q["db"] != "netspot" || q["precision"] != "ns" || q["rp"] != "" || reqs[0].auth != "" {
		t.Errorf("request %+v", reqs[0])
	}
}

func TestEscaping(t *testing.T) {
	r := record(0, true)
	r.Stats[0].Name = "R SYN,x=y"
	r.Alarms[0].Stat = "R SYN,x=y"
	r.Alarms[0].ID = `a"b\c`
	b, err := appendDataPoint(nil, r, `pi 1,rack=2`, `c:\caps\my file.pcap`)
	if err != nil {
		t.Fatal(err)
	}
	want := `netspot,agent=pi\ 1\,rack\=2,series=c:\\caps\\my\ file.pcap packets=100i,dropped=0i,malformed=0i,learning_left=0i,active_alarms=1i,R\ SYN\,x\=y=0.25,R\ SYN\,x\=y_up=0.5 1772366401000000000` + "\n"
	if string(b) != want {
		t.Errorf("data\n got %s\nwant %s", b, want)
	}
	b, _ = appendAlarmPoint(nil, &r.Alarms[0], "", "tab\there\n")
	want = `netspot_alarm,series=tab\ here\ ,side=up,stat=R\ SYN\,x\=y id="a\"b\\c",value=0.9,threshold=0.5,probability=1e-06 1772366401000000000` + "\n"
	if string(b) != want {
		t.Errorf("alarm\n got %s\nwant %s", b, want)
	}
	if _, err := appendDataPoint(nil, record(0, false), "", "\xff"); err != nil {
		t.Error(err)
	}
	zero := record(0, false)
	zero.End = time.Time{}
	if _, err := appendDataPoint(nil, zero, "", ""); err == nil {
		t.Error("a time outside InfluxDB's range was accepted")
	}
}

func TestBatchingAndFlushInterval(t *testing.T) {
	f := newFake(t)
	clk := newClock()
	cfg := v1Config(f.URL)
	cfg.BatchSize = 3
	s := newSink(t, cfg, clk)
	for i := range 2 {
		s.Write(record(i, false))
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("%d requests before the batch is full", n)
	}
	s.Write(record(2, false))
	if reqs := f.requests(); len(reqs) != 1 || len(lines(reqs[0].body)) != 3 {
		t.Fatalf("requests %v, want one of 3 points", reqs)
	}
	// One point waits for the flush interval, measured from when it came.
	s.Write(record(3, false))
	clk.Advance(cfg.FlushInterval.D() - time.Millisecond)
	if n := len(f.requests()); n != 1 {
		t.Fatalf("%d requests: sent before the flush interval", n)
	}
	clk.Advance(time.Millisecond)
	s.Write(record(4, false))
	if reqs := f.requests(); len(reqs) != 2 || len(lines(reqs[1].body)) != 2 {
		t.Fatalf("requests %v, want a second one with 2 points", reqs)
	}
	if st := s.Stats(); st.Written != 5 || st.Buffered != 0 || st.Requests != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestAlarmIsSentAtOnce(t *testing.T) {
	f := newFake(t)
	cfg := v1Config(f.URL)
	cfg.Data = false
	s := newSink(t, cfg, newClock())
	s.Write(record(0, false)) // no alarm, data off: nothing
	s.Write(record(1, true))
	reqs := f.requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].body, "netspot_alarm,") || len(lines(reqs[0].body)) != 1 {
		t.Fatalf("requests %+v, want the alarm alone", reqs)
	}
}

// 5xx: kept and sent again after the backoff, with the points that came
// in between; Retry-After is honoured.
func TestServerErrorsAreRetried(t *testing.T) {
	f := newFake(t)
	clk := newClock()
	cfg := v1Config(f.URL)
	cfg.BatchSize = 1
	s := newSink(t, cfg, clk)
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		w.Header().Set("Retry-After", "5")
		http.Error(w, `{"error":"timeout"}`, http.StatusServiceUnavailable)
		return true
	})
	if err := s.Write(record(0, false)); err != nil {
		t.Fatalf("a retryable failure is not a loss: %v", err)
	}
	clk.Advance(4 * time.Second)
	s.Write(record(1, false)) // still waiting: Retry-After says 5 s
	if n := len(f.requests()); n != 1 {
		t.Fatalf("%d requests, want no new attempt before Retry-After", n)
	}
	f.setRespond(nil)
	clk.Advance(time.Second)
	s.Write(record(2, false))
	reqs := f.requests()
	if len(reqs) != 2 || len(lines(reqs[1].body)) != 3 {
		t.Fatalf("retry: %d requests, last %q", len(reqs), reqs[len(reqs)-1].body)
	}
	if st := s.Stats(); st.Written != 3 || st.Dropped != 0 || st.Failures != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestBackoffDoubles(t *testing.T) {
	f := newFake(t)
	clk := newClock()
	cfg := v1Config(f.URL)
	cfg.BatchSize = 1
	s := newSink(t, cfg, clk)
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	var waits []time.Duration
	for i := range 8 {
		s.Write(record(i, false))
		s.mu.Lock()
		wait := s.retryAt.Sub(clk.Now())
		s.mu.Unlock()
		waits = append(waits, wait)
		clk.Advance(wait)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i := range want {
		if waits[i] != want[i]*time.Second {
			t.Fatalf("waits %v, want %v seconds", waits, want)
		}
	}
	if n := len(f.requests()); n != 8 {
		t.Errorf("%d requests, want one per elapsed wait", n)
	}
}

// 4xx: InfluxDB will never take these points; they are dropped, the error
// says so, and later points go through.
func TestRefusedPointsAreDropped(t *testing.T) {
	f := newFake(t)
	cfg := v1Config(f.URL)
	cfg.BatchSize = 1
	s := newSink(t, cfg, newClock())
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"partial write: field type conflict"}`))
		return true
	})
	err := s.Write(record(0, true))
	if err == nil || !strings.Contains(err.Error(), "2 points dropped (1 alarms)") || !strings.Contains(err.Error(), "field type conflict") {
		t.Fatalf("Write = %v", err)
	}
	f.setRespond(nil)
	if err := s.Write(record(1, false)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Dropped != 2 || st.DroppedAlarms != 1 || st.Written != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestUnreachableServerKeepsPointsWithinLimit(t *testing.T) {
	f := newFake(t)
	f.Close() // nothing listens there now
	clk := newClock()
	cfg := v1Config(f.URL)
	cfg.BatchSize, cfg.BufferLimit = 1, 4
	s := newSink(t, cfg, clk)
	var errs []error
	for i := range 4 {
		errs = append(errs, s.Write(record(i, i == 1)))
		clk.Advance(time.Hour) // every Write makes an attempt
	}
	// Points: d0, d1, a1, d2, d3: one data point too many.
	if errs[0] != nil || errs[1] != nil || errs[2] != nil || errs[3] == nil || !strings.Contains(errs[3].Error(), "1 points dropped (0 alarms)") {
		t.Fatalf("errors %v", errs)
	}
	s.mu.Lock()
	var kept []string
	for _, p := range s.buf {
		kept = append(kept, strings.SplitN(string(p.line), " ", 2)[0][:13])
	}
	s.mu.Unlock()
	if strings.Join(kept, "|") != "netspot,agent|netspot_alarm|netspot,agent|netspot,agent" {
		t.Errorf("kept %v: want the oldest data point dropped, the alarm kept", kept)
	}
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "1 alarms not written") {
		t.Errorf("Close = %v", err)
	}
	if st := s.Stats(); st.Dropped != 5 || st.DroppedAlarms != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A server that does not answer holds a Write for the timeout at most.
func TestHungServerTimesOut(t *testing.T) {
	f := newFake(t)
	release := make(chan struct{})
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		<-release
		return false
	})
	defer close(release)
	cfg := v1Config(f.URL)
	cfg.BatchSize, cfg.Timeout = 1, config.Duration(50*time.Millisecond)
	s := newSink(t, cfg, newClock())
	if err := s.Write(record(0, false)); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Buffered != 1 || st.Failures != 1 {
		t.Errorf("stats %+v: the point must stay for a retry", st)
	}
}

func TestMissingDatabaseIsCreated(t *testing.T) {
	f := newFake(t)
	created := false
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		switch {
		case r.path == "/query":
			created = r.query["q"] == `CREATE DATABASE "net\"spot"`
			w.Write([]byte(`{"results":[{"statement_id":0}]}`))
			return true
		case !created:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"database not found: \"net\\\"spot\""}`))
			return true
		}
		return false
	})
	cfg := v1Config(f.URL)
	cfg.Database, cfg.Username, cfg.Password, cfg.RetentionPolicy, cfg.BatchSize = `net"spot`, "admin", "s3cret", "week", 1
	s := newSink(t, cfg, newClock())
	if err := s.Write(record(0, false)); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 3 || reqs[1].path != "/query" || !created {
		t.Fatalf("requests %+v: want write, CREATE DATABASE, write", reqs)
	}
	for _, r := range reqs {
		if r.user != "admin" || r.pass != "s3cret" {
			t.Errorf("%s without credentials", r.path)
		}
	}
	if q := reqs[2].query; q["db"] != `net"spot` || q["rp"] != "week" {
		t.Errorf("query %v", q)
	}
	if st := s.Stats(); st.Written != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestInfluxDB2API(t *testing.T) {
	f := newFake(t)
	cfg := v1Config(f.URL + "/influx/")
	cfg.Org, cfg.Bucket, cfg.Token, cfg.BatchSize = "home lab", "net", "tok==", 1
	s := newSink(t, cfg, newClock())
	if err := s.Write(record(0, false)); err != nil {
		t.Fatal(err)
	}
	r := f.requests()[0]
	if r.path != "/influx/api/v2/write" || r.query["org"] != "home lab" || r.query["bucket"] != "net" ||
		r.query["precision"] != "ns" || r.auth != "Token tok==" {
		t.Errorf("request %+v", r)
	}
}

func TestCloseFlushesEverything(t *testing.T) {
	f := newFake(t)
	cfg := v1Config(f.URL)
	cfg.BatchSize = 100
	s := newSink(t, cfg, newClock())
	for i := range 5 {
		s.Write(record(i, false))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if reqs := f.requests(); len(reqs) != 1 || len(lines(reqs[0].body)) != 5 {
		t.Fatalf("requests %+v", reqs)
	}
	if !errors.Is(s.Write(record(9, false)), ErrClosed) {
		t.Error("Write after Close accepted")
	}
}

// Data left unwritten at exit is counted and logged, not an error.
func TestCloseWithDataLeft(t *testing.T) {
	f := newFake(t)
	f.Close()
	cfg := v1Config(f.URL)
	cfg.BatchSize = 100
	s := newSink(t, cfg, newClock())
	s.Write(record(0, false))
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if st := s.Stats(); st.Dropped != 1 || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, "-1": 0, "soon": 0, "100000": time.Minute,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("Retry-After %q = %v, want %v", h, got, want)
		}
	}
}

func TestServerMessage(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":"database not found"}`:                "database not found",
		`{"code":"unauthorized","message":"bad token"}`: "bad token",
		"  plain text \n":                               "plain text",
		"":                                              "no message",
	} {
		if got := serverMessage([]byte(body)); got != want {
			t.Errorf("%q -> %q, want %q", body, got, want)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	f := newFake(b)
	cfg := v1Config(f.URL)
	cfg.BatchSize = 100
	s, err := New(cfg, "bench", Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := record(0, false)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(r); err != nil {
			b.Fatal(err)
		}
	}
}

// InfluxDB away: each Write encodes, buffers and drops the oldest point of
// a full buffer, without a request (backoff).
func BenchmarkWriteServerDown(b *testing.B) {
	cfg := v1Config("http://127.0.0.1:1")
	clk := newClock()
	s, err := New(cfg, "bench", Options{Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := record(0, false)
	for range cfg.BufferLimit + 1 {
		s.Write(r)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Write(r)
	}
}
