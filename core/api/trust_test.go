package api

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"netspot/core/pipeline"
	"netspot/core/sink"
	"netspot/core/sink/file"
)

// An API on TCP without a token shows everything it shows otherwise but
// changes nothing, and says why in the status and in every refusal.
func TestTCPWithoutTokenIsReadOnly(t *testing.T) {
	clock := newClock()
	s, err := New(DefaultConfig(), &fakeRunner{}, Options{Now: clock.Now, Devices: fakeDevices, Config: testDefaults(), Defaults: testDefaults})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, target, ctype, body string }{
		{"POST", "/api/v1/start", "", ""},
		{"POST", "/api/v1/stop", "", ""},
		{"PATCH", "/api/v1/config", "application/json", `{"spot.q": 1e-3}`},
		{"PUT", "/api/v1/config", "application/toml", "[spot]\nq = 1e-3\n"},
		{"POST", "/api/config", "application/json", `{"spot.q": 1e-3}`},
		{"POST", "/api/run", "application/json", `{"action": "start"}`},
	} {
		req := httptestRequest(c.method, c.target, c.body)
		req.Header.Del("Authorization")
		req.Host = "localhost:11000"
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		w := serve(s, req)
		if w.Code != 403 || !strings.Contains(w.Body.String(), "read-only") {
			t.Errorf("%s %s: %d %s", c.method, c.target, w.Code, w.Body)
		}
	}
	req := httptestRequest("GET", "/api/v1/status", "")
	req.Header.Del("Authorization")
	req.Host = "localhost:11000"
	w := serve(s, req)
	st := decode[Status](t, w.Body.String())
	if w.Code != 200 || !st.ReadOnly || !strings.Contains(st.ReadOnlyReason, "[api] token") {
		t.Errorf("status: %d %s", w.Code, w.Body)
	}
	if s.Config().Spot.Q == 1e-3 {
		t.Error("the configuration changed")
	}
}

// Through the API, the capture device is an interface, or a file inside
// capture_dir: never another file of the machine, whether it exists or not.
func TestDeviceThroughTheAPI(t *testing.T) {
	dir := t.TempDir()
	captures := filepath.Join(dir, "captures")
	if err := os.Mkdir(captures, 0o755); err != nil {
		t.Fatal(err)
	}
	inFile := filepath.Join(captures, "office.pcap")
	outFile := filepath.Join(dir, "secret")
	for _, f := range []string{inFile, outFile} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outFile, filepath.Join(captures, "escape.pcap")); err != nil {
		t.Fatal(err)
	}
	for _, withDir := range []bool{false, true} {
		cfg := DefaultConfig()
		if withDir {
			cfg.CaptureDir = captures
		}
		s, _ := testServer(t, cfg, &fakeRunner{})
		for device, allowed := range map[string]bool{
			"eth1":                                  true,
			"any":                                   true,
			inFile:                                  withDir,
			captures + "/../captures/office.pcap":   withDir,
			outFile:                                 false,
			"/etc/shadow":                           false,
			"/nonexistent":                          false,
			filepath.Join(captures, "escape.pcap"):  false,
			filepath.Join(captures, "missing.pcap"): false,
			captures:                                false,
		} {
			w := do(t, s, "PATCH", "/api/v1/config", `{"miner.device": "`+device+`"}`, "Content-Type", "application/json")
			if allowed != (w.Code == 200) || !allowed && (w.Code != 403 || !strings.Contains(w.Body.String(), "miner.device")) {
				t.Errorf("capture_dir %v, device %s: %d %s", withDir, device, w.Code, w.Body)
			}
		}
	}
}

// Paths, credentials, endpoints and the [api] section are read-only through
// the API; secrets are never shown. What GET returns can be sent back.
func TestPathsAndSecretsThroughTheAPI(t *testing.T) {
	conf := pipeline.New(file.Factory())
	conf.Miner.Device = "eth0"
	conf.Analyzer.StateFile = "/var/lib/netspot/state.json"
	cfg := DefaultConfig()
	cfg.Token = "a-very-secret-token-123"
	s, err := New(cfg, &fakeRunner{}, Options{Config: conf, Devices: fakeDevices, Defaults: func() *pipeline.Config { return pipeline.New(file.Factory()) }})
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, target, ctype, body string) (int, string) {
		req := httptestRequest(method, target, body)
		req.Header.Set("Authorization", "Bearer "+cfg.Token)
		req.Host = "localhost:11000"
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		w := serve(s, req)
		return w.Code, w.Body.String()
	}
	for _, body := range []string{
		`{"analyzer": {"state_file": "/etc/cron.d/x"}}`,
		`{"exporter.file.data": "/root/.ssh/authorized_keys"}`,
		`{"api": {"token": "another-token-0123456"}}`,
		`{"api.endpoint": "tcp://0.0.0.0:11000"}`,
		`{"api.capture_dir": "/"}`,
	} {
		code, text := call("PATCH", "/api/v1/config", "application/json", body)
		if code != 403 || !strings.Contains(text, "edit the config file over SSH") {
			t.Errorf("%s: %d %s", body, code, text)
		}
	}
	if got := s.Config().Analyzer.StateFile; got != "/var/lib/netspot/state.json" {
		t.Errorf("state_file now %q", got)
	}
	// A PUT of a partial document keeps the file's paths.
	if code, text := call("PUT", "/api/v1/config", "application/toml", "[spot]\nq = 1e-3\n"); code != 200 {
		t.Fatalf("PUT: %d %s", code, text)
	}
	if c := s.Config(); c.Analyzer.StateFile != "/var/lib/netspot/state.json" || c.Spot.Q != 1e-3 {
		t.Errorf("after PUT: state_file %q, q %v", c.Analyzer.StateFile, c.Spot.Q)
	}
	for _, target := range []string{"/api/v1/config", "/api/v1/config?format=toml", "/api/config"} {
		code, text := call("GET", target, "", "")
		if code != 200 || strings.Contains(text, cfg.Token) || !strings.Contains(text, "token") {
			t.Errorf("GET %s: %d, shows the token or no trace of it:\n%s", target, code, text)
		}
	}
	// The JSON read back, sent back, changes nothing and is accepted.
	_, shown := call("GET", "/api/v1/config", "", "")
	if code, text := call("PUT", "/api/v1/config", "application/json", shown); code != 200 {
		t.Errorf("GET's JSON sent back: %d %s", code, text)
	}
}

// A Unix socket endpoint gets the configured permissions from its
// creation, and allows changes without a token.
func TestUnixSocketPermissions(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Endpoint = "unix://" + filepath.Join(dir, "api.sock")
	cfg.SocketMode = "0660"
	l, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Stat(filepath.Join(dir, "api.sock"))
	if err != nil || fi.Mode().Perm() != 0o660 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("socket %v %v", fi.Mode(), err)
	}
	s, err := New(cfg, &fakeRunner{}, Options{Config: testDefaults(), Devices: fakeDevices})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.ReadOnly {
		t.Errorf("a Unix socket API is read-only: %s", st.ReadOnlyReason)
	}
	for _, mode := range []string{"0666", "0777", "rw", "1000"} {
		cfg.SocketMode = mode
		if err := cfg.Validate(); err == nil {
			t.Errorf("socket_mode %s accepted", mode)
		}
	}
	var _ net.Listener = l
	var _ sink.Sink
}

// A capture file accepted through the API and replaced by a link to a
// file outside capture_dir before the start is refused at the start.
func TestDeviceCheckedAgainAtStart(t *testing.T) {
	dir := t.TempDir()
	captures := filepath.Join(dir, "captures")
	if err := os.Mkdir(captures, 0o755); err != nil {
		t.Fatal(err)
	}
	capture := filepath.Join(captures, "office.pcap")
	if err := os.WriteFile(capture, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.CaptureDir = captures
	fr := &fakeRunner{}
	s, _ := testServer(t, cfg, fr)
	if w := do(t, s, "PATCH", "/api/v1/config", `{"miner.device": "`+capture+`"}`, "Content-Type", "application/json"); w.Code != 200 {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(capture); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, capture); err != nil {
		t.Fatal(err)
	}
	w := do(t, s, "POST", "/api/v1/start", "")
	if w.Code != 403 || !strings.Contains(w.Body.String(), "miner.device") {
		t.Errorf("start: %d %s", w.Code, w.Body)
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.runs != 0 {
		t.Error("the pipeline ran")
	}
}

// The config file's capture device is trusted, also when SIGHUP brings a
// new one: the run starts with it.
func TestReloadedFileDeviceTrusted(t *testing.T) {
	capture := filepath.Join(t.TempDir(), "office.pcap")
	if err := os.WriteFile(capture, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fr := &fakeRunner{}
	s, _ := testServer(t, DefaultConfig(), fr)
	c := testDefaults()
	c.Miner.Device = capture
	s.Reload(c)
	if w := do(t, s, "POST", "/api/v1/start", ""); w.Code/100 != 2 {
		t.Errorf("start with the reloaded file's device: %d %s", w.Code, w.Body)
	}
}
