package main

import (
	"strings"
	"testing"
	"time"
)

func TestDrawProgress(t *testing.T) {
	var b strings.Builder
	drawProgress(&b, 2_500_000, 50, 200, 2*time.Second)
	got := b.String()
	for _, want := range []string{"\r\033[K[=======", "]  25% ", "2.50M packets", "1.25M packets/s"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress line %q lacks %q", got, want)
		}
	}
	b.Reset()
	drawProgress(&b, 999, 0, 0, 0) // live or unknown size: no bar
	if strings.Contains(b.String(), "%") || !strings.Contains(b.String(), "999 packets, 0 packets/s") {
		t.Errorf("no-size line %q", b.String())
	}
}
