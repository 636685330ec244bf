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
