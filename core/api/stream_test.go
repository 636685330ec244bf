package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type sseEvent struct {
	name, id, data string
	comment        string
}

// readEvents parses a live stream until it ends; the channel closes then.
func readEvents(body io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 1024)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev != (sseEvent{}) {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "event: "):
				ev.name = line[7:]
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return out
}

// httpServer serves h for the test; it is closed after the streams the test
// opened (cleanups run last first).
func httpServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func openStream(t *testing.T, url, lastID string) (*http.Response, <-chan sseEvent) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url+"/api/v1/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res, readEvents(res.Body)
}

// next returns the next event that is not a comment (bounded wait).
func next(t *testing.T, evs <-chan sseEvent) sseEvent {
	t.Helper()
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatal("stream ended")
			}
			if ev.name != "" {
				return ev
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
	}
}

// nextNamed skips status events.
func nextNamed(t *testing.T, evs <-chan sseEvent, name string) sseEvent {
	t.Helper()
	for {
		if ev := next(t, evs); ev.name == name {
			return ev
		}
	}
}

func TestStreamLive(t *testing.T) {
	gate := make(chan struct{})
	fr := &fakeRunner{records: scenario(), gate: gate, stayUp: true}
	s, _ := testServer(t, DefaultConfig(), fr)
	srv := httpServer(t, s)

	res, evs := openStream(t, srv.URL, "")
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	first := next(t, evs)
	if first.name != "status" || decode[Status](t, first.data).State != Stopped {
		t.Fatalf("first event %+v", first)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := decode[Status](t, nextNamed(t, evs, "status").data); st.State != Starting {
		t.Errorf("status %s, want starting", st.State)
	}
	close(gate)
	var got []string
	for len(got) < 7 {
		ev := next(t, evs)
		if ev.name == "status" {
			continue
		}
		got = append(got, ev.name+" "+ev.id)
		switch ev.name {
		case "record":
			var r Record
			if err := json.Unmarshal([]byte(ev.data), &r); err != nil || r.Run != 1 || len(r.Stats) != 2 {
				t.Fatalf("record %s: %v", ev.data, err)
			}
		case "alarm":
			var a Alarm
			if err := json.Unmarshal([]byte(ev.data), &a); err != nil || a.ID != "a-1" || !a.Active {
				t.Fatalf("alarm %s: %v", ev.data, err)
			}
		}
	}
	want := "record e1-1,record e1-2,record e1-3,alarm e1-4,record e1-5,record e1-6,record e1-7"
	if strings.Join(got, ",") != want {
		t.Errorf("events\n%s\nwant\n%s", strings.Join(got, ","), want)
	}
}

// A client that comes back with the id of the last event it saw gets what
// it missed; one whose position is lost gets a reset.
func TestStreamResume(t *testing.T) {
	fr := &fakeRunner{records: scenario(), stayUp: true}
	s, _ := testServer(t, DefaultConfig(), fr)
	srv := httpServer(t, s)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the records", func() bool { return s.Status().Run.Windows == 6 })

	_, evs := openStream(t, srv.URL, "e1-5")
	if ev := next(t, evs); ev.name != "status" {
		t.Fatalf("first event %+v", ev)
	}
	if a, b := next(t, evs), next(t, evs); a.id != "e1-6" || b.id != "e1-7" {
		t.Errorf("resumed with %+v then %+v", a, b)
	}

	_, evs = openStream(t, srv.URL, "ffff-5")
	next(t, evs)
	if ev := next(t, evs); ev.name != "reset" || !strings.Contains(ev.data, "restarted") {
		t.Errorf("stale id: %+v", ev)
	}
}

func TestStreamKeepAliveAndFilter(t *testing.T) {
	clock := newClock()
	s, err := New(DefaultConfig(), &fakeRunner{}, Options{Epoch: "e1", Now: clock.Now, KeepAlive: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpServer(t, s)
	res, err := authGet(t, srv.URL+"/api/v1/stream?events=alarm")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	evs := readEvents(res.Body)
	select {
	case ev := <-evs:
		if ev.comment != "keep-alive" {
			t.Errorf("alarm-only stream sent %+v before any alarm", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no keep-alive")
	}
}

func TestStreamTooManyClients(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxClients = 1
	s, _ := testServer(t, cfg, &fakeRunner{})
	srv := httpServer(t, s)
	_, evs := openStream(t, srv.URL, "")
	next(t, evs)
	res, err := authGet(t, srv.URL+"/api/v1/stream")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 || res.Header.Get("Retry-After") == "" {
		t.Errorf("second client: %d", res.StatusCode)
	}
}

// Cancelling Serve's context stops the pipeline, ends the live streams and
// returns.
func TestServeShutsDownCleanly(t *testing.T) {
	fr := &fakeRunner{records: scenario(), stayUp: true}
	s, _ := testServer(t, DefaultConfig(), fr)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l) }()
	url := "http://" + l.Addr().String()
	_, evs := openStream(t, url, "")
	next(t, evs)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return")
	}
	if st := s.Status(); st.Running || st.Run.End != EndStopped {
		t.Errorf("pipeline after shutdown: %+v", st.Run)
	}
	for ev := range evs { // drains until the server closed the stream
		_ = ev
	}
	if err := s.Start(t.Context()); err != ErrClosed {
		t.Errorf("start after shutdown: %v", err)
	}
}

// authGet sends a GET with the test servers' token.
func authGet(t *testing.T, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	return http.DefaultClient.Do(req)
}
