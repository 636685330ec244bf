package influxdb

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"netspot/core/event"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func record(i int, alarm bool) *event.Record {
	start := t0.Add(time.Duration(i) * time.Second)
	r := &event.Record{
		Start: start, End: start.Add(time.Second), Packets: uint64(100 + i),
		Stats: []event.Stat{
			{Name: "R_SYN", Value: 0.25, Up: 0.5, Down: math.NaN()},
			{Name: "TRAFFIC", Value: math.NaN(), Up: math.NaN(), Down: math.NaN(), Learning: true},
		},
	}
	if alarm {
		r.Stats[0].AlarmID = "syn-1"
		r.Alarms = []event.Alarm{{ID: "syn-1", Stat: "R_SYN", Side: event.Up, Value: 0.9,
			Threshold: 0.5, Probability: 1e-6, Start: start, End: start.Add(time.Second)}}
	}
	return r
}

// request is what the fake server received.
type request struct {
	method, path string
	query        map[string]string
	auth         string
	user, pass   string
	body         string
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
		r := request{method: hr.Method, path: hr.URL.Path, query: map[string]string{}, auth: hr.Header.Get("Authorization"), body: string(b)}
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
