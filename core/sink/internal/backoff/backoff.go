// Package backoff spaces out the attempts of a sink to reach a peer that does
// not answer: the wait doubles after each failure, up to a ceiling, and starts
// again from the floor after a success, so that a box left alone for months
// neither hammers a dead server nor waits long once it is back.
package backoff

import "time"

// Backoff is the state of one peer's retries. The zero value is not usable:
// set Min and Max.
type Backoff struct {
	Min, Max time.Duration
	cur      time.Duration
}

// Next returns the wait before the next attempt after one more failure:
// Min, then twice the previous wait, never more than Max.
func (b *Backoff) Next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.Min
	case b.cur < b.Max/2:
		b.cur *= 2
	default:
		b.cur = b.Max
	}
	if b.cur > b.Max {
		b.cur = b.Max
	}
	return b.cur
}

// Reset forgets the failures: the next wait is Min again.
func (b *Backoff) Reset() { b.cur = 0 }
