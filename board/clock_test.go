package board

import (
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock whose time only moves when the test says so. Every
// NewTimer and Reset puts a token in armed: the board's goroutine re-arms
// its timer at the end of each step, so a token means "done reacting".
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	armed  chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{
		now:   time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		armed: make(chan struct{}, 4096),
	}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	t := &fakeTimer{clk: c, ch: make(chan time.Time, 1), at: c.now.Add(d), on: true}
	c.timers = append(c.timers, t)
	c.mu.Unlock()
	c.armed <- struct{}{}
	return t
}

type fakeTimer struct {
	clk *fakeClock
	ch  chan time.Time
	at  time.Time
	on  bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Reset(d time.Duration) {
	c := t.clk
	c.mu.Lock()
	t.drain()
	t.at, t.on = c.now.Add(d), true
	c.mu.Unlock()
	c.armed <- struct{}{}
}

func (t *fakeTimer) Stop() {
	c := t.clk
	c.mu.Lock()
	defer c.mu.Unlock()
	t.drain()
	t.on = false
	for i, o := range c.timers {
		if o == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			break
		}
	}
}

func (t *fakeTimer) drain() {
	select {
	case <-t.ch:
	default:
	}
}

// waitArmed waits until a timer is (re-)armed: the goroutine that owns it
// has finished reacting. The real-time bound only turns a hang into a
// failure; no timing depends on it.
func (c *fakeClock) waitArmed(t testing.TB) {
	t.Helper()
	select {
	case <-c.armed:
	case <-time.After(10 * time.Second):
		t.Fatal("no timer was armed: the goroutine under test is stuck")
	}
}

// fireNext fires the earliest armed timer due at or before limit, moving
// the time to its deadline. It reports false, changing nothing, when no
// timer is due.
func (c *fakeClock) fireNext(limit time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next *fakeTimer
	for _, tm := range c.timers {
		if tm.on && !tm.at.After(limit) && (next == nil || tm.at.Before(next.at)) {
			next = tm
		}
	}
	if next == nil {
		return false
	}
	if next.at.After(c.now) {
		c.now = next.at
	}
	next.on = false
	next.ch <- c.now
	return true
}

// advance moves the time forward by d, firing every timer due on the way
// in order and waiting for its owner to re-arm before going on.
func (c *fakeClock) advance(t testing.TB, d time.Duration) {
	t.Helper()
	c.advanceTo(t, c.Now().Add(d))
}

func (c *fakeClock) advanceTo(t testing.TB, target time.Time) {
	t.Helper()
	for c.fireNext(target) {
		c.waitArmed(t)
	}
	c.mu.Lock()
	if target.After(c.now) {
		c.now = target
	}
	c.mu.Unlock()
}

func TestSystemClockTimer(t *testing.T) {
	var c Clock = SystemClock{}
	start := c.Now()
	tm := c.NewTimer(time.Hour)
	tm.Reset(time.Millisecond)
	select {
	case <-tm.C():
	case <-time.After(10 * time.Second):
		t.Fatal("reset timer never fired")
	}
	tm.Stop()
	if c.Now().Before(start) {
		t.Fatal("system clock went backwards")
	}
}
