package board

import "time"

// pattern is a repeating rhythm of alternating on and off durations,
// starting with on. Every duration is positive.
type pattern []time.Duration

// The status and alarm LED rhythms.
var (
	// heartbeat: two short blinks every two seconds, while learning.
	heartbeat = pattern{100 * time.Millisecond, 200 * time.Millisecond, 100 * time.Millisecond, 1600 * time.Millisecond}
	// fastBlink: 5 Hz, when capture or the uplink fails.
	fastBlink = pattern{100 * time.Millisecond, 100 * time.Millisecond}
	// slowBlink: 1 Hz, alarm cleared but not acknowledged.
	slowBlink = pattern{500 * time.Millisecond, 500 * time.Millisecond}
)

// at returns the level of p at now for a rhythm started at from, and the
// time of its next change.
func (p pattern) at(from, now time.Time) (on bool, next time.Time) {
	var cycle time.Duration
	for _, d := range p {
		cycle += d
	}
	elapsed := now.Sub(from)
	if elapsed < 0 || cycle <= 0 {
		// Not started yet (or degenerate): off until it starts.
		return false, from
	}
	pos := elapsed % cycle
	base := now.Add(-pos)
	var t time.Duration
	for i, d := range p {
		t += d
		if pos < t {
			return i%2 == 0, base.Add(t)
		}
	}
	return false, base.Add(cycle) // unreachable: pos < cycle
}
