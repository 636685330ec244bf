package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"netspot/dev/ptytest"
)

// On a terminal, the console is a table by default, alarms in colour
// unless NO_COLOR is set; into a pipe it stays JSON.
func TestConsoleOnATerminal(t *testing.T) {
	bin := buildNetspot(t)
	capture := generated(t)
	cfg := writeConfig(t, goldenConfig)
	var environ []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NO_COLOR=") && !strings.HasPrefix(kv, "TERM=") {
			environ = append(environ, kv)
		}
	}
	onTerminal := func(extra ...string) string {
		t.Helper()
		master, tty := ptytest.Open(t)
		cmd := exec.Command(bin, "run", "-c", cfg, "-r", capture, "-v", "-l", "warn")
		cmd.Env = append(append([]string{}, environ...), extra...)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = tty, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tty.Close()
		var out bytes.Buffer
		done := make(chan struct{})
		go func() { io.Copy(&out, master); close(done) }() // ends with EIO when netspot exits
		if err := cmd.Wait(); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		<-done
		return out.String()
	}
	colour := onTerminal("TERM=xterm-256color")
	if !strings.HasPrefix(colour, "\x1b[1mUTC 2025-03-04  PACKETS") || !strings.Contains(colour, "\x1b[1;31mALARM 2025-03-04") || strings.Contains(colour, `"type":"data"`) {
		t.Errorf("on a terminal: no coloured table:\n%.400q", colour)
	}
	plain := onTerminal("TERM=xterm-256color", "NO_COLOR=1")
	if !strings.HasPrefix(plain, "UTC 2025-03-04  PACKETS") || !strings.Contains(plain, "ALARM 2025-03-04") || strings.Contains(plain, "\x1b[") {
		t.Errorf("NO_COLOR=1: not a plain table:\n%.400q", plain)
	}
	piped, err := exec.Command(bin, "run", "-c", cfg, "-r", capture, "-v", "-l", "warn").Output()
	if err != nil || !strings.HasPrefix(string(piped), `{"type":"data"`) {
		t.Errorf("into a pipe: %v, not JSON:\n%.200s", err, piped)
	}
}
