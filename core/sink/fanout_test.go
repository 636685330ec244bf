package sink_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"netspot/core/event"
	"netspot/core/event/eventtest"
	"netspot/core/sink"
	"netspot/core/sink/sinktest"
)

func data(i int) *event.Record { return eventtest.Record(i) }

func alarm(i int) *event.Record {
	return eventtest.Raise(eventtest.Record(i, eventtest.Stat("R_SYN", 1, 0.5)), "a"+string(rune('0'+i%10)), "R_SYN", 1, 0.5)
}

// fast retries, for tests.
var fast = sink.QueueOptions{RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}

func withLen(n int) sink.QueueOptions {
	o := fast
	o.Len = n
	return o
}

func closeFanOut(t *testing.T, f *sink.FanOut) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func packets(rs []*event.Record) []uint64 {
	var out []uint64
	for _, r := range rs {
		out = append(out, uint64(r.Start.Sub(eventtest.T0)/time.Second))
	}
	return out
}

func TestDeliversInOrderToEverySink(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Live)
	a, b := &sinktest.Recorder{}, &sinktest.Recorder{}
	f.Add("a", a, fast)
	f.Add("b", b, fast)
	for i := range 100 {
		f.Publish(context.Background(), data(i))
	}
	closeFanOut(t, f)
	for _, r := range []*sinktest.Recorder{a, b} {
		got := packets(r.Records())
		if len(got) != 100 {
			t.Fatalf("%d records", len(got))
		}
		for i, p := range got {
			if p != uint64(i) {
				t.Fatalf("record %d is window %d", i, p)
			}
		}
		if !r.Closed() {
			t.Error("sink not closed")
		}
	}
}

func TestLiveSlowSinkDropsDataBeforeAlarms(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Live)
	gate, entered := make(chan struct{}), make(chan *event.Record, 10)
	slow := &sinktest.Recorder{Gate: gate, Entered: entered}
	f.Add("slow", slow, withLen(4))
	f.Publish(context.Background(), data(0))
	<-entered // window 0 is being written, blocked on the gate
	f.Publish(context.Background(), alarm(1))
	f.Publish(context.Background(), data(2))
	f.Publish(context.Background(), alarm(3))
	f.Publish(context.Background(), data(4)) // full: window 2 goes
	f.Publish(context.Background(), data(5)) // full: window 4 goes
	close(gate)
	closeFanOut(t, f)
	if got := packets(slow.Records()); !equal(got, []uint64{0, 1, 3, 5}) {
		t.Errorf("delivered windows %v, want [0 1 3 5]", got)
	}
	st := f.Stats()[0]
	if st.DroppedRecords != 2 || st.DroppedAlarms != 0 || st.Delivered != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestLiveQueueFullOfAlarmsReportsLoss(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Live)
	gate, entered := make(chan struct{}), make(chan *event.Record, 10)
	f.Add("slow", &sinktest.Recorder{Gate: gate, Entered: entered}, withLen(2))
	f.Publish(context.Background(), alarm(0))
	<-entered
	f.Publish(context.Background(), alarm(1))
	f.Publish(context.Background(), alarm(2)) // window 1's alarm is lost
	close(gate)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := f.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "1 alarms were not delivered") {
		t.Errorf("Close: %v", err)
	}
}

func TestReplayWaitsForSlowSinkAndLosesNothing(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Replay)
	slow := &sinktest.Recorder{Fail: func(int) error { time.Sleep(200 * time.Microsecond); return nil }}
	fastSink := &sinktest.Recorder{}
	f.Add("slow", slow, withLen(3))
	f.Add("fast", fastSink, withLen(3))
	for i := range 300 {
		f.Publish(context.Background(), data(i))
	}
	closeFanOut(t, f)
	for _, r := range []*sinktest.Recorder{slow, fastSink} {
		if got := packets(r.Records()); len(got) != 300 || got[299] != 299 {
			t.Fatalf("%d records delivered", len(got))
		}
	}
	if st := f.Stats()[0]; st.DroppedRecords != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestUnreachablePeerIsRetriedInOrderAndLoggedOncePerOutage(t *testing.T) {
	var log sinktest.Buffer
	f := sink.NewFanOut(slog.New(slog.NewTextHandler(&log, nil)), sink.Live)
	var down atomic.Bool
	down.Store(true)
	peer := &sinktest.Recorder{Fail: func(int) error {
		if down.Load() {
			return sink.Unreachable(errors.New("connection refused"))
		}
		return nil
	}}
	f.Add("peer", peer, withLen(100))
	for i := range 10 {
		f.Publish(context.Background(), data(i))
	}
	waitFor(t, func() bool { return peer.Calls() >= 5 })
	if st := f.Stats()[0]; !st.Unreachable || st.Retries < 5 || st.Delivered != 0 {
		t.Errorf("while down: %+v", st)
	}
	down.Store(false)
	closeFanOut(t, f)
	if got := packets(peer.Records()); len(got) != 10 || got[0] != 0 || got[9] != 9 {
		t.Errorf("delivered %v", got)
	}
	text := log.String()
	if n := strings.Count(text, "sink unreachable"); n != 1 {
		t.Errorf("outage logged %d times:\n%s", n, text)
	}
	if !strings.Contains(text, "sink reachable again") || !strings.Contains(text, "dropped_records=0") {
		t.Errorf("no recovery line:\n%s", text)
	}
	if st := f.Stats()[0]; st.Unreachable || st.Delivered != 10 {
		t.Errorf("after: %+v", st)
	}
}

func TestLiveOutageDropsDataKeepsAlarms(t *testing.T) {
	var log sinktest.Buffer
	f := sink.NewFanOut(slog.New(slog.NewTextHandler(&log, nil)), sink.Live)
	var down atomic.Bool
	down.Store(true)
	peer := &sinktest.Recorder{Fail: func(int) error {
		if down.Load() {
			return sink.Unreachable(errors.New("no route"))
		}
		return nil
	}}
	f.Add("peer", peer, withLen(3))
	f.Publish(context.Background(), alarm(0))
	for i := 1; i < 20; i++ {
		f.Publish(context.Background(), data(i))
	}
	waitFor(t, func() bool { return f.Stats()[0].Unreachable })
	down.Store(false)
	closeFanOut(t, f)
	got := packets(peer.Records())
	if len(got) != 3 || got[0] != 0 || got[2] != 19 {
		t.Errorf("delivered windows %v: want the alarm of window 0 and the latest data", got)
	}
	if n := strings.Count(log.String(), "oldest data records dropped"); n != 1 {
		t.Errorf("drops logged %d times", n)
	}
}

// A replay does not wait for a peer that cannot be reached: it goes on,
// keeping alarms and the latest data in the queue, and delivers them when
// the peer is back.
// A peer that refuses a write now and then (a timeout, a 429) is slow,
// not gone: a replay waits for it and loses nothing.
func TestReplayWaitsThroughAFailedWrite(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Replay)
	peer := &sinktest.Recorder{Fail: func(n int) error {
		if n%50 == 7 || n == 8 {
			return sink.Unreachable(errors.New("429 too many requests"))
		}
		return nil
	}}
	f.Add("peer", peer, withLen(4))
	for i := range 1000 {
		f.Publish(context.Background(), data(i))
	}
	closeFanOut(t, f)
	if got := packets(peer.Records()); len(got) != 1000 || got[999] != 999 {
		t.Errorf("%d of 1000 records delivered", len(got))
	}
	if st := f.Stats()[0]; st.DroppedRecords != 0 || st.Retries == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestReplayGoesOnWithoutUnreachablePeer(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Replay)
	var down atomic.Bool
	down.Store(true)
	peer := &sinktest.Recorder{Fail: func(int) error {
		if down.Load() {
			return sink.Unreachable(errors.New("refused"))
		}
		return nil
	}}
	f.Add("peer", peer, withLen(3))
	done := make(chan struct{})
	go func() {
		f.Publish(context.Background(), alarm(0))
		for i := 1; i < 10; i++ {
			f.Publish(context.Background(), data(i))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the replay waits for an unreachable peer")
	}
	down.Store(false)
	closeFanOut(t, f)
	if got := packets(peer.Records()); len(got) != 3 || got[0] != 0 || got[2] != 9 {
		t.Errorf("delivered %v: want the alarm and the latest data", got)
	}
	if st := f.Stats()[0]; st.DroppedAlarms != 0 || st.DroppedRecords != 7 {
		t.Errorf("stats %+v", st)
	}
}

// persister records the order of Persist and Write calls.
type persister struct {
	sinktest.Recorder
	mu      sync.Mutex
	events  []string
	dropped atomic.Uint64 // alarms its store gave up
}

func (p *persister) DroppedAlarms() uint64 { return p.dropped.Load() }

// Alarms a Persister's store gives up (full) count with the queue's.
func TestPersisterLossesCount(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Live)
	p := &persister{}
	f.Add("mqtt", p, fast)
	f.Publish(context.Background(), alarm(1))
	p.dropped.Store(2)
	if st := f.Stats()[0]; st.DroppedAlarms != 2 {
		t.Errorf("stats %+v: the store's 2 dropped alarms are not counted", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Close(ctx); err == nil || !strings.Contains(err.Error(), "2 alarms were not delivered") {
		t.Errorf("Close: %v", err)
	}
}

func (p *persister) Persist(r *event.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, "persist "+r.Alarms[0].ID)
	return nil
}

func TestAlarmIsPersistedBeforePublishReturns(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Live)
	gate := make(chan struct{})
	p := &persister{Recorder: sinktest.Recorder{Gate: gate}}
	other := &sinktest.Recorder{Gate: gate}
	f.Add("mqtt", p, fast)
	f.Add("console", other, fast)
	r := alarm(1)
	f.Publish(context.Background(), r)
	// Nothing was written yet (the gate is shut), but the alarm is stored.
	p.mu.Lock()
	events := append([]string(nil), p.events...)
	p.mu.Unlock()
	if len(events) != 1 || events[0] != "persist "+r.Alarms[0].ID {
		t.Errorf("events %v", events)
	}
	f.Publish(context.Background(), data(2))
	if p.Calls() != 0 && len(p.Records()) != 0 {
		t.Error("written before the gate opened")
	}
	close(gate)
	closeFanOut(t, f)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.events) != 1 {
		t.Errorf("data records persisted: %v", p.events)
	}
}

// batcher writes up to max Records per call.
type batcher struct {
	sinktest.Recorder
	max     int
	mu      sync.Mutex
	batches []int
	fails   int
}

func (b *batcher) MaxBatch() int { return b.max }

func (b *batcher) WriteBatch(rs []*event.Record) error {
	b.mu.Lock()
	if b.fails > 0 {
		b.fails--
		b.mu.Unlock()
		return sink.Unreachable(errors.New("503"))
	}
	b.batches = append(b.batches, len(rs))
	b.mu.Unlock()
	for _, r := range rs {
		_ = b.Write(r)
	}
	return nil
}

func TestBatchWriterGetsWhatWaits(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Replay)
	b := &batcher{max: 4, fails: 2}
	f.Add("influxdb", b, withLen(10))
	for i := range 10 {
		f.Publish(context.Background(), data(i))
	}
	closeFanOut(t, f)
	if got := packets(b.Records()); len(got) != 10 || got[9] != 9 {
		t.Errorf("delivered %v", got)
	}
	for _, n := range b.batches {
		if n < 1 || n > 4 {
			t.Errorf("batch of %d", n)
		}
	}
	if st := f.Stats()[0]; st.Delivered != 10 || st.Retries != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestCloseIsBounded(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Live)
	peer := &sinktest.Recorder{Fail: func(int) error { return sink.Unreachable(errors.New("down")) }}
	f.Add("dead", peer, fast)
	f.Publish(context.Background(), data(0))
	f.Publish(context.Background(), alarm(1))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := f.Close(ctx)
	if time.Since(start) > 3*time.Second {
		t.Errorf("Close took %v", time.Since(start))
	}
	if err == nil || !strings.Contains(err.Error(), "1 alarms were not delivered") {
		t.Errorf("Close: %v", err)
	}
	if st := f.Stats()[0]; st.DroppedRecords != 2 {
		t.Errorf("stats %+v", st)
	}
}

// A Write that Close cannot end (standard output piped into a pager that
// stopped reading) does not hold Close for ever.
func TestCloseLeavesAStuckWriteBehind(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Replay)
	stuck := &sinktest.Recorder{Gate: make(chan struct{})}
	defer close(stuck.Gate)
	f.Add("stdout", stuck, withLen(1))
	f.Publish(context.Background(), data(0))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.Close(ctx) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "still writing") {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waits for a Write that never ends")
	}
}

func TestFailuresAreCountedAndSkipped(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Live)
	r := &sinktest.Recorder{Fail: func(n int) error {
		if n%2 == 0 {
			return errors.New("disk full")
		}
		return nil
	}}
	f.Add("file", r, fast)
	for i := range 10 {
		f.Publish(context.Background(), data(i))
	}
	closeFanOut(t, f)
	if st := f.Stats()[0]; st.Failed != 5 || st.Delivered != 5 || st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A data record never pushes an alarm out: when only alarms are queued,
// the data record is the one dropped.
func TestLiveDataNeverEvictsAlarms(t *testing.T) {
	f := sink.NewFanOut(nil, sink.Live)
	gate, entered := make(chan struct{}), make(chan *event.Record, 10)
	slow := &sinktest.Recorder{Gate: gate, Entered: entered}
	f.Add("slow", slow, withLen(2))
	f.Publish(context.Background(), alarm(0))
	<-entered
	f.Publish(context.Background(), alarm(1))
	f.Publish(context.Background(), data(2)) // full of alarms: window 2 goes
	close(gate)
	closeFanOut(t, f)
	if got := packets(slow.Records()); !equal(got, []uint64{0, 1}) {
		t.Errorf("delivered windows %v, want the two alarms", got)
	}
	if st := f.Stats()[0]; st.DroppedRecords != 1 || st.DroppedAlarms != 0 {
		t.Errorf("stats %+v", st)
	}
}
