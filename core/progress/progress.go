// Package progress draws the progress bar of a replay on a terminal: the
// share of the file read, the packets so far and their rate, redrawn in
// place a few times a second.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Every is how often the bar is redrawn.
const Every = 250 * time.Millisecond

// State is how far a replay got.
type State struct {
	Packets    uint64
	Read, Size int64 // bytes of the file read, and its size (0: unknown, e.g. a pipe)
}

// Start redraws the bar on w (a terminal) every Every with what state
// returns, until the returned function is called; it clears the line.
func Start(w io.Writer, state func() State) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(Every)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case now := <-t.C:
				Draw(w, state(), now.Sub(start))
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// Draw writes one progress line: a bar when the size is known, the packets
// so far and the average rate over elapsed.
func Draw(w io.Writer, s State, elapsed time.Duration) {
	const width = 30
	bar := ""
	if s.Size > 0 {
		frac := min(float64(s.Read)/float64(s.Size), 1)
		n := int(frac * width)
		bar = fmt.Sprintf("[%s%s] %3.0f%% ", strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100)
	}
	rate := 0.0
	if sec := elapsed.Seconds(); sec > 0 {
		rate = float64(s.Packets) / sec
	}
	fmt.Fprintf(w, "\r\033[K%s%s packets, %s packets/s", bar, si(float64(s.Packets)), si(rate))
}

// si formats n with a k/M/G suffix.
func si(n float64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fG", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}
