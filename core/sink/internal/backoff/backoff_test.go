package backoff

import (
	"testing"
	"time"
)

func TestDoublesUpToMaxAndResets(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 10 * time.Second}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i, w := range want {
		if got := b.Next(); got != w*time.Second {
			t.Fatalf("wait %d = %v, want %v", i, got, w*time.Second)
		}
	}
	b.Reset()
	if got := b.Next(); got != time.Second {
		t.Errorf("after Reset, wait = %v, want 1s", got)
	}
}

func TestMinAboveMax(t *testing.T) {
	b := Backoff{Min: time.Minute, Max: time.Second}
	if got := b.Next(); got != time.Second {
		t.Errorf("wait = %v, want the ceiling 1s", got)
	}
}
