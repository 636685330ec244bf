package miner

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"netspot/core/capture"
	"netspot/core/event"
)

// Backoff between attempts to reopen a failed live source.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// spareWindows is how many windows each worker owns: one it fills, the
// others waiting to be merged.
const spareWindows = 3

// closed is one worker's finished window, sent to the coordinator.
type closed struct {
	k          int64
	w          *window
	free       chan<- *window // where the window goes back after merging
	start, end int64
	partial    bool
	busy       time.Duration
	drops      uint64
	err        string
}

// runLive captures until ctx is cancelled, starting the windows again from
// the new time whenever the wall clock is set (see the package doc).
func (m *Miner) runLive(ctx context.Context, emit func(*event.Snapshot)) error {
	for {
		step := m.runWindows(ctx, emit)
		if step == 0 || ctx.Err() != nil {
			return nil
		}
		m.log.Warn("the system clock was set; windows start again from the new time",
			"by", step, "now", m.clock.Now().UTC())
	}
}

// stepTolerance is how far the wall clock may move away from the time that
// really passed before the windows start again: a step smaller than a
// period cuts one window short or makes it longer, no more.
func (m *Miner) stepTolerance() time.Duration { return max(m.period, time.Second) }

// windowRun is what the workers of one run of windows share.
type windowRun struct {
	start  time.Time     // wall clock when the run started
	origin time.Duration // the clock's Elapsed then
	cancel context.CancelFunc
	step   atomic.Int64 // the step of the wall clock that ended the run (ns), 0 if none
}

// now is the wall clock as it would be had nobody set it since the run
// started.
func (r *windowRun) now(c Clock) time.Time { return r.start.Add(c.Elapsed() - r.origin) }

// runWindows runs one decoding loop per worker and merges their windows,
// until ctx is cancelled or a worker sees the wall clock set; it returns
// that step, 0 if none. The workers hand their sources back in m.sources.
func (m *Miner) runWindows(ctx context.Context, emit func(*event.Snapshot)) time.Duration {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := &windowRun{start: m.clock.Now(), origin: m.clock.Elapsed(), cancel: cancel}
	P := int64(m.period)
	start := run.start.UnixNano()
	k0 := floorDiv(start, P)
	if len(m.sources) == 0 {
		m.sources = make([]LiveSource, 1) // opened by the worker
	}
	n := len(m.sources)
	out := make(chan closed, n*spareWindows)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		src := m.sources[i]
		m.sources[i] = nil
		free := make(chan *window, spareWindows)
		for j := 0; j < spareWindows; j++ {
			free <- newWindow(m.seed)
		}
		wk := &worker{m: m, wr: run, id: i, src: src, out: out, free: free, k: k0, start: start}
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk.run(ctx)
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()

	// Windows are emitted in order once every worker delivered them; when
	// the workers stop, whatever is pending is emitted.
	type pending struct {
		w    *window
		got  int
		snap event.Snapshot
	}
	acc := map[int64]*pending{}
	next := k0
	var spares []*window // merge windows to reuse
	emitK := func(k int64) {
		p := acc[k]
		delete(acc, k)
		s := p.snap
		s.Counters = p.w.counters()
		m.packets.Add(s.Packets)
		m.dropped.Add(s.Dropped)
		emit(&s)
		p.w.reset()
		spares = append(spares, p.w)
	}
	for c := range out {
		p := acc[c.k]
		if p == nil {
			var w *window
			if len(spares) > 0 {
				w, spares = spares[len(spares)-1], spares[:len(spares)-1]
			} else {
				w = newWindow(m.seed)
			}
			p = &pending{w: w, snap: event.Snapshot{Start: time.Unix(0, c.start).UTC(), End: time.Unix(0, c.end).UTC()}}
			acc[c.k] = p
		}
		p.w.merge(c.w)
		c.w.reset()
		c.free <- c.w
		p.got++
		s := &p.snap
		if st := time.Unix(0, c.start).UTC(); st.After(s.Start) {
			s.Start = st
		}
		if e := time.Unix(0, c.end).UTC(); e.After(s.End) {
			s.End = e
		}
		s.Partial = s.Partial || c.partial
		s.Busy += c.busy
		s.Dropped += c.drops
		if c.err != "" && s.CaptureErr == "" {
			s.CaptureErr = c.err
		}
		for {
			if p := acc[next]; p != nil && p.got == n {
				emitK(next)
				next++
				continue
			}
			break
		}
	}
	for len(acc) > 0 {
		if acc[next] != nil {
			emitK(next)
		}
		next++
	}
	return time.Duration(run.step.Load())
}

// worker is one decoding loop on one live source.
type worker struct {
	m     *Miner
	wr    *windowRun
	id    int
	src   LiveSource
	out   chan<- closed
	free  chan *window
	k     int64 // current window
	start int64 // capture start (Unix ns)

	w       *window
	dec     *decoder
	mark    time.Time // when the current window's busy time started
	errMsg  string    // capture error in the current window
	broken  string    // last error while the source is down
	backoff time.Duration
	retry   time.Time
	// recovering is set between reopening a failed source and its first
	// packet or clean poll timeout.
	recovering bool
}

func (wk *worker) P() int64   { return int64(wk.m.period) }
func (wk *worker) end() int64 { return (wk.k + 1) * wk.P() }

// send hands the current window to the coordinator and takes a fresh one.
func (wk *worker) send(stop int64, partial bool) {
	c := closed{k: wk.k, w: wk.w, free: wk.free, start: max(wk.k*wk.P(), wk.start), end: stop, partial: partial, err: wk.errMsg}
	if c.start > wk.k*wk.P() {
		c.partial = true
	}
	now := wk.m.clock.Now()
	elapsed := now.Sub(wk.mark)
	wk.mark = now
	if wk.src != nil {
		st, err := wk.src.Stats()
		if err != nil && c.err == "" {
			c.err = err.Error()
		}
		c.drops = st.Drops
		elapsed -= st.Idle
	} else {
		elapsed = 0
	}
	c.busy = max(elapsed, 0)
	wk.out <- c
	wk.w = <-wk.free
	wk.errMsg = wk.broken
}

// closeUpTo closes every window that ends at or before t.
func (wk *worker) closeUpTo(t int64) {
	for wk.end() <= t {
		wk.send(wk.end(), false)
		wk.k++
	}
}

// advance closes the windows that end at or before t, a time just seen on
// the wall clock (a packet's or a poll timeout's), unless the wall clock was
// set: then it closes none and reports false, and the run is ending.
func (wk *worker) advance(t int64) bool {
	if t < wk.end() {
		return true
	}
	if wk.clockStepped() {
		return false
	}
	wk.closeUpTo(t)
	return true
}

// clockStepped reports whether the wall clock was set since the run
// started; if so it ends the run, which starts again from the new time.
func (wk *worker) clockStepped() bool {
	d := wk.m.clock.Now().Sub(wk.wr.now(wk.m.clock))
	if d.Abs() <= wk.m.stepTolerance() {
		return false
	}
	wk.wr.step.CompareAndSwap(0, int64(d))
	wk.wr.cancel()
	return true
}

// flush closes the windows up to now, and the current one as Partial. Now
// is taken on the clock of the run, so that a step of the wall clock opens
// no window.
func (wk *worker) flush() {
	now := wk.wr.now(wk.m.clock).UnixNano()
	wk.closeUpTo(now)
	wk.send(max(now, wk.k*wk.P()), true)
}

func (wk *worker) fail(err error) {
	msg := err.Error()
	if msg != wk.broken {
		wk.m.log.Warn("capture failed; retrying", "worker", wk.id, "err", msg)
	}
	wk.broken, wk.errMsg = msg, msg
	if wk.src != nil {
		wk.src.Close()
		wk.src = nil
	}
	if wk.backoff == 0 {
		wk.backoff = minBackoff
	}
	wk.retry = wk.m.clock.Now().Add(wk.backoff)
	wk.backoff = min(2*wk.backoff, maxBackoff)
}

func (wk *worker) run(ctx context.Context) {
	wk.w = <-wk.free
	wk.dec = newDecoder()
	wk.mark = wk.m.clock.Now()
	grace := int64(wk.m.grace)
	var pkt capture.Packet
	// The source goes back to the miner: Close closes it, and the next
	// run, after a step of the clock, reads it.
	defer func() { wk.m.sources[wk.id] = wk.src }()
	if wk.src == nil {
		wk.fail(errors.New("capture source not open"))
		wk.retry = wk.m.clock.Now()
	}
	for n := 0; ; n++ {
		if n&1023 == 0 && (ctx.Err() != nil || wk.clockStepped()) {
			wk.flush()
			return
		}
		if wk.src == nil {
			n = -1 // check the context at every turn
			now := wk.m.clock.Now()
			if !wk.advance(now.UnixNano()) {
				continue
			}
			if !now.Before(wk.retry) {
				src, err := wk.m.open(wk.id)
				if err != nil {
					wk.fail(err)
					continue
				}
				// The source is back once it delivers a packet or waits
				// without error: a socket bound to an interface that is
				// still down fails at once.
				wk.src, wk.recovering = src, true
				wk.mark = wk.m.clock.Now()
				continue
			}
			wait := min(wk.retry.Sub(now), time.Duration(wk.end()-now.UnixNano()))
			select {
			case <-ctx.Done():
			case <-wk.m.clock.After(wait):
			}
			continue
		}
		err := wk.src.Next(&pkt)
		if wk.recovering && (err == nil || errors.Is(err, capture.ErrTimeout)) {
			wk.m.log.Info("capture resumed", "worker", wk.id)
			wk.recovering, wk.broken, wk.backoff = false, "", 0
		}
		switch {
		case err == nil:
			if pkt.Time >= wk.end() && !wk.advance(pkt.Time) {
				n = -1 // the run ends: flush at the next turn
			}
			wk.dec.count(&pkt, wk.w)
		case errors.Is(err, capture.ErrTimeout):
			n = -1
			wk.advance(wk.m.clock.Now().UnixNano() - grace)
		default:
			n = -1
			wk.fail(err)
		}
	}
}
