package influxdb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/sink"
	"netspot/core/sink/sinktest"
)

func TestPointsOnTheWire(t *testing.T) {
	f := newFake(t)
	s := newSink(t, v1Config(f.URL))
	r := record(0, false)
	r.Partial, r.CaptureErr, r.Dropped, r.LearningLeft = true, `link "eth1" down`+"\n", 3, 7
	if err := s.WriteBatch([]*event.Record{r, record(1, true)}); err != nil {
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

// A point InfluxDB cannot store is left out; the others are written.
func TestPointOutOfRangeIsLeftOut(t *testing.T) {
	f := newFake(t)
	s := newSink(t, v1Config(f.URL))
	zero := record(0, false)
	zero.End = time.Time{}
	if err := s.WriteBatch([]*event.Record{zero, record(1, false)}); err != nil {
		t.Fatal(err)
	}
	if reqs := f.requests(); len(reqs) != 1 || fmt.Sprint(windows(reqs[0].body)) != "[1]" {
		t.Errorf("requests %+v", reqs)
	}
}

// Every record is written as soon as it is queued; those queued during a
// request go together in the next one, batch_size records at most.
func TestBatchesWhatQueuedDuringARequest(t *testing.T) {
	f := newFake(t)
	entered, release := make(chan struct{}), make(chan struct{})
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		if r.body == "" || windows(r.body)[0] != 0 {
			return false
		}
		close(entered)
		<-release
		return false
	})
	cfg := v1Config(f.URL)
	cfg.BatchSize = 3
	h := start(t, cfg, sink.Live)
	if h.s.MaxBatch() != 3 {
		t.Errorf("MaxBatch() = %d, want batch_size", h.s.MaxBatch())
	}
	h.Publish(record(0, false))
	<-entered
	h.Publish(records(1, 8)...)
	close(release)
	h.Close(t)
	var got []string
	for _, r := range f.requests() {
		got = append(got, fmt.Sprint(windows(r.body)))
	}
	if want := "[0] [1 2 3] [4 5 6] [7]"; strings.Join(got, " ") != want {
		t.Errorf("requests carry windows %v, want %s", got, want)
	}
	if st := h.Stats(); st.Delivered != 8 || st.Failed != 0 || st.DroppedRecords != 0 {
		t.Errorf("stats %+v", st)
	}
}

// With data off, a record without alarms has no point, and no request is
// made for it.
func TestAlarmsOnly(t *testing.T) {
	f := newFake(t)
	cfg := v1Config(f.URL)
	cfg.Data = false
	s := newSink(t, cfg)
	if err := s.Write(record(0, false)); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(record(1, true)); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].body, "netspot_alarm,") || len(lines(reqs[0].body)) != 1 {
		t.Fatalf("requests %+v, want the alarm alone", reqs)
	}
}

// 5xx: the records are kept and written again, with those queued in
// between, until InfluxDB takes them: each once, in order.
func TestServerErrorsThenRecovery(t *testing.T) {
	f := newFake(t)
	var failures atomic.Int32
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		if failures.Add(1) <= 4 {
			http.Error(w, `{"error":"timeout"}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	h := start(t, v1Config(f.URL), sink.Live)
	h.Publish(records(0, 3)...)
	h.Close(t)
	var written []int
	reqs := f.requests()
	for _, r := range reqs[4:] {
		written = append(written, windows(r.body)...)
	}
	if fmt.Sprint(written) != "[0 1 2]" {
		t.Errorf("written windows %v, want [0 1 2]", written)
	}
	for _, r := range reqs[:4] {
		if w := windows(r.body); len(w) == 0 || w[0] != 0 {
			t.Errorf("a failed request did not start with window 0: %v", w)
		}
	}
	if st := h.Stats(); st.Retries != 4 || st.Delivered != 3 || st.DroppedRecords != 0 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	logs := h.Logs.String()
	if !strings.Contains(logs, "sink unreachable") || !strings.Contains(logs, "503 Service Unavailable: timeout") ||
		!strings.Contains(logs, "sink reachable again") {
		t.Errorf("the outage is not logged:\n%s", logs)
	}
}

func TestNetworkErrorIsUnreachable(t *testing.T) {
	f := newFake(t)
	f.Close() // nothing listens there now
	err := newSink(t, v1Config(f.URL)).Write(record(0, false))
	if !sink.IsUnreachable(err) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Write = %v, want an Unreachable connection refused", err)
	}
}

// 429 with Retry-After: the next attempt waits as long as the server asks,
// whatever the backoff says.
func TestRetryAfterIsHonoured(t *testing.T) {
	f := newFake(t)
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		if len(f.requests()) == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"slow down"}`, http.StatusTooManyRequests)
			return true
		}
		return false
	})
	h := start(t, v1Config(f.URL), sink.Live) // retries after 1 to 5 ms
	h.Publish(record(0, false))
	h.Close(t)
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if wait := reqs[1].at.Sub(reqs[0].at); wait < time.Second {
		t.Errorf("retried after %v, before the second Retry-After asked", wait)
	}
	if st := h.Stats(); st.Retries != 1 || st.Delivered != 1 {
		t.Errorf("stats %+v", st)
	}
}

// 4xx: InfluxDB will never take these points; they are not sent again,
// the records count as failed, and the server's message is logged once
// for the whole run of refusals.
func TestRefusedPointsAreDropped(t *testing.T) {
	f := newFake(t)
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		if len(f.requests()) <= 2 {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"partial write: field type conflict"}`))
			return true
		}
		return false
	})
	h := start(t, v1Config(f.URL), sink.Live)
	h.Publish(record(0, true))
	sinktest.WaitFor(t, "the first refusal", func() bool { return h.Stats().Failed == 1 })
	h.Publish(record(1, false))
	sinktest.WaitFor(t, "the second refusal", func() bool { return h.Stats().Failed == 2 })
	h.Publish(record(2, false))
	h.Close(t)
	if n := len(f.requests()); n != 3 {
		t.Errorf("%d requests, want 3: refused points are not sent again", n)
	}
	if st := h.Stats(); st.Failed != 2 || st.Delivered != 1 || st.Retries != 0 || st.DroppedRecords != 0 {
		t.Errorf("stats %+v", st)
	}
	logs := h.Logs.String()
	if n := strings.Count(logs, "400 Bad Request: partial write: field type conflict"); n != 1 {
		t.Errorf("the server's message is logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, "sink recovered") {
		t.Errorf("the recovery is not logged:\n%s", logs)
	}
}

func TestMissingDatabaseIsCreated(t *testing.T) {
	f := newFake(t)
	var created atomic.Bool
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		switch {
		case r.path == "/query":
			created.Store(r.query["q"] == `CREATE DATABASE "net\"spot"`)
			w.Write([]byte(`{"results":[{"statement_id":0}]}`))
			return true
		case !created.Load():
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"database not found: \"net\\\"spot\""}`))
			return true
		}
		return false
	})
	cfg := v1Config(f.URL)
	cfg.Database, cfg.Username, cfg.Password, cfg.RetentionPolicy = `net"spot`, "admin", "s3cret", "week"
	s := newSink(t, cfg)
	if err := s.Write(record(0, false)); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 3 || reqs[1].path != "/query" || !created.Load() {
		t.Fatalf("requests %+v: want write, CREATE DATABASE, write", reqs)
	}
	for _, r := range reqs {
		if r.user != "admin" || r.pass != "s3cret" {
			t.Errorf("%s without credentials", r.path)
		}
	}
	if q := reqs[2].query; q["db"] != `net"spot` || q["rp"] != "week" || windows(reqs[2].body)[0] != 0 {
		t.Errorf("request %+v", reqs[2])
	}
}

// CREATE DATABASE that cannot reach the server is tried again with the
// write; one that is refused is not, and the write counts as refused.
func TestDatabaseCreationFails(t *testing.T) {
	f := newFake(t)
	var queryStatus atomic.Int32
	queryStatus.Store(http.StatusServiceUnavailable)
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		if r.path == "/query" {
			w.WriteHeader(int(queryStatus.Load()))
			w.Write([]byte(`{"error":"requires admin privilege"}`))
			return true
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"database not found: \"netspot\""}`))
		return true
	})
	s := newSink(t, v1Config(f.URL))
	if err := s.Write(record(0, false)); !sink.IsUnreachable(err) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Write = %v, want Unreachable: the server is not there for CREATE DATABASE", err)
	}
	queryStatus.Store(http.StatusForbidden)
	for range 2 {
		if err := s.Write(record(0, false)); err == nil || sink.IsUnreachable(err) || !strings.Contains(err.Error(), "database not found") {
			t.Fatalf("Write = %v, want the refusal", err)
		}
	}
	var paths []string
	for _, r := range f.requests() {
		paths = append(paths, r.path)
	}
	if got := strings.Join(paths, " "); got != "/write /query /write /query /write" {
		t.Errorf("requests %s: CREATE DATABASE refused is not tried again", got)
	}
}

func TestInfluxDB2API(t *testing.T) {
	f := newFake(t)
	cfg := v1Config(f.URL + "/influx/")
	cfg.Org, cfg.Bucket, cfg.Token = "home lab", "net", "tok=="
	s := newSink(t, cfg)
	if err := s.Write(record(0, false)); err != nil {
		t.Fatal(err)
	}
	r := f.requests()[0]
	if r.path != "/influx/api/v2/write" || r.query["org"] != "home lab" || r.query["bucket"] != "net" ||
		r.query["precision"] != "ns" || r.auth != "Token tok==" {
		t.Errorf("request %+v", r)
	}
}

// A server that does not answer makes a write give up at the timeout,
// as unreachable: the records are kept for a retry.
func TestHungServerTimesOut(t *testing.T) {
	f := newFake(t)
	release := make(chan struct{})
	defer close(release)
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		<-release
		return false
	})
	cfg := v1Config(f.URL)
	cfg.Timeout = config.Duration(50 * time.Millisecond)
	err := newSink(t, cfg).Write(record(0, false))
	if !sink.IsUnreachable(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Write = %v, want an Unreachable timeout", err)
	}
}

// Close makes a request under way return at once, whatever the timeout,
// and the server sees the client go away.
func TestCloseDuringBlockedRequest(t *testing.T) {
	f := newFake(t)
	entered, release := make(chan request, 1), make(chan struct{})
	defer close(release)
	f.setRespond(func(r request, w http.ResponseWriter) bool {
		entered <- r
		<-release
		return false
	})
	cfg := v1Config(f.URL)
	cfg.Timeout = config.Duration(time.Minute)
	s := newSink(t, cfg)
	done := make(chan error)
	go func() { done <- s.Write(record(0, false)) }()
	r := <-entered
	s.Close()
	err := <-done
	if !sink.IsUnreachable(err) || !errors.Is(err, context.Canceled) {
		t.Errorf("Write = %v, want it ended by Close", err)
	}
	<-r.ctx.Done() // the request was abandoned, not answered
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"": 0, "7": 7 * time.Second, "-1": 0, "soon": 0, "100000": time.Minute,
		now.Add(30 * time.Second).Format(http.TimeFormat): 30 * time.Second,
		now.Add(time.Hour).Format(http.TimeFormat):        time.Minute,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
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

// A batch of 10 records of 20 statistics, encoded and posted.
func BenchmarkWriteBatch(b *testing.B) {
	f := newFake(b)
	s, err := New(v1Config(f.URL), sink.Env{Series: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rs := records(0, 10)
	for _, r := range rs {
		for i := range 18 {
			r.Stats = append(r.Stats, event.Stat{Name: "STAT_" + string(rune('A'+i)), Value: float64(i) / 3, Up: 1.5, Down: 0.1})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.WriteBatch(rs); err != nil {
			b.Fatal(err)
		}
	}
}
