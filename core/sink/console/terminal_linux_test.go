package console

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal and returns its two ends.
func openPty(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pseudo-terminal number: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// A terminal is told from a file or a pipe; colours are allowed on it
// unless NO_COLOR is set or TERM is dumb.
func TestDetectTerminal(t *testing.T) {
	_, tty := openPty(t)
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
