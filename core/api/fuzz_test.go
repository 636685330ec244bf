package api

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/pipeline"
)

// Any request gets an answer, never a panic: API errors are JSON objects
// with a message, and 405s list the allowed methods.
func FuzzHandler(f *testing.F) {
	for _, seed := range []struct{ method, target, ctype, body string }{
		{"GET", "/api/v1/status", "", ""},
		{"PUT", "/api/v1/config?dry_run=true", "application/toml", "[miner]\ndevice = 'eth1'\n"},
		{"PATCH", "/api/v1/config", "application/json", `{"analyzer.stats": ["R_SYN"], "miner": {"device": "x"}}`},
		{"PATCH", "/api/v1/config", "application/json", `{"a": {"b": {"c": [1, 2.5, "x", {"d": true}]}}}`},
		{"POST", "/api/v1/start", "", "{}"},
		{"POST", "/api/v1/stop", "", ""},
		{"GET", "/api/v1/records?since=3&limit=2", "", ""},
		{"GET", "/api/v1/alarms?limit=1", "", ""},
		{"GET", "/api/v1/stream?events=record,alarm", "", ""},
		{"POST", "/api/run", "application/x-www-form-urlencoded", "action=start"},
		{"POST", "/api/config", "application/json", `{"miner.device": "eth0"}`},
		{"GET", "/assets/app.js", "", ""},
		{"BREW", "/api/v1/config", "text/toml; charset=utf-8", "x"},
	} {
		f.Add(seed.method, seed.target, seed.ctype, "e1-2", seed.body)
	}
	fr := &fakeRunner{records: scenario(), stayUp: true}
	s, err := New(DefaultConfig(), fr, Options{Epoch: "e1", Devices: fakeDevices})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close(context.Background())
	f.Fuzz(func(t *testing.T, method, target, ctype, lastID, body string) {
		if !validMethod(method) || !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \x00\r\n\t#") {
			return // not an HTTP request: the server's parser refuses it before any handler
		}
		req, err := http.NewRequest(method, "http://localhost:11000"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Last-Event-ID", lastID)
		// The live stream ends when its client goes: here at once.
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code < 100 || w.Code > 599 {
			t.Fatalf("%s %s: status %d", method, target, w.Code)
		}
		if w.Code >= 400 && strings.HasPrefix(req.URL.Path, "/api/") {
			var e ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%s %s: %d with body %q", method, target, w.Code, w.Body)
			}
		}
		if w.Code == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
			t.Fatalf("%s %s: 405 without Allow", method, target)
		}
	})
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range m {
		if c < '!' || c > '~' || strings.ContainsRune(`()<>@,;:\"/[]?={}`, c) {
			return false
		}
	}
	return true
}

// A JSON configuration changes the configuration, or is refused with
// problems naming what is wrong; it never panics.
func FuzzConfigJSON(f *testing.F) {
	for _, seed := range []string{
		`{"spot.q": 1e-4, "spot": {"R_SYN": {"up": false}}}`,
		`{"a": {"b.c": [1, [2, 3], {"d": "e"}]}, "a.b.e": 9007199254740993}`,
		`{"x": 1e400}`, `{"x": null}`, `{"": 1}`, `{"a..b": 1}`, `{"a": 1, "a.b": 2}`, `[]`, `{} x`,
		`{"k": "\u0000\ud800"}`, `{"miner": {"device": "/etc/shadow"}}`, `{"analyzer.stats": "SYN_RATE,TRAFFIC"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		doc, err := config.ParseJSON("", []byte(in))
		if err == nil {
			doc.Restricted = true
			err = doc.Decode(pipeline.New().Sections()...)
		}
		if err != nil && configProblems(err) == nil {
			t.Fatalf("%q: error %v is not a configuration problem", in, err)
		}
	})
}

func FuzzParseEndpoint(f *testing.F) {
	for _, seed := range []string{"tcp://localhost:11000", "unix:///run/netspot/api.sock", "tcp6://[::1]:0", "tcp://[::1", "tcp://:99999"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		network, addr, err := ParseEndpoint(in)
		if err != nil {
			return
		}
		switch network {
		case "unix":
			if !strings.HasPrefix(addr, "/") || len(addr) > maxUnixPath {
				t.Fatalf("%q: socket path %q", in, addr)
			}
		case "tcp", "tcp4", "tcp6":
			if _, _, err := net.SplitHostPort(addr); err != nil {
				t.Fatalf("%q: address %q: %v", in, addr, err)
			}
		default:
			t.Fatalf("%q: network %q", in, network)
		}
	})
}

// Records encode to valid JSON that reads back to the same values, NaN and
// infinities as null (read back as NaN); arbitrary input never panics the
// decoders.
func FuzzRecordJSON(f *testing.F) {
	f.Add(0.5, math.Inf(1), math.NaN(), "R_SYN", "a-1", "link down", []byte(`{"type":"data","stats":{"X":{"value":null}}}`))
	f.Add(-1e308, 5e-324, 0.0, "é\"\\\n", "", "", []byte(`{"type":"alarm","side":"down","cleared":"2025-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, value, up, down float64, name, alarmID, captureErr string, raw []byte) {
		r := &event.Record{Start: t0, End: t0.Add(time.Second), CaptureErr: captureErr,
			Stats: []event.Stat{{Name: name, Value: value, Up: up, Down: down, AlarmID: alarmID}}}
		b := appendRecordJSON(nil, 1, 1, r)
		var back Record
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		st := back.Stats[0]
		if back.CaptureErr != strings.ToValidUTF8(captureErr, "\uFFFD") && strings.ToValidUTF8(captureErr, "") == captureErr {
			t.Fatalf("capture error %q read back as %q", captureErr, back.CaptureErr)
		}
		for _, pair := range [][2]float64{{value, st.Value}, {up, st.Up}, {down, st.Down}} {
			if finite := !math.IsNaN(pair[0]) && !math.IsInf(pair[0], 0); finite && pair[0] != pair[1] || !finite && !math.IsNaN(pair[1]) {
				t.Fatalf("%v read back as %v from %s", pair[0], pair[1], b)
			}
		}
		var rec Record
		_ = json.Unmarshal(raw, &rec)
		var a Alarm
		_ = json.Unmarshal(raw, &a)
	})
}
