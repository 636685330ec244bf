package client

import (
	"bufio"
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"netspot/core/api"
	"netspot/core/event"
	"netspot/core/pipeline"
	"netspot/core/sink"
)

// runner is a pipeline for the tests: the test writes records to the feed
// of the current run itself.
type runner struct {
	mu   sync.Mutex
	feed sink.Sink
}

func (r *runner) Run(ctx context.Context, _ *pipeline.Config, feed sink.Sink, ready func(), _ <-chan *pipeline.Config) error {
	r.mu.Lock()
	r.feed = feed
	r.mu.Unlock()
	ready()
	<-ctx.Done()
	return nil
}

func (r *runner) write(t *testing.T, rec *event.Record) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.feed.Write(rec); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2025, 3, 4, 9, 0, 0, 0, time.UTC)

func rec(i int, alarm bool) *event.Record {
	start := t0.Add(time.Duration(i) * time.Second)
	r := &event.Record{Start: start, End: start.Add(time.Second), Packets: 10,
		Stats: []event.Stat{{Name: "R_SYN", Value: 0.1, Up: 0.5, Down: math.NaN()}}}
	if alarm {
		id := "a-" + string(rune('0'+i))
		r.Stats[0].Value, r.Stats[0].AlarmID = 0.9, id
		r.Alarms = []event.Alarm{{ID: id, Stat: "R_SYN", Side: event.Up, Value: 0.9, Threshold: 0.5, Probability: 1e-7, Start: start, End: r.End}}
	}
	return r
}

// testToken is the token of the test servers: on TCP, an API without one
// is read-only.
const testToken = "client-test-token-0123"

// server starts a netspot API server for the test over HTTP on loopback.
func server(t *testing.T, cfg api.Config) (*httptest.Server, *runner) {
	t.Helper()
	r := &runner{}
	conf := pipeline.New()
	conf.Miner.Device = "eth0"
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	devices := func() ([]api.Device, error) {
		return []api.Device{{Name: "any"}, {Name: "eth0"}, {Name: "eth1"}, {Name: "eth2"}, {Name: "eth5"}}, nil
	}
	s, err := api.New(cfg, r, api.Options{Version: "test", Config: conf, Devices: devices})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.Close()
		_ = s.Close(context.Background())
	})
	return srv, r
}

func TestClientCallsEveryEndpoint(t *testing.T) {
	srv, r := server(t, api.DefaultConfig())
	ctx := t.Context()
	// netspot's endpoint form, as in the config file.
	c, err := New("tcp://"+srv.Listener.Addr().String(), WithToken(testToken))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.State != api.Stopped || st.Version != "test" {
		t.Fatalf("status %+v %v", st, err)
	}
	if h, err := c.Health(ctx); err != nil || h.Status != "ok" {
		t.Errorf("health %+v %v", h, err)
	}
	stats, err := c.Stats(ctx)
	if err != nil || len(stats) < 10 {
		t.Errorf("stats: %d, %v", len(stats), err)
	}
	devs, err := c.Devices(ctx)
	if err != nil || len(devs) < 2 || devs[0].Name != "any" {
		t.Errorf("devices %+v %v", devs, err)
	}

	m, err := c.Config(ctx)
	if err != nil || m["miner"].(map[string]any)["device"] != "eth0" {
		t.Fatalf("config %v %v", m, err)
	}
	if err := c.SetDevice(ctx, "eth1"); err != nil {
		t.Fatal(err)
	}
	doc, err := c.ConfigTOML(ctx)
	if err != nil || !strings.Contains(string(doc), `device = "eth1"`) {
		t.Errorf("TOML %s %v", doc, err)
	}
	if res, err := c.CheckConfig(ctx, []byte("[miner]\ndevice = 'eth5'\n")); err != nil || !res.DryRun {
		t.Errorf("check %+v %v", res, err)
	}
	if res, err := c.PutConfig(ctx, []byte("[miner]\ndevice = 'eth2'\n")); err != nil || res.Config["miner"].(map[string]any)["device"] != "eth2" {
		t.Errorf("put %+v %v", res, err)
	}
	_, err = c.PutConfig(ctx, []byte("[miner]\n\nspeed = 3\n"))
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != 400 || len(e.Problems) != 1 || e.Problems[0].Key != "miner.speed" || e.Problems[0].Line != 3 {
		t.Fatalf("invalid config: %v (%+v)", err, e)
	}
	if !strings.Contains(err.Error(), "400 Bad Request: invalid configuration: line 3: miner.speed: unknown key") {
		t.Errorf("message %q", err)
	}

	st, err = c.Start(ctx)
	if err != nil || !st.Running || st.Run.Config.Device != "eth2" {
		t.Fatalf("start %+v %v", st, err)
	}
	if _, err := c.Start(ctx); StatusCode(err) != 409 || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second start: %v", err)
	}
	for i := range 5 {
		r.write(t, rec(i, i == 3))
	}
	recs, err := c.Records(ctx, 2, 0)
	if err != nil || len(recs.Records) != 3 || recs.Records[0].Seq != 3 || recs.Records[2].Stats[0].Name != "R_SYN" ||
		!math.IsNaN(recs.Records[0].Stats[0].Down) {
		t.Errorf("records %+v %v", recs, err)
	}
	al, err := c.Alarms(ctx, 10)
	if err != nil || len(al.Active) != 0 || len(al.History) != 1 || al.History[0].ID != "a-3" || al.History[0].Probability != 1e-7 {
		t.Errorf("alarms %+v %v", al, err)
	}
	st, err = c.Stop(ctx)
	if err != nil || st.Running || st.Run.Windows != 5 {
		t.Errorf("stop %+v %v", st, err)
	}
}

func TestClientToken(t *testing.T) {
	cfg := api.DefaultConfig()
	cfg.Token = "0123456789abcdef-secret"
	srv, _ := server(t, cfg)
	c, _ := New(srv.URL)
	if err := c.Ping(t.Context()); err != nil {
		t.Errorf("ping needs no token: %v", err)
	}
	if _, err := c.Status(t.Context()); StatusCode(err) != 401 || !strings.Contains(err.Error(), "token") {
		t.Errorf("without token: %v", err)
	}
	c, _ = New(srv.URL+"/", WithToken(cfg.Token))
	if _, err := c.Status(t.Context()); err != nil {
		t.Errorf("with token: %v", err)
	}
	if _, err := c.Stream(t.Context(), StreamOptions{}); err != nil {
		t.Errorf("stream with token: %v", err)
	}
	c, _ = New(srv.URL)
	if _, err := c.Stream(t.Context(), StreamOptions{}); StatusCode(err) != 401 {
		t.Errorf("stream without token: %v", err)
	}
}

func TestClientUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "api.sock")
	endpoint := "unix://" + path
	cfg := api.DefaultConfig()
	cfg.Endpoint = endpoint
	s, err := api.New(cfg, &runner{}, api.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := api.Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	c, err := New(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Listen(cfg); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second listener on a served socket: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A socket file left behind (a crash) is replaced.
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	l, err = api.Listen(cfg)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l.Close()
	cfg.Endpoint = "unix://" + filepath.Join(t.TempDir(), "missing", "api.sock")
	if _, err := api.Listen(cfg); err == nil || !strings.Contains(err.Error(), "socket directory") {
		t.Errorf("missing directory: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	for _, bad := range []string{"", "localhost:11000", "ftp://x", "http://", "tcp://nohost"} {
		if _, err := New(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Nothing listens there.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	c, _ := New("tcp://" + addr)
	err := c.Ping(t.Context())
	if err == nil || StatusCode(err) != 0 || !strings.Contains(err.Error(), "/api/v1/ping") {
		t.Errorf("unreachable: %v", err)
	}
	// A context that ends stops the call.
	srv, _ := server(t, api.DefaultConfig())
	c, _ = New(srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Status(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// The stream delivers records and alarms, and comes back by itself after
// the connection drops, without losing what came meanwhile.
func TestStreamFollowsAndReconnects(t *testing.T) {
	srv, r := server(t, api.DefaultConfig())
	c, _ := New(srv.URL, WithToken(testToken))
	ctx := t.Context()
	if _, err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := c.Stream(ctx, StreamOptions{Events: []string{"record", "alarm"}, Retry: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r.write(t, rec(0, false))
	ev, err := s.Next()
	if err != nil || ev.Kind != "record" || ev.Record.Seq != 1 || ev.ID == "" {
		t.Fatalf("first event %+v %v", ev, err)
	}
	srv.CloseClientConnections()
	r.write(t, rec(1, true))
	r.write(t, rec(2, false))
	var got []string
	for len(got) < 3 {
		ev, err := s.Next()
		if err != nil {
			t.Fatal(err)
		}
		switch ev.Kind {
		case "record":
			got = append(got, "record "+ev.Record.Start.Format("05"))
		case "alarm":
			got = append(got, "alarm "+ev.Alarm.ID)
		}
	}
	if strings.Join(got, ",") != "alarm a-1,record 01,record 02" || s.Reconnects != 1 {
		t.Errorf("after reconnecting: %v (%d reconnects)", got, s.Reconnects)
	}
	s.Close()
	if _, err := s.Next(); err == nil {
		t.Error("Next after Close")
	}
	if _, err := c.Stream(ctx, StreamOptions{Events: []string{"data"}}); StatusCode(err) != 400 {
		t.Errorf("unknown event: %v", err)
	}
}

// Whatever the server sends, reading the stream returns events or errors,
// never a panic, and remembers the last id.
func FuzzStreamRead(f *testing.F) {
	f.Add("retry: 10\n\nid: e-1\nevent: record\ndata: {\"type\":\"data\",\"stats\":{}}\n\n: keep-alive\n\nevent: reset\ndata: {\"reason\":\"x\"}\n\n")
	f.Add("event: alarm\ndata: {\"type\":\"alarm\",\"side\":\"up\"}\n\nevent: status\ndata: {\"state\":1}\n\nevent: what\ndata\n\n")
	f.Add("data: a\ndata: b\nid\nretry: -5\n\n\n\nevent: record\n")
	f.Fuzz(func(t *testing.T, body string) {
		s := &Stream{sc: bufio.NewScanner(strings.NewReader(body)), retry: defaultRetry}
		for range 1000 {
			ev, ok, err := s.read()
			if !ok {
				break
			}
			if err == nil && ev.Kind == "record" && ev.Record == nil {
				t.Fatal("record event without a record")
			}
		}
		if s.retry <= 0 || s.retry > maxRetry {
			t.Fatalf("retry %v", s.retry)
		}
	})
}

// A refusal of the stream is read whole, even when it comes in pieces, so
// that the error carries the server's message.
func TestStreamRefusalReadWhole(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"missing or`))
		http.NewResponseController(w).Flush()
		time.Sleep(20 * time.Millisecond) // the first piece reaches the client alone
		_, _ = w.Write([]byte(` wrong token"}`))
	}))
	defer srv.Close()
	c, _ := New(srv.URL)
	_, err := c.Stream(t.Context(), StreamOptions{})
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized || e.Message != "missing or wrong token" {
		t.Errorf("refused stream: %v", err)
	}
}
