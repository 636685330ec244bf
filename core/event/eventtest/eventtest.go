// Package eventtest holds the fakes that tests of every stage share: a
// clock that moves only when told, and builders of Records.
package eventtest

import (
	"math"
	"sync"
	"time"

	"netspot/core/event"
)

// T0 is the start of window 0 of the Records built here.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Clock is a wall clock whose time moves only when the test says so.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock at T0.
func NewClock() *Clock { return &Clock{now: T0} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Record returns the Record of window i of a 1 s period starting at T0,
// with 100 packets and the given statistics.
func Record(i int, stats ...event.Stat) *event.Record {
	start := T0.Add(time.Duration(i) * time.Second)
	return &event.Record{Start: start, End: start.Add(time.Second), Packets: 100, Stats: stats}
}

// Stat returns a watched statistic with an upper threshold only.
func Stat(name string, value, up float64) event.Stat {
	return event.Stat{Name: name, Value: value, Up: up, Down: math.NaN()}
}

// Raise adds to r an alarm with id on stat, going up past threshold, and
// marks the statistic's alarm active. It returns r.
func Raise(r *event.Record, id, stat string, value, threshold float64) *event.Record {
	r.Alarms = append(r.Alarms, event.Alarm{
		ID: id, Stat: stat, Side: event.Up, Value: value, Threshold: threshold, Probability: 1e-6,
		Start: r.Start, End: r.End,
	})
	for i := range r.Stats {
		if r.Stats[i].Name == stat {
			r.Stats[i].AlarmID = id
		}
	}
	return r
}
