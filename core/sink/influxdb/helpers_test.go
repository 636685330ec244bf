package influxdb

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"netspot/core/event"
	"netspot/core/event/eventtest"
	"netspot/core/sink"
	"netspot/core/sink/sinktest"
)

var t0 = eventtest.T0

// record returns window i's Record (100+i packets), with the alarm syn-1 on
// R_SYN when alarm.
func record(i int, alarm bool) *event.Record {
	r := eventtest.Record(i, eventtest.Stat("R_SYN", 0.25, 0.5),
		event.Stat{Name: "TRAFFIC", Value: math.NaN(), Up: math.NaN(), Down: math.NaN(), Learning: true})
	r.Packets = uint64(100 + i)
	if alarm {
		eventtest.Raise(r, "syn-1", "R_SYN", 0.9, 0.5)
	}
	return r
}

func records(from, to int) []*event.Record {
	var rs []*event.Record
	for i := from; i < to; i++ {
		rs = append(rs, record(i, false))
	}
	return rs
}

// request is what the fake server received.
type request struct {
	method, path string
	query        map[string]string
	auth         string
	user, pass   string
	body         string
	at           time.Time
	ctx          context.Context // ends when the client goes away
}

// fakeInflux records requests and answers with the status its handler
// chooses (204 by default).
type fakeInflux struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []request
	respond func(r request, w http.ResponseWriter) bool // true: answered
}

func newFake(t testing.TB) *fakeInflux {
	f := &fakeInflux{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		b, _ := io.ReadAll(hr.Body)
		r := request{method: hr.Method, path: hr.URL.Path, query: map[string]string{}, auth: hr.Header.Get("Authorization"),
			body: string(b), at: time.Now(), ctx: hr.Context()}
		r.user, r.pass, _ = hr.BasicAuth()
		for k, v := range hr.URL.Query() {
			r.query[k] = v[0]
		}
		if hr.Method == http.MethodPost && hr.URL.Path == "/query" {
			hr.Body = io.NopCloser(strings.NewReader(string(b)))
			hr.ParseForm()
			r.query["q"] = hr.PostForm.Get("q")
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, r)
		respond := f.respond
		f.mu.Unlock()
		if respond != nil && respond(r, w) {
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeInflux) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

func (f *fakeInflux) setRespond(fn func(r request, w http.ResponseWriter) bool) {
	f.mu.Lock()
	f.respond = fn
	f.mu.Unlock()
}

func lines(body string) []string {
	return strings.Split(strings.TrimSuffix(body, "\n"), "\n")
}

// windows returns the packets of the data points of body, less 100: the
// windows they come from.
func windows(body string) []int {
	var out []int
	for _, l := range lines(body) {
		if !strings.HasPrefix(l, "netspot,") {
			continue
		}
		_, rest, _ := strings.Cut(l, " packets=")
		n := 0
		for _, c := range rest {
			if c < '0' || c > '9' {
				break
			}
			n = 10*n + int(c-'0')
		}
		out = append(out, n-100)
	}
	return out
}

func v1Config(addr string) Config {
	c := DefaultConfig()
	c.Data, c.Alarm, c.Address = true, true, addr
	return c
}

// newSink returns a sink used directly, without a fan-out.
func newSink(t *testing.T, cfg Config) *Sink {
	t.Helper()
	s, err := New(cfg, sink.Env{Series: "office"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// harness is a influxdb sink behind a real fan-out with fast retries.
type harness struct {
	*sinktest.Rig
	s *Sink
}

func start(t *testing.T, cfg Config, mode sink.Mode) *harness {
	t.Helper()
	log, logs := sinktest.Logger()
	s, err := New(cfg, sink.Env{Log: log.With("sink", "influxdb"), Series: "office"})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{Rig: sinktest.NewRig(t, "influxdb", s, mode, cfg.Queue(), log, logs), s: s}
}
