package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"netspot/core/pipeline"
)

// progressEvery is how often the progress bar is redrawn.
const progressEvery = 250 * time.Millisecond

// startProgress draws a progress bar with the packet rate on stderr while a
// capture file is replayed, when stderr is a terminal. The returned function
// stops it and clears the line.
func startProgress(e *env, m *pipeline.Running) (stop func()) {
	if m.Live() || !e.stderrIsTerminal {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		start := time.Now()
		for {
			select {
			case <-done:
				fmt.Fprint(e.stderr, "\r\033[K")
				return
			case now := <-t.C:
				p := m.Progress()
				drawProgress(e.stderr, p.Packets, p.BytesRead, p.FileSize, now.Sub(start))
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// drawProgress writes one progress line: a bar when the size is known, the
// packets so far and the average rate.
func drawProgress(w io.Writer, packets uint64, read, size int64, elapsed time.Duration) {
	const width = 30
	bar := ""
	if size > 0 {
		frac := min(float64(read)/float64(size), 1)
		n := int(frac * width)
		bar = fmt.Sprintf("[%s%s] %3.0f%% ", strings.Repeat("=", n), strings.Repeat(" ", width-n), frac*100)
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(packets) / s
	}
	fmt.Fprintf(w, "\r\033[K%s%s packets, %s packets/s", bar, si(float64(packets)), si(rate))
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
