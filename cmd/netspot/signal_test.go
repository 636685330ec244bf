package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"netspot/core/sink/sinktest"
)

// buildNetspot compiles the command once for process-level tests.
func buildNetspot(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "netspot")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// SIGTERM and SIGINT stop a live capture, flush every sink and exit 0.
func TestSignalsStopCleanly(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("live capture needs root (CAP_NET_RAW) and CI runs as root")
		}
		t.Skip("live capture on lo needs root (CAP_NET_RAW)")
	}
	bin := buildNetspot(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		dir := t.TempDir()
		data := filepath.Join(dir, "data.json")
		cmd := exec.Command(bin, "run", "-d", "lo", "-p", "100ms", "-v", "-f", data, "-s", "TRAFFIC")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for three records: capture is running.
		sc := bufio.NewScanner(stdout)
		for range 3 {
			if !sc.Scan() {
				cmd.Process.Kill()
				t.Fatalf("no records: %v\n%s", sc.Err(), stderr.String())
			}
		}
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		for sc.Scan() {
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%v: exit %v\n%s", sig, err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: netspot did not stop\n%s", sig, stderr.String())
		}
		b, err := os.ReadFile(data)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) < 3 || !strings.Contains(lines[len(lines)-1], `"partial":true`) {
			t.Errorf("%v: file sink not flushed with the last, partial window: %d lines, last %q", sig, len(lines), lines[len(lines)-1])
		}
		if !strings.Contains(stderr.String(), "netspot stopped") {
			t.Errorf("%v: no clean stop logged:\n%s", sig, stderr.String())
		}
	}
}

// SIGHUP reloads the config file: a valid one applies from the next
// window, an invalid one is refused with its problem and netspot goes on;
// it never ends netspot.
func TestSIGHUPReloads(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("live capture needs root (CAP_NET_RAW) and CI runs as root")
		}
		t.Skip("live capture on lo needs root (CAP_NET_RAW)")
	}
	bin := buildNetspot(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "netspot.toml")
	write := func(doc string) {
		if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("[miner]\ndevice = \"lo\"\n[analyzer]\nperiod = \"100ms\"\nstats = [\"TRAFFIC\"]\n")
	cmd := exec.Command(bin, "run", "-c", cfg, "-v")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr sinktest.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitLine := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, open := <-lines:
				if !open {
					t.Fatalf("netspot ended waiting for %s\n%s", what, stderr.String())
				}
				if ok(l) {
					return
				}
			case <-deadline:
				t.Fatalf("no record with %s\n%s", what, stderr.String())
			}
		}
	}
	waitLine("TRAFFIC", func(l string) bool { return strings.Contains(l, `"TRAFFIC"`) })

	write("[miner]\ndevice = \"lo\"\n[analyzer]\nperiod = \"100ms\"\nstats = [\"TRAFFIC\", \"SYN_RATE\"]\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLine("SYN_RATE after the reload", func(l string) bool { return strings.Contains(l, `"SYN_RATE"`) })

	write("[analyzer]\nperiod = 5\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "reload refused") {
		if time.Now().After(deadline) {
			t.Fatalf("no refusal logged:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "netspot.toml:2: analyzer.period: expected a duration string") {
		t.Errorf("the refusal does not name the key and line:\n%s", stderr.String())
	}
	waitLine("SYN_RATE still watched", func(l string) bool { return strings.Contains(l, `"SYN_RATE"`) })

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit %v\n%s", err, stderr.String())
	}
}
