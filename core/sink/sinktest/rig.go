package sinktest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"netspot/core/event"
	"netspot/core/sink"
)

// Rig is one sink behind a real fan-out, as the pipeline runs it, with
// retries of a few milliseconds. Logs holds what the sink and the fan-out
// logged.
type Rig struct {
	F      *sink.FanOut
	Logs   *Buffer
	closed bool
}

// Logger returns a debug logger writing to a new Buffer, for a sink made
// before its Rig.
func Logger() (*slog.Logger, *Buffer) {
	b := &Buffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// NewRig adds s, named name, to a new fan-out in mode, with the queue q
// (its retries made fast), logging to logs. The fan-out is closed when the
// test ends, if the test did not close it.
func NewRig(t testing.TB, name string, s sink.Sink, mode sink.Mode, q sink.QueueOptions, log *slog.Logger, logs *Buffer) *Rig {
	t.Helper()
	q.RetryMin, q.RetryMax = time.Millisecond, 5*time.Millisecond
	r := &Rig{F: sink.NewFanOut(log, mode), Logs: logs}
	r.F.Add(name, s, q)
	t.Cleanup(func() {
		if !r.closed {
			r.Close(t)
		}
	})
	return r
}

// Publish hands the Records to the fan-out, as the analyzer does.
func (r *Rig) Publish(rs ...*event.Record) {
	for _, rec := range rs {
		r.F.Publish(context.Background(), rec)
	}
}

// Close lets the fan-out deliver what is queued (for at most 10 s), then
// closes the sink.
func (r *Rig) Close(t testing.TB) {
	t.Helper()
	r.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.F.Close(ctx); err != nil {
		t.Errorf("fan-out Close: %v", err)
	}
}

// Stats returns the fan-out's counters of the sink.
func (r *Rig) Stats() sink.QueueStats { return r.F.Stats()[0] }

// WaitFor polls cond until it holds; the bound of 10 s only stops a
// broken test.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
