package sink

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"netspot/core/event"
)

// recorder is a sink that records what it receives; gate, when set, blocks
// each Write until a value is sent on it.
type recorder struct {
	mu     sync.Mutex
	got    []*event.Record
	gate   chan struct{}
	fail   bool
	closed bool
}

func (r *recorder) Write(rec *event.Record) error {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rec)
	if r.fail {
		return errors.New("disk full")
	}
	return nil
}

func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

func (r *recorder) records() []*event.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*event.Record(nil), r.got...)
}

func data(i int) *event.Record { return &event.Record{Packets: uint64(i)} }

func alarm(i int) *event.Record {
	return &event.Record{Packets: uint64(i), Alarms: []event.Alarm{{ID: "a", Stat: "R_SYN"}}}
}

func TestDeliversInOrderToEverySink(t *testing.T) {
	f := NewFanOut(nil)
	a, b := &recorder{}, &recorder{}
	f.Add("a", a, 0)
	f.Add("b", b, 0)
	for i := range 100 {
		f.Publish(data(i))
	}
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*recorder{a, b} {
		got := r.records()
		if len(got) != 100 {
			t.Fatalf("got %d records, want 100", len(got))
		}
		for i, rec := range got {
			if rec.Packets != uint64(i) {
				t.Fatalf("record %d out of order: %d", i, rec.Packets)
			}
		}
		if !r.closed {
			t.Error("sink not closed")
		}
	}
}

// A stuck sink fills its queue: data-only records are dropped first and
// alarms survive; Publish never blocks; the other sink gets everything.
func TestSlowSinkDropsDataBeforeAlarms(t *testing.T) {
	f := NewFanOut(nil)
	slow := &recorder{gate: make(chan struct{})}
	fast := &recorder{}
	f.Add("slow", slow, 4)
	f.Add("fast", fast, 0)

	f.Publish(data(0)) // taken by the slow sink's goroutine, which then blocks
	waitFor(t, func() bool { return f.Stats()[0].Queued == 0 })
	f.Publish(alarm(1))
	for i := 2; i < 10; i++ {
		f.Publish(data(i))
	}
	f.Publish(alarm(10))
	st := f.Stats()[0]
	if st.Queued != 4 || st.DroppedRecords != 6 || st.DroppedAlarms != 0 {
		t.Fatalf("stats %+v, want 4 queued, 6 dropped, no alarm lost", st)
	}
	close(slow.gate)
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, r := range slow.records() {
		got = append(got, r.Packets)
	}
	want := []uint64{0, 1, 8, 9, 10}
	if len(got) != len(want) {
		t.Fatalf("slow sink got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("slow sink got %v, want %v", got, want)
		}
	}
	if n := len(fast.records()); n != 11 {
		t.Errorf("fast sink got %d records, want 11", n)
	}
}

// When a queue holds nothing but alarms, the oldest alarm is dropped and
// the loss is reported by Close, never silent.
func TestQueueFullOfAlarmsReportsLoss(t *testing.T) {
	f := NewFanOut(nil)
	slow := &recorder{gate: make(chan struct{})}
	f.Add("slow", slow, 2)
	f.Publish(alarm(0))
	waitFor(t, func() bool { return f.Stats()[0].Queued == 0 })
	for i := 1; i <= 3; i++ {
		f.Publish(alarm(i))
	}
	if st := f.Stats()[0]; st.DroppedAlarms != 1 {
		t.Fatalf("stats %+v, want one alarm dropped", st)
	}
	close(slow.gate)
	err := f.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "1 alarms were not delivered") {
		t.Fatalf("Close = %v, want the alarm loss reported", err)
	}
}

// Close gives up on a sink that never returns when its context ends, and
// still closes it.
func TestCloseIsBounded(t *testing.T) {
	f := NewFanOut(nil)
	stuck := &recorder{gate: make(chan struct{})}
	f.Add("stuck", stuck, 0)
	f.Publish(data(0))
	f.Publish(alarm(1))
	waitFor(t, func() bool { return f.Stats()[0].Queued == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.Close(ctx) }()
	// The stuck Write returns only once Close has given up and closed the
	// sink; release it then, as a real sink's Close would.
	waitFor(t, func() bool { stuck.mu.Lock(); defer stuck.mu.Unlock(); return stuck.closed })
	close(stuck.gate)
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "alarms were not delivered") {
		t.Fatalf("Close = %v, want the abandoned alarm reported", err)
	}
}

func TestFailuresAreCounted(t *testing.T) {
	f := NewFanOut(nil)
	bad := &recorder{fail: true}
	f.Add("bad", bad, 0)
	for i := range 3 {
		f.Publish(data(i))
	}
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats()[0]; st.Failed != 3 || st.Delivered != 0 {
		t.Errorf("stats %+v, want 3 failed", st)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
