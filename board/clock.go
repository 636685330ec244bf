package board

import "time"

// Clock is the board's source of time. The board's goroutine sleeps on one
// Timer between changes of its outputs, so that a test can step a fake
// clock from one change to the next instead of sleeping.
type Clock interface {
	Now() time.Time
	// NewTimer returns a started Timer that fires once after d.
	NewTimer(d time.Duration) Timer
}

// Timer fires once on its channel after its duration, like time.Timer
// (with the Go 1.23 semantics: after Reset or Stop returns, no value from
// the previous setting is received).
type Timer interface {
	C() <-chan time.Time
	// Reset makes the timer fire after d, whether or not it had fired.
	Reset(d time.Duration)
	Stop()
}

// SystemClock is the Clock of the running system.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (SystemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time   { return s.t.C }
func (s systemTimer) Reset(d time.Duration) { s.t.Reset(d) }
func (s systemTimer) Stop()                 { s.t.Stop() }
