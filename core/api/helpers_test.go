package api

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
	"netspot/core/pipeline"
	"netspot/core/sink"
)

// fakeRunner stands for the pipeline: it "runs" by writing prepared
// records to the feed.
type fakeRunner struct {
	mu        sync.Mutex
	failStart error           // returned before ready
	records   []*event.Record // written after ready
	gate      chan struct{}   // when set, Run waits for it before writing
	stayUp    bool            // after the records, run until cancelled
	failAfter error           // returned after the records
	stuck     chan struct{}   // when set, Run ignores cancellation until it is closed
	runs      int
	lastCfg   *pipeline.Config
	sinks     []sink.QueueStats
}

func (f *fakeRunner) Run(ctx context.Context, cfg *pipeline.Config, feed sink.Sink, ready func(), _ <-chan *pipeline.Config) error {
	f.mu.Lock()
	f.runs++
	f.lastCfg = cfg
	failStart, records, gate, stayUp, failAfter, stuck := f.failStart, f.records, f.gate, f.stayUp, f.failAfter, f.stuck
	f.mu.Unlock()
	defer feed.Close()
	if failStart != nil {
		return failStart
	}
	ready()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil
		}
	}
	for _, r := range records {
		if err := feed.Write(r); err != nil {
			return err
		}
	}
	if failAfter != nil {
		return failAfter
	}
	if stuck != nil {
		<-stuck
		return nil
	}
	if stayUp {
		<-ctx.Done()
	}
	return nil
}

func (f *fakeRunner) SinkStats() []sink.QueueStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sinks
}

// newClock is the shared fake wall clock.
func newClock() *eventtest.Clock { return eventtest.NewClock() }

var t0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

// record builds the record of window i with TRAFFIC and R_SYN; synAlarm is
// R_SYN's active alarm id ("" for none).
func record(i int, syn float64, synAlarm string, alarms ...event.Alarm) *event.Record {
	start := t0.Add(time.Duration(i) * time.Second)
	return &event.Record{
		Start: start, End: start.Add(time.Second), Packets: 100, Dropped: 1, Malformed: 2,
		LearningLeft: max(0, 3-i),
		Stats: []event.Stat{
			{Name: "TRAFFIC", Value: 100, Up: 200, Down: math.NaN(), Learning: i < 3},
			{Name: "R_SYN", Value: syn, Up: 0.5, Down: math.NaN(), AlarmID: synAlarm},
		},
		Alarms: alarms,
	}
}

func synAlarm(id string, i int, v float64) event.Alarm {
	start := t0.Add(time.Duration(i) * time.Second)
	return event.Alarm{ID: id, Stat: "R_SYN", Side: event.Up, Value: v, Threshold: 0.5, Probability: 1e-6,
		Start: start, End: start.Add(time.Second)}
}

// scenario is six windows: learning for three, an R_SYN alarm raised at
// window 3 that peaks at window 4 and clears at window 5.
func scenario() []*event.Record {
	return []*event.Record{
		record(0, 0.1, ""),
		record(1, 0.1, ""),
		record(2, 0.1, ""),
		record(3, 0.8, "a-1", synAlarm("a-1", 3, 0.8)),
		record(4, 0.9, "a-1"),
		record(5, 0.1, ""),
	}
}

// testToken is the token of the test servers that set none: on TCP, an
// API without a token is read-only.
const testToken = "test-token-0123456789"

func testServer(t *testing.T, cfg Config, r Runner) (*Server, *eventtest.Clock) {
	t.Helper()
	if cfg.Token == "" && cfg.TokenFile == "" && !strings.HasPrefix(cfg.Endpoint, "unix:") {
		cfg.Token = testToken
	}
	clock := newClock()
	s, err := New(cfg, r, Options{Version: "test", Epoch: "e1", Now: clock.Now, Devices: fakeDevices,
		Config: testDefaults(), Defaults: testDefaults})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s, clock
}

// testDefaults is the default configuration with eth0 as the device.
func testDefaults() *pipeline.Config {
	c := pipeline.New()
	c.Miner.Device = "eth0"
	return c
}

func fakeDevices() ([]Device, error) {
	devs := []Device{anyDevice(), {Name: "eth0", Index: 2, Up: true, Flags: []string{"up"}, Addresses: []string{"192.168.1.2/24"}}}
	for _, name := range []string{"eth1", "eth2", "eth3", "eth5", "eth9"} {
		devs = append(devs, Device{Name: name, Index: 3, Flags: []string{}})
	}
	return devs, nil
}

func httptestRequest(method, target, body string) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	return req
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func sinkQueue(name string, droppedRecords, droppedAlarms uint64) sink.QueueStats {
	return sink.QueueStats{Name: name, DroppedRecords: droppedRecords, DroppedAlarms: droppedAlarms}
}

// do sends one request to h as a loopback client.
func do(t *testing.T, h http.Handler, method, target, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.Host = "localhost:11000"
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// waitFor polls cond (bounded), for state reached by other goroutines.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
