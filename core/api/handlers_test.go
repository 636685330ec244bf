package api

import (
	"context"
	"encoding/json"
	"errors"
	"netspot/core/stats"
	"slices"
	"strings"
	"testing"
	"time"
)

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("answer is not the expected JSON: %v\n%s", err, body)
	}
	return v
}

// Every error is a JSON object with an "error" message and the status code
// that fits; wrong methods get the allowed ones.
func TestRequestErrors(t *testing.T) {
	s, _ := testServer(t, DefaultConfig(), &fakeRunner{})
	big := strings.Repeat("#", maxConfigBody+1)
	for _, c := range []struct {
		method, target, body string
		header               []string
		code                 int
		message              string
	}{
		{"GET", "/api/v1/nope", "", nil, 404, "no such page or endpoint"},
		{"GET", "/nope", "", nil, 404, "no such page"},
		{"DELETE", "/api/v1/status", "", nil, 405, "allowed: GET, HEAD, OPTIONS"},
		{"POST", "/api/v1/config", "", nil, 405, "allowed: GET, HEAD, OPTIONS, PATCH, PUT"},
		{"GET", "/api/v1/start", "", nil, 405, "allowed: OPTIONS, POST"},
		{"GET", "/api/v1/status?verbose=1", "", nil, 400, `unknown query parameter "verbose"`},
		{"GET", "/api/v1/records?limit=0", "", nil, 400, "limit"},
		{"GET", "/api/v1/records?limit=abc", "", nil, 400, "limit"},
		{"GET", "/api/v1/records?since=-1", "", nil, 400, "since"},
		{"GET", "/api/v1/records?limit=1&limit=2", "", nil, 400, "given 2 times"},
		{"GET", "/api/v1/records?%zz", "", nil, 400, "unreadable query"},
		{"GET", "/api/v1/alarms?limit=100000000", "", nil, 400, "limit"},
		{"GET", "/api/v1/config?format=yaml", "", nil, 400, "format"},
		{"GET", "/api/v1/stream?events=data", "", nil, 400, `unknown event "data"`},
		{"PUT", "/api/v1/config", "x = 1", nil, 415, "Content-Type missing"},
		{"PUT", "/api/v1/config", "x = 1", []string{"Content-Type", "text/plain"}, 415, "application/toml or application/json"},
		{"PUT", "/api/v1/config", "x = 1", []string{"Content-Type", "application/toml; charset=latin1"}, 415, "only utf-8"},
		{"PUT", "/api/v1/config", "x = 1", []string{"Content-Type", "appli;cation/;;"}, 415, "unreadable Content-Type"},
		{"PUT", "/api/v1/config", big, []string{"Content-Type", "application/toml"}, 413, "larger than"},
		{"PUT", "/api/v1/config", "a = \"\xff\"", []string{"Content-Type", "application/toml"}, 400, "not UTF-8"},
		{"PUT", "/api/v1/config", "[1]", []string{"Content-Type", "application/json"}, 400, "expected a JSON object"},
		{"PUT", "/api/v1/config", "{", []string{"Content-Type", "application/json"}, 400, "not valid JSON"},
		{"PUT", "/api/v1/config", "{} {}", []string{"Content-Type", "application/json"}, 400, "more than one"},
		{"PUT", "/api/v1/config?dry_run=maybe", "", []string{"Content-Type", "application/toml"}, 400, "dry_run"},
		{"POST", "/api/v1/start", `{"device":"eth1"}`, nil, 400, "takes no body"},
		{"POST", "/api/v1/stop", "", nil, 409, "not running"},
		{"POST", "/api/run", `{"action":"jump"}`, []string{"Content-Type", "application/json"}, 400, "action jump is not supported"},
		{"POST", "/api/run", `{}`, []string{"Content-Type", "application/json"}, 400, "No 'action' key"},
		{"POST", "/api/run", `action=start`, []string{"Content-Type", "text/plain"}, 415, "application/json"},
		{"POST", "/api/config", `{}`, []string{"Content-Type", "application/toml"}, 415, "application/json"},
	} {
		w := do(t, s, c.method, c.target, c.body, c.header...)
		if w.Code != c.code {
			t.Errorf("%s %s: status %d, want %d (%s)", c.method, c.target, w.Code, c.code, w.Body)
			continue
		}
		if ct := w.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q", c.method, c.target, ct)
		}
		e := decode[ErrorBody](t, w.Body.String())
		if !strings.Contains(e.Error, c.message) {
			t.Errorf("%s %s: error %q, want %q", c.method, c.target, e.Error, c.message)
		}
		if c.code == 405 && w.Header().Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", c.method, c.target)
		}
	}
}

func TestOptionsAndHead(t *testing.T) {
	s, _ := testServer(t, DefaultConfig(), &fakeRunner{})
	w := do(t, s, "OPTIONS", "/api/v1/config", "")
	if w.Code != 204 || w.Header().Get("Allow") != "GET, HEAD, OPTIONS, PATCH, PUT" {
		t.Errorf("OPTIONS: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if w := do(t, s, "HEAD", "/api/v1/status", ""); w.Code != 200 {
		t.Errorf("HEAD: %d", w.Code)
	}
}

func TestPingHealthStatsDevices(t *testing.T) {
	s, _ := testServer(t, DefaultConfig(), &fakeRunner{})
	if w := do(t, s, "GET", "/api/v1/ping", ""); w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"status":"ok"}` {
		t.Errorf("ping: %d %s", w.Code, w.Body)
	}
	h := decode[Health](t, do(t, s, "GET", "/api/v1/health", "").Body.String())
	if h.Status != "ok" || h.State != Stopped {
		t.Errorf("health of a stopped server: %+v", h)
	}
	st := decode[struct{ Statistics []Statistic }](t, do(t, s, "GET", "/api/v1/stats", "").Body.String())
	found := false
	def := stats.Default()[0]
	for _, x := range st.Statistics {
		if x.Name == def {
			found = x.Default && x.Help != ""
		}
	}
	if len(st.Statistics) < 10 || !found {
		t.Errorf("stats: %+v", st)
	}
	// Every statistic has a kind, which the dashboard uses to label its
	// axis when there is no unit.
	kinds := map[string]string{}
	for _, x := range st.Statistics {
		kinds[x.Name] = x.Kind
		if !slices.Contains([]string{"ratio", "count", "rate", "average", "machine", "event"}, x.Kind) {
			t.Errorf("statistic %s: kind %q", x.Name, x.Kind)
		}
	}
	if kinds["R_SYN"] != "ratio" || kinds["NB_DST_PORT"] != "count" || kinds["TRAFFIC"] != "rate" || kinds["PERF"] != "machine" {
		t.Errorf("kinds %v", kinds)
	}
	devs := decode[struct{ Devices []Device }](t, do(t, s, "GET", "/api/v1/devices", "").Body.String())
	if len(devs.Devices) != 7 || devs.Devices[0].Name != "any" || devs.Devices[1].Addresses[0] != "192.168.1.2/24" {
		t.Errorf("devices: %+v", devs)
	}
	names := decode[[]string](t, do(t, s, "GET", "/api/devices", "").Body.String())
	if strings.Join(names, ",") != "any,eth0,eth1,eth2,eth3,eth5,eth9" {
		t.Errorf("legacy devices: %v", names)
	}
	legacy := decode[map[string]string](t, do(t, s, "GET", "/api/stats", "").Body.String())
	if legacy["R_SYN"] == "" {
		t.Errorf("legacy stats: %v", legacy)
	}
}

func TestSystemDevicesListLoopback(t *testing.T) {
	devs, err := systemDevices()
	if err != nil {
		t.Fatal(err)
	}
	if devs[0].Name != "any" {
		t.Errorf("first device %q, want any", devs[0].Name)
	}
	for _, d := range devs {
		if d.Loopback && d.Up && len(d.Addresses) > 0 {
			return
		}
	}
	t.Errorf("no loopback interface with an address in %+v", devs)
}

func TestConfigGetPutPatch(t *testing.T) {
	s, _ := testServer(t, DefaultConfig(), &fakeRunner{})
	toml := "application/toml"

	w := do(t, s, "GET", "/api/v1/config", "")
	m := decode[map[string]map[string]any](t, w.Body.String())
	if m["miner"]["device"] != "eth0" || m["analyzer"]["period"] != "1s" {
		t.Fatalf("config JSON %s", w.Body)
	}
	w = do(t, s, "GET", "/api/v1/config", "", "Accept", "application/toml")
	if !strings.HasPrefix(w.Header().Get("Content-Type"), toml) || !strings.Contains(w.Body.String(), `device = "eth0"`) {
		t.Fatalf("config TOML %q: %s", w.Header().Get("Content-Type"), w.Body)
	}

	// An invalid document names the key and line, and changes nothing.
	w = do(t, s, "PUT", "/api/v1/config", "[miner]\ndevice = 'eth1'\n\n[analyzer]\nperid = '2s'\n", "Content-Type", toml)
	e := decode[ErrorBody](t, w.Body.String())
	if w.Code != 400 || len(e.Problems) != 1 || e.Problems[0].Key != "analyzer.perid" || e.Problems[0].Line != 5 ||
		!strings.Contains(e.Error, "line 5: analyzer.perid: unknown key") {
		t.Errorf("invalid PUT: %d %s", w.Code, w.Body)
	}
	if s.Config().Miner.Device != "eth0" {
		t.Error("invalid document applied")
	}

	// A dry run checks without applying.
	w = do(t, s, "PUT", "/api/v1/config?dry_run=true", "[miner]\ndevice = 'eth1'\n", "Content-Type", toml)
	res := decode[ConfigResult](t, w.Body.String())
	if w.Code != 200 || !res.DryRun || res.Config["miner"].(map[string]any)["device"] != "eth1" || s.Config().Miner.Device != "eth0" {
		t.Errorf("dry run: %d %s, device now %s", w.Code, w.Body, s.Config().Miner.Device)
	}

	// PUT replaces: keys absent take defaults. PATCH merges.
	do(t, s, "PUT", "/api/v1/config", "[analyzer]\nperiod = '5s'\n", "Content-Type", toml)
	if c := s.Config(); c.Analyzer.Period.D() != 5*time.Second || c.Miner.Device != "eth0" {
		t.Fatalf("after PUT: %+v", c)
	}
	w = do(t, s, "PATCH", "/api/v1/config", `{"miner.device": "eth2", "analyzer": {"stats": ["R_SYN"]}}`, "Content-Type", "application/json")
	if c := s.Config(); w.Code != 200 || c.Analyzer.Period.D() != 5*time.Second || c.Miner.Device != "eth2" || len(c.Analyzer.Stats) != 1 {
		t.Fatalf("after PATCH: %d %s %+v", w.Code, w.Body, c)
	}
	// Errors from a JSON body name the key, without TOML lines.
	w = do(t, s, "PATCH", "/api/v1/config", `{"analyzer": {"period": 5}}`, "Content-Type", "application/json")
	e = decode[ErrorBody](t, w.Body.String())
	if w.Code != 400 || len(e.Problems) != 1 || e.Problems[0].Key != "analyzer.period" || e.Problems[0].Line != 0 {
		t.Errorf("JSON error: %d %s", w.Code, w.Body)
	}
	w = do(t, s, "PATCH", "/api/v1/config", `{"miner": {"device": null}}`, "Content-Type", "application/json")
	if e := decode[ErrorBody](t, w.Body.String()); w.Code != 400 || e.Problems[0].Key != "miner.device" || !strings.Contains(e.Error, "null") {
		t.Errorf("null value: %d %s", w.Code, w.Body)
	}

	// The original netspot's route: dotted keys, 201.
	w = do(t, s, "POST", "/api/config", `{"miner.device": "eth3"}`, "Content-Type", "application/json")
	if w.Code != 201 || s.Config().Miner.Device != "eth3" {
		t.Errorf("legacy config: %d %s", w.Code, w.Body)
	}
}

func TestStartRunStop(t *testing.T) {
	fr := &fakeRunner{records: scenario(), stayUp: true, sinks: nil}
	s, clock := testServer(t, DefaultConfig(), fr)
	w := do(t, s, "POST", "/api/v1/start", "")
	st := decode[Status](t, w.Body.String())
	if w.Code != 200 || !st.Running || st.Run == nil || st.Run.ID != 1 {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	waitFor(t, "the six records", func() bool { return s.Status().Run.Windows == 6 })
	clock.Advance(90 * time.Second)
	st = decode[Status](t, do(t, s, "GET", "/api/v1/status", "").Body.String())
	if st.State != Watching || st.Run.Packets != 600 || st.Run.Uptime != 90 || *st.Run.LearningLeft != 0 ||
		st.Run.LearningTotal != 4 || st.Run.Config.Device != "eth0" || st.Config.Period.D() != time.Second {
		t.Errorf("status %+v run %+v", st, st.Run)
	}
	if w := do(t, s, "POST", "/api/v1/start", "{}"); w.Code != 409 {
		t.Errorf("second start: %d %s", w.Code, w.Body)
	}

	recs := decode[RecordList](t, do(t, s, "GET", "/api/v1/records?limit=2", "").Body.String())
	if len(recs.Records) != 2 || !recs.Truncated || recs.LastID != "e1-7" || recs.Records[1].Seq != 7 {
		t.Errorf("records %+v", recs)
	}
	al := decode[AlarmList](t, do(t, s, "GET", "/api/v1/alarms", "").Body.String())
	if len(al.Active) != 0 || len(al.History) != 1 || al.History[0].ID != "a-1" || al.History[0].Peak != 0.9 {
		t.Errorf("alarms %+v", al)
	}

	// A configuration change while running applies at the next start.
	do(t, s, "PATCH", "/api/v1/config", `{"miner": {"device": "eth9"}}`, "Content-Type", "application/json")
	st = decode[Status](t, do(t, s, "GET", "/api/v1/status", "").Body.String())
	if !st.RestartRequired || st.Config.Device != "eth9" || st.Run.Config.Device != "eth0" {
		t.Errorf("after a change: %+v", st)
	}

	w = do(t, s, "POST", "/api/v1/stop", "")
	st = decode[Status](t, w.Body.String())
	if w.Code != 200 || st.Running || st.State != Stopped || st.Run.End != EndStopped || st.Run.Ended == nil {
		t.Errorf("stop: %d %s", w.Code, w.Body)
	}
	w = do(t, s, "POST", "/api/v1/start", "")
	if st := decode[Status](t, w.Body.String()); st.Run.ID != 2 || st.Run.Config.Device != "eth9" || st.RestartRequired {
		t.Errorf("restart: %s", w.Body)
	}
}

func TestRunEnds(t *testing.T) {
	fr := &fakeRunner{records: scenario()}
	s, _ := testServer(t, DefaultConfig(), fr)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the end of the file", func() bool { return !s.Status().Running })
	if st := s.Status(); st.State != Stopped || st.Run.End != EndFinished || st.Run.Windows != 6 {
		t.Errorf("finished run: %+v %+v", st, st.Run)
	}

	fr.failAfter = errors.New("capture: eth0: interface went away")
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failure", func() bool { return !s.Status().Running })
	st := s.Status()
	if st.State != Failed || st.Run.End != EndFailed || !strings.Contains(st.Run.Error, "went away") {
		t.Errorf("failed run: %+v %+v", st, st.Run)
	}
	w := do(t, s, "GET", "/api/v1/health", "")
	if h := decode[Health](t, w.Body.String()); w.Code != 503 || h.Status != "failing" || !strings.Contains(h.Problems[0], "went away") {
		t.Errorf("health after a failure: %d %s", w.Code, w.Body)
	}
}

func TestStartFailures(t *testing.T) {
	fr := &fakeRunner{failStart: ConfigErrors{{Key: "miner.device", Message: "no such interface or file: eth7"}}}
	s, _ := testServer(t, DefaultConfig(), fr)
	w := do(t, s, "POST", "/api/v1/start", "")
	e := decode[ErrorBody](t, w.Body.String())
	if w.Code != 400 || len(e.Problems) != 1 || e.Problems[0].Key != "miner.device" || !strings.Contains(e.Error, "could not start") {
		t.Errorf("bad device: %d %s", w.Code, w.Body)
	}
	fr.failStart = errors.New("capture: eth0: operation not permitted")
	w = do(t, s, "POST", "/api/v1/start", "")
	if e := decode[ErrorBody](t, w.Body.String()); w.Code != 500 || !strings.Contains(e.Error, "not permitted") {
		t.Errorf("permission: %d %s", w.Code, w.Body)
	}
	if st := s.Status(); st.State != Failed {
		t.Errorf("state after a failed start: %s", st.State)
	}
}

// A stop that takes longer than the client waits answers 202; the run goes
// on stopping.
func TestSlowStop(t *testing.T) {
	stuck := make(chan struct{})
	fr := &fakeRunner{stuck: stuck}
	s, _ := testServer(t, DefaultConfig(), fr)
	defer close(stuck)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if err := s.Stop(ctx); err == nil {
		t.Fatal("Stop returned before the runner did")
	}
	if st := s.Status(); st.State != Stopping || !st.Running {
		t.Errorf("state %s while stopping", st.State)
	}
}

func TestLegacyRun(t *testing.T) {
	fr := &fakeRunner{stayUp: true}
	s, _ := testServer(t, DefaultConfig(), fr)
	w := do(t, s, "POST", "/api/run", `{"action": "start"}`, "Content-Type", "application/json")
	if w.Code != 200 || w.Body.String() != "Analyzer has started" || !s.Status().Running {
		t.Fatalf("legacy start: %d %q", w.Code, w.Body)
	}
	// The original client sent a form.
	w = do(t, s, "POST", "/api/run", "action=stop", "Content-Type", "application/x-www-form-urlencoded")
	if w.Code != 200 || w.Body.String() != "Analyzer has stopped" || s.Status().Running {
		t.Fatalf("legacy stop: %d %q", w.Code, w.Body)
	}
	w = do(t, s, "POST", "/api/run", "action=stop", "Content-Type", "application/x-www-form-urlencoded")
	if w.Code != 409 {
		t.Errorf("legacy stop when stopped: %d %s", w.Code, w.Body)
	}
}

func TestSinkStatsInStatus(t *testing.T) {
	fr := &fakeRunner{stayUp: true}
	fr.sinks = append(fr.sinks, sinkQueue("mqtt", 3, 2))
	s, _ := testServer(t, DefaultConfig(), fr)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := s.Status()
	if len(st.Sinks) != 1 || st.Sinks[0].Name != "mqtt" || st.Sinks[0].DroppedRecords != 3 || st.Sinks[0].DroppedAlarms != 2 {
		t.Errorf("sinks %+v", st.Sinks)
	}
}

func TestAuthentication(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Token = "0123456789abcdef-token"
	s, _ := testServer(t, cfg, &fakeRunner{})
	for _, c := range []struct {
		target, auth string
		code         int
	}{
		{"/api/v1/status", "", 401},
		{"/api/v1/status", "Bearer wrong-token-wrong-token", 401},
		{"/api/v1/status", "Basic MDEyMzQ1Njc4OWFiY2RlZi10b2tlbg==", 401},
		{"/api/v1/status", "Bearer 0123456789abcdef-token", 200},
		{"/api/v1/status", "bearer 0123456789abcdef-token", 200},
		{"/api/v1/stream?events=bad", "", 401},
		{"/api/config", "", 401},
		{"/api/v1/ping", "", 200},
		{"/api/ping", "", 200},
		{"/", "", 200},
		{"/assets/app.js", "", 200},
	} {
		var hdr []string
		if c.auth != "" {
			hdr = []string{"Authorization", c.auth}
		}
		w := do(t, s, "GET", c.target, "", hdr...)
		if w.Code != c.code {
			t.Errorf("%s with %q: %d, want %d", c.target, c.auth, w.Code, c.code)
		}
		if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.target)
		}
	}
}

// On a loopback endpoint, only loopback host names are served (DNS
// rebinding); requests from other sites that change something are refused.
func TestHostAndOriginChecks(t *testing.T) {
	s, _ := testServer(t, DefaultConfig(), &fakeRunner{})
	for host, code := range map[string]int{"localhost:11000": 200, "127.0.0.1:11000": 200, "[::1]:11000": 200,
		"app.localhost": 200, "evil.example:11000": 403, "192.168.1.5:11000": 403} {
		req := httptestRequest("GET", "/api/v1/status", "")
		req.Host = host
		w := serve(s, req)
		if w.Code != code {
			t.Errorf("host %s: %d, want %d", host, w.Code, code)
		}
	}
	w := do(t, s, "POST", "/api/v1/start", "", "Sec-Fetch-Site", "cross-site")
	if w.Code != 403 || !strings.Contains(w.Body.String(), "cross-origin") {
		t.Errorf("cross-site start: %d %s", w.Code, w.Body)
	}
	w = do(t, s, "POST", "/api/v1/stop", "", "Origin", "http://evil.example")
	if w.Code != 403 {
		t.Errorf("cross-origin stop: %d %s", w.Code, w.Body)
	}
	if w := do(t, s, "GET", "/api/v1/status", "", "Sec-Fetch-Site", "cross-site"); w.Code != 200 {
		t.Errorf("a cross-site read is harmless (no CORS: the page cannot read it): %d", w.Code)
	}

	open := DefaultConfig()
	open.Endpoint = "tcp://0.0.0.0:11000"
	s2, _ := testServer(t, open, &fakeRunner{})
	req := httptestRequest("GET", "/api/v1/status", "")
	req.Host = "netspot.lan:11000"
	if w := serve(s2, req); w.Code != 200 {
		t.Errorf("network endpoint refused its host name: %d", w.Code)
	}
}

func TestDashboardPage(t *testing.T) {
	s, _ := testServer(t, DefaultConfig(), &fakeRunner{})
	w := do(t, s, "GET", "/", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `<script src="/assets/app.js"`) ||
		!strings.Contains(w.Header().Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("page: %d %v", w.Code, w.Header())
	}
	for path, ctype := range map[string]string{"/assets/app.js": "javascript", "/assets/style.css": "text/css", "/assets/favicon.svg": "image/svg+xml"} {
		w := do(t, s, "GET", path, "")
		if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Type"), ctype) || w.Body.Len() == 0 {
			t.Errorf("%s: %d %s", path, w.Code, w.Header().Get("Content-Type"))
		}
	}
	if w := do(t, s, "GET", "/assets/", ""); w.Code != 404 {
		t.Errorf("directory listing: %d", w.Code)
	}
	if w := do(t, s, "GET", "/assets/missing.js", ""); w.Code != 404 {
		t.Errorf("missing asset: %d", w.Code)
	}
}

// Health reports a capture that stopped delivering windows, and recovers
// with the next window.
func TestHealthNoticesStalledCapture(t *testing.T) {
	fr := &fakeRunner{stayUp: true}
	s, clock := testServer(t, DefaultConfig(), fr)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if w := do(t, s, "GET", "/api/v1/health", ""); w.Code != 200 {
		t.Fatalf("just started: %d %s", w.Code, w.Body)
	}
	clock.Advance(stalledAfter*time.Second + stalledMargin + time.Second)
	w := do(t, s, "GET", "/api/v1/health", "")
	if h := decode[Health](t, w.Body.String()); w.Code != 503 || len(h.Problems) != 1 || !strings.Contains(h.Problems[0], "no window for 14s") {
		t.Fatalf("stalled: %d %s", w.Code, w.Body)
	}
	s.feed.write(1, record(0, 0.1, ""))
	if w := do(t, s, "GET", "/api/v1/health", ""); w.Code != 200 {
		t.Errorf("after a window: %d %s", w.Code, w.Body)
	}
	r := record(1, 0.1, "")
	r.CaptureErr = "eth0: interface down"
	s.feed.write(1, r)
	w = do(t, s, "GET", "/api/v1/health", "")
	if h := decode[Health](t, w.Body.String()); w.Code != 503 || !strings.Contains(h.Problems[0], "interface down") {
		t.Errorf("capture error: %d %s", w.Code, w.Body)
	}
}

func TestHeadOnStreamReturns(t *testing.T) {
	s, _ := testServer(t, DefaultConfig(), &fakeRunner{})
	w := do(t, s, "HEAD", "/api/v1/stream", "")
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/event-stream" || w.Body.Len() != 0 {
		t.Errorf("HEAD stream: %d %v %q", w.Code, w.Header(), w.Body)
	}
}
