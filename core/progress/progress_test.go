package progress

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"netspot/core/sink/sinktest"
)

func TestDraw(t *testing.T) {
	var b strings.Builder
	Draw(&b, State{Packets: 2_500_000, Read: 50, Size: 200}, 2*time.Second)
	got := b.String()
	for _, want := range []string{"\r\033[K[=======", "]  25% ", "2.50M packets", "1.25M packets/s"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress line %q lacks %q", got, want)
		}
	}
	b.Reset()
	Draw(&b, State{Packets: 999}, 0) // a pipe: no bar
	if strings.Contains(b.String(), "%") || !strings.Contains(b.String(), "999 packets, 0 packets/s") {
		t.Errorf("no-size line %q", b.String())
	}
}

// The bar is redrawn until stopped, then its line is cleared.
func TestStart(t *testing.T) {
	var out sinktest.Buffer
	var n atomic.Uint64
	stop := Start(&out, func() State { return State{Packets: n.Add(1000)} })
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "packets/s") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	got := out.String()
	if strings.Count(got, "packets/s") < 2 || !strings.HasSuffix(got, "\r\033[K") {
		t.Errorf("progress output %q: want redraws, then the line cleared", got)
	}
}
