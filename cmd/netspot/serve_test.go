package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"netspot/core/api"
	"netspot/core/api/client"
	"netspot/core/sink/sinktest"
)

// served is a `netspot serve` running in-process.
type served struct {
	stdout, stderr *sinktest.Buffer
	cancel         context.CancelFunc
	done           chan error
}

// startServe runs `netspot serve args...` until the test ends.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{stdout: &sinktest.Buffer{}, stderr: &sinktest.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	e := &env{stdin: strings.NewReader(""), stdout: s.stdout, stderr: s.stderr}
	go func() { s.done <- run(ctx, e, append([]string{"serve"}, args...)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	return s
}

// stop ends serve as SIGINT does and returns its error.
func (s *served) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
		return nil
	}
}

var dashboardLine = regexp.MustCompile(`dashboard=http://([^/\s]+)/`)

// address waits for serve to print where it listens.
func (s *served) address(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := dashboardLine.FindStringSubmatch(s.stderr.String()); m != nil {
			return m[1]
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve ended: %v\n%s", err, s.stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("serve printed no address:\n%s", s.stderr.String())
	return ""
}

// demoConfig writes the bundled demo's configuration with the capture's
// absolute path, and extra lines.
func demoConfig(t *testing.T, extra string) string {
	t.Helper()
	capture, err := filepath.Abs("../../dev/demo/demo.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	doc := `[miner]
device = "` + capture + `"

[analyzer]
period = "1s"
stats = ["TRAFFIC", "R_SYN", "R_ARP", "R_ICMP", "NB_DST_PORT", "NB_DST_ADDR", "R_DST_SRC_PORT"]

[spot]
n_init = 300
depth = 30
level = 0.95

[exporter.console]
alarm = false
` + extra
	p := filepath.Join(t.TempDir(), "netspot.toml")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The demo capture replayed through the API raises the alarms of its
// attacks, and every endpoint answers with the real pipeline.
func TestServeDemoThroughTheAPI(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "api.sock")
	s := startServe(t, "-c", demoConfig(t, ""), "--api.endpoint", "unix://"+sock, "-l", "debug")
	c, err := client.New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	waitFor(t, "the server", func() bool { return c.Ping(ctx) == nil })

	st, err := c.Start(ctx)
	if err != nil || st.Run == nil || !strings.HasSuffix(st.Run.Config.Device, "demo.pcapng") {
		t.Fatalf("start: %+v %v\n%s", st, err, s.stderr.String())
	}
	waitFor(t, "the end of the replay", func() bool {
		st, err = c.Status(ctx)
		return err == nil && !st.Running
	})
	if st.State != api.Stopped || st.Run.End != api.EndFinished || st.Run.Windows < 700 || st.Run.Packets != 30984 || *st.Run.LearningLeft != 0 {
		t.Fatalf("after the replay: %+v %+v\n%s", st, st.Run, s.stderr.String())
	}
	alarms, err := c.Alarms(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	raised := map[string]bool{}
	for _, a := range alarms.History {
		raised[a.Stat] = true
		// The scan starts at 09:08, the sweep at 09:10 (dev/demo/labels.json).
		if a.Start.Before(time.Date(2025, 3, 4, 9, 8, 0, 0, time.UTC)) || a.Active || a.Cleared.IsZero() {
			t.Errorf("alarm %+v", a)
		}
	}
	if !raised["NB_DST_PORT"] || !raised["R_ICMP"] {
		t.Errorf("alarms raised on %v, want the port scan (NB_DST_PORT) and the ping sweep (R_ICMP)", raised)
	}
	recs, err := c.Records(ctx, 0, 10)
	if err != nil || len(recs.Records) != 10 || len(recs.Records[9].Stats) != 7 {
		t.Fatalf("records: %+v %v", recs, err)
	}
	if _, err := c.Stop(ctx); client.StatusCode(err) != 409 {
		t.Errorf("stop after the end: %v", err)
	}

	// The configuration: the editor's TOML is complete and round-trips.
	doc, err := c.ConfigTOML(ctx)
	if err != nil || !strings.Contains(string(doc), "n_init = 300") || !strings.Contains(string(doc), "[api]") {
		t.Fatalf("TOML: %v\n%s", err, doc)
	}
	if _, err := c.PutConfig(ctx, doc); err != nil {
		t.Errorf("the server's own TOML: %v", err)
	}
	_, err = c.PatchConfig(ctx, map[string]any{"api": map[string]any{"history": 10}})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.StatusCode != 403 || len(ce.Problems) != 1 || ce.Problems[0].Key != "api.history" || !strings.Contains(ce.Message, "applies when netspot serve starts") {
		t.Errorf("changing [api]: %v", err)
	}
	if _, err := c.PatchConfig(ctx, map[string]any{"spot": map[string]any{"R_SYN": map[string]any{"q": 1e-5}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PatchConfig(ctx, map[string]any{"spot.R_SYN.level": 0.9, "spot.TRAFFIC.down": true}); err != nil {
		t.Fatal(err)
	}
	doc, _ = c.ConfigTOML(ctx)
	if !strings.Contains(string(doc), "[spot.R_SYN]\nq = 1e-05\nlevel = 0.9\n") || !strings.Contains(string(doc), "[spot.TRAFFIC]\ndown = true\n") {
		t.Errorf("per-statistic tables not merged:\n%s", doc)
	}
	// A file outside [api] capture_dir (not set here) is refused,
	// whether it exists or not.
	for _, device := range []string{"/nonexistent/capture.pcap", "/etc/passwd"} {
		err = c.SetDevice(ctx, device)
		if !errors.As(err, &ce) || ce.StatusCode != 403 || ce.Problems[0].Key != "miner.device" {
			t.Errorf("device %s: %v", device, err)
		}
	}

	if err := s.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
}

func TestServeAutostart(t *testing.T) {
	s := startServe(t, "-c", demoConfig(t, "[api]\nautostart = true\nendpoint = \"tcp://127.0.0.1:0\"\n"))
	c, err := client.New("tcp://" + s.address(t))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replay", func() bool {
		st, err := c.Status(t.Context())
		return err == nil && st.Run != nil && st.Run.End == api.EndFinished
	})
}

func TestServeSetupErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"extra"}, exitUsage, "unexpected argument"},
		{[]string{"--nope"}, exitUsage, "unknown flag"},
		{[]string{"-l", "loud"}, exitUsage, "log-level"},
		{[]string{"--api.endpoint", "http://localhost:1"}, exitUsage, "api.endpoint"},
		{[]string{"-c", filepath.Join(dir, "missing.toml")}, exitConfig, "missing.toml"},
		{[]string{"-c", demoConfig(t, "[api]\ntoken_file = \""+filepath.Join(dir, "none")+"\"\n")}, exitConfig, "api.token_file"},
		{[]string{"-c", demoConfig(t, "[api]\ntoken = \"short\"\n")}, exitConfig, ":16: api.token"},
		{[]string{"--api.endpoint", "unix://" + filepath.Join(dir, "no", "api.sock")}, exitFailure, "socket directory"},
	} {
		var out, errb bytes.Buffer
		err := run(context.Background(), &env{stdout: &out, stderr: &errb}, append([]string{"serve"}, c.args...))
		if exitCode(err) != c.code || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("serve %v: exit %d (%v), want %d and %q", c.args, exitCode(err), err, c.code, c.want)
		}
	}
}

func TestServeHelp(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &env{stdout: &out, stderr: &out}, []string{"serve", "--help"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Usage: netspot serve", "--api.endpoint", "--config", "--log-level", "--api.autostart"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
