package console

import (
	"bytes"
	"io"
	"os"
	"testing"

	"netspot/dev/ptytest"
)

// A terminal is told from a file or a pipe; colours are allowed on it
// unless NO_COLOR is set or TERM is dumb.
func TestDetectTerminal(t *testing.T) {
	_, tty := ptytest.Open(t)
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm-256color")
	if got := DetectTerminal(tty); got != (Terminal{IsTerminal: true, Color: true}) {
		t.Errorf("terminal: %+v", got)
	}
	t.Setenv("NO_COLOR", "1")
	if got := DetectTerminal(tty); got != (Terminal{IsTerminal: true}) {
		t.Errorf("NO_COLOR=1: %+v", got)
	}
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "dumb")
	if got := DetectTerminal(tty); got != (Terminal{IsTerminal: true}) {
		t.Errorf("TERM=dumb: %+v", got)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.Create(t.TempDir() + "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, out := range []io.Writer{w, f, &bytes.Buffer{}} {
		if got := DetectTerminal(out); got != (Terminal{}) {
			t.Errorf("%T: %+v, want no terminal", out, got)
		}
	}
}
