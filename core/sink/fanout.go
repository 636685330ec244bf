package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"netspot/core/event"
)

// Defaults of a sink's queue (see QueueOptions). At a 1 s period the
// queue holds about 17 minutes of records.
const (
	DefaultQueueLen = 1024
	DefaultRetryMin = time.Second
	DefaultRetryMax = time.Minute
)

// Mode says whether the fan-out may wait for its sinks.
type Mode uint8

const (
	// Live capture has a clock to keep up with: Publish never waits for a
	// sink, and a sink that falls behind loses its oldest data records.
	Live Mode = iota
	// Replay of a capture file has none: Publish waits while a sink's
	// queue is full, so that every sink gets every record, however slow.
	// A sink whose peer cannot be reached (a broker down) is not waited
	// for: it is treated as in Live mode until its peer is back, so that
	// a dead peer cannot hold a replay for ever (alarms stay queued, and
	// a Persister keeps them durably).
	Replay
)

// QueueStats describes what happened to the Records given to one sink.
type QueueStats struct {
	Name      string
	Queued    int    // waiting now
	Delivered uint64 // written
	Failed    uint64 // refused by the sink for good (not retried)
	Retries   uint64 // attempts that found the peer unreachable
	// Unreachable is set while the peer cannot be reached: Records are
	// kept and delivery is tried again.
	Unreachable bool
	// DroppedRecords counts Records discarded because the queue was full
	// (data-only Records go first) or left at exit.
	DroppedRecords uint64
	// DroppedAlarms counts alarms lost with them: only when the whole queue
	// was made of Records with alarms, or at exit. Every such loss is
	// logged as an error.
	DroppedAlarms uint64
}

// FanOut delivers every published Record to each of its sinks, each through
// a bounded queue served by a goroutine of its own.
type FanOut struct {
	log    *slog.Logger
	mode   Mode
	queues []*queue
	wg     sync.WaitGroup
}

// NewFanOut returns an empty fan-out; a nil logger discards messages.
func NewFanOut(log *slog.Logger, mode Mode) *FanOut {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FanOut{log: log, mode: mode}
}

// Add registers a sink under name and starts its goroutine. Add must not
// be called after Publish or Close.
func (f *FanOut) Add(name string, s Sink, opts QueueOptions) {
	if opts.Len <= 0 {
		opts.Len = DefaultQueueLen
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = DefaultRetryMin
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = DefaultRetryMax
	}
	opts.RetryMax = max(opts.RetryMax, opts.RetryMin)
	q := &queue{
		name:    name,
		sink:    s,
		log:     f.log.With("sink", name),
		opts:    opts,
		mode:    f.mode,
		buf:     make([]*event.Record, 0, min(opts.Len, 64)),
		wake:    make(chan struct{}, 1),
		room:    make(chan struct{}, 1),
		closed:  make(chan struct{}),
		abandon: make(chan struct{}),
		done:    make(chan struct{}),
	}
	q.batch, _ = s.(BatchWriter)
	q.persist, _ = s.(Persister)
	f.queues = append(f.queues, q)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		q.serve()
	}()
}

// Publish hands r to every sink. It first has every Persister store r's
// alarms durably; then it queues r for each sink. In Live mode it never
// waits for a sink; in Replay mode it waits while a sink's queue is full,
// until ctx ends (then it drops as Live does).
func (f *FanOut) Publish(ctx context.Context, r *event.Record) {
	if len(r.Alarms) > 0 {
		for _, q := range f.queues {
			if q.persist == nil {
				continue
			}
			if err := q.persist.Persist(r); err != nil {
				q.log.Error("alarm not stored durably: it is delivered only if netspot keeps running", "alarms", len(r.Alarms), "err", err)
			}
		}
	}
	for _, q := range f.queues {
		q.push(ctx, r)
	}
}

// Stats returns the delivery counters of every sink, in the order added.
func (f *FanOut) Stats() []QueueStats {
	out := make([]QueueStats, len(f.queues))
	for i, q := range f.queues {
		out[i] = q.statsNow()
	}
	return out
}

// statsNow is the queue's counters, with the alarms its Persister's store
// dropped.
func (q *queue) statsNow() QueueStats {
	q.mu.Lock()
	st := q.stats
	st.Name = q.name
	st.Queued = len(q.buf)
	st.Unreachable = q.outage != nil
	q.mu.Unlock()
	if q.persist != nil {
		st.DroppedAlarms += q.persist.DroppedAlarms()
	}
	return st
}

// Close lets every sink deliver what is queued (retrying unreachable peers)
// until ctx ends; then the rest is abandoned and counted as dropped. The
// sinks are then closed, at the same time: shutdown lasts as long as the
// longest flush, not their sum. It returns the sinks' Close errors and
// reports alarms that could not be delivered.
func (f *FanOut) Close(ctx context.Context) error {
	for _, q := range f.queues {
		close(q.closed)
		q.signal()
	}
	finished := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-ctx.Done():
		for _, q := range f.queues {
			q.giveUp()
		}
	}
	errs := make([][]error, len(f.queues))
	var closing sync.WaitGroup
	for i, q := range f.queues {
		closing.Add(1)
		go func() {
			defer closing.Done()
			// A sink still inside Write is closed from here: Close must
			// make a blocked Write return.
			if err := q.sink.Close(); err != nil {
				errs[i] = append(errs[i], fmt.Errorf("sink %s: close: %w", q.name, err))
			}
			if !waitDone(ctx, q.done) {
				// A Write that Close cannot end (standard output into a
				// reader that stopped reading) is left behind.
				errs[i] = append(errs[i], fmt.Errorf("sink %s: still writing after it was closed; left behind", q.name))
				return
			}
			if st := q.statsNow(); st.DroppedAlarms > 0 {
				errs[i] = append(errs[i], fmt.Errorf("sink %s: %d alarms were not delivered", q.name, st.DroppedAlarms))
			}
		}()
	}
	closing.Wait()
	return errors.Join(slices.Concat(errs...)...)
}

// closeGrace is how long a sink's goroutine may take to end once the
// fan-out's time to close is up and the sink is closed.
const closeGrace = time.Second

// waitDone waits for done until ctx ends, then for closeGrace more; it
// reports whether done came.
func waitDone(ctx context.Context, done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	case <-ctx.Done():
	}
	select {
	case <-done:
		return true
	case <-time.After(closeGrace):
		return false
	}
}

// queue is one sink's bounded buffer and the state of its goroutine.
type queue struct {
	name    string
	sink    Sink
	batch   BatchWriter // nil when the sink takes one Record at a time
	persist Persister   // nil when the sink keeps no alarms itself
	log     *slog.Logger
	opts    QueueOptions
	mode    Mode

	mu        sync.Mutex
	buf       []*event.Record // oldest first
	inflight  int             // buf[:inflight] are being written
	stats     QueueStats
	failing   bool    // the last Write failed for good; logged once per change
	outage    *outage // non-nil while the peer is unreachable
	dropping  bool    // a drop of data was logged; reset once the queue has room again
	abandoned bool

	wake    chan struct{} // capacity 1: a Record is waiting
	room    chan struct{} // capacity 1: a Record left the queue
	closed  chan struct{} // no more Records will come
	abandon chan struct{} // closed when what is queued is given up
	done    chan struct{} // serve has returned
}

// outage is a time the peer could not be reached, for the line that
// reports its end.
type outage struct {
	since          time.Time
	dropped, alarm uint64
	attempts       int
}

// replayPatience is how many failed attempts in a row a replay waits
// through before it goes on without the sink: a peer that refuses one
// write (a timeout, a 429) is slow, not gone, and loses nothing; a dead
// one holds the replay for a few retries (about 7 s), not for ever.
const replayPatience = 3

// givenUpOn reports whether a replay no longer waits for the peer.
func (q *queue) givenUpOn() bool { return q.outage != nil && q.outage.attempts >= replayPatience }

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *queue) push(ctx context.Context, r *event.Record) {
	q.mu.Lock()
	for len(q.buf) >= q.opts.Len && q.mode == Replay && !q.givenUpOn() && !q.abandoned && ctx.Err() == nil {
		q.mu.Unlock()
		select {
		case <-q.room:
		case <-ctx.Done():
		case <-q.abandon:
		}
		q.mu.Lock()
	}
	if len(q.buf) >= q.opts.Len && !q.evictLocked(r) {
		q.dropLocked(r, "queue full")
		q.mu.Unlock()
		return
	}
	q.buf = append(q.buf, r)
	q.mu.Unlock()
	q.signal()
}

// evictLocked makes room for next: it drops the oldest queued Record
// without alarms if there is one; else, when next has alarms, the oldest
// one, whose alarms are then lost loudly. Records being written are left
// alone. It returns false when next itself should be dropped instead: it
// holds no alarm and only alarms (or Records being written) are queued.
// For a Persister, whose alarms are safe in its store, every Record counts
// as data.
func (q *queue) evictLocked(next *event.Record) bool {
	victim := -1
	for i := q.inflight; i < len(q.buf); i++ {
		if !q.precious(q.buf[i]) {
			victim = i
			break
		}
	}
	if victim < 0 {
		if !q.precious(next) || q.inflight >= len(q.buf) {
			return false
		}
		victim = q.inflight
	}
	r := q.buf[victim]
	copy(q.buf[victim:], q.buf[victim+1:])
	q.buf[len(q.buf)-1] = nil
	q.buf = q.buf[:len(q.buf)-1]
	q.dropLocked(r, "queue full")
	return true
}

// precious reports whether losing r from this queue loses alarms.
func (q *queue) precious(r *event.Record) bool { return len(r.Alarms) > 0 && q.persist == nil }

// dropLocked counts a lost Record. Every lost alarm is logged; lost data
// once until the queue has room again or the peer is back.
func (q *queue) dropLocked(r *event.Record, why string) {
	q.stats.DroppedRecords++
	if q.outage != nil {
		q.outage.dropped++
	}
	if n := len(r.Alarms); n > 0 && q.persist == nil {
		q.stats.DroppedAlarms += uint64(n)
		if q.outage != nil {
			q.outage.alarm += uint64(n)
		}
		q.log.Error("alarms dropped", "reason", why, "alarms", n, "dropped_alarms_total", q.stats.DroppedAlarms)
		return
	}
	if !q.dropping {
		q.dropping = true
		q.log.Warn("sink falls behind: oldest data records dropped", "reason", why, "queue", q.opts.Len,
			"unreachable", q.outage != nil, "dropped_total", q.stats.DroppedRecords)
	}
}

// next waits for Records and marks the oldest ones as being written: one,
// or as many as a BatchWriter takes. It returns nil once the queue is
// closed and empty, or abandoned.
func (q *queue) next() []*event.Record {
	for {
		q.mu.Lock()
		if q.abandoned {
			q.mu.Unlock()
			return nil
		}
		if len(q.buf) > 0 {
			n := 1
			if q.batch != nil {
				n = min(len(q.buf), max(1, q.batch.MaxBatch()))
			}
			q.inflight = n
			out := slices.Clone(q.buf[:n])
			q.mu.Unlock()
			return out
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-q.abandon:
		case <-q.closed:
			q.mu.Lock()
			empty := len(q.buf) == 0
			q.mu.Unlock()
			if empty {
				return nil
			}
		}
	}
}

func (q *queue) serve() {
	defer close(q.done)
	var wait time.Duration // nominal wait after the last failure, without jitter
	for {
		recs := q.next()
		if recs == nil {
			return
		}
		var err error
		if q.batch != nil {
			err = q.batch.WriteBatch(recs)
		} else {
			err = q.sink.Write(recs[0])
		}
		if IsUnreachable(err) {
			var jittered time.Duration
			wait, jittered = q.down(err, wait)
			timer := time.NewTimer(jittered)
			select {
			case <-timer.C:
			case <-q.abandon:
			}
			timer.Stop()
			continue
		}
		wait = 0
		q.written(len(recs), err)
	}
}

// written removes the n Records just written and counts them.
func (q *queue) written(n int, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, q.inflight)
	copy(q.buf, q.buf[n:])
	clear(q.buf[len(q.buf)-n:])
	q.buf = q.buf[:len(q.buf)-n]
	q.inflight = 0
	if len(q.buf) < q.opts.Len/2 {
		q.dropping = false
	}
	select {
	case q.room <- struct{}{}:
	default:
	}
	if o := q.outage; o != nil {
		q.outage = nil
		q.dropping = false
		q.log.Info("sink reachable again", "unreachable_for", time.Since(o.since).Round(time.Millisecond),
			"attempts", o.attempts, "dropped_records", o.dropped, "dropped_alarms", o.alarm)
	}
	if err != nil {
		q.stats.Failed += uint64(n)
		if !q.failing {
			q.log.Error("sink write failed", "err", err)
		}
		q.failing = true
		return
	}
	q.stats.Delivered += uint64(n)
	if q.failing {
		q.log.Info("sink recovered", "failed_total", q.stats.Failed)
	}
	q.failing = false
}

// down notes a failed delivery attempt and returns the wait before the
// next one: the previous nominal wait doubled, from RetryMin up to
// RetryMax, and that wait with ±20% jitter (or longer, when the peer
// asked for more). The Records stay queued; while the wait lasts they may
// be evicted like any other.
func (q *queue) down(err error, prev time.Duration) (nominal, jittered time.Duration) {
	wait := q.opts.RetryMin
	if prev > 0 {
		wait = min(q.opts.RetryMax, 2*prev)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight = 0
	q.stats.Retries++
	if q.outage == nil {
		q.outage = &outage{since: time.Now()}
		q.log.Warn("sink unreachable: records are kept and retried", "err", err, "queued", len(q.buf))
	} else {
		q.log.Debug("sink still unreachable", "err", err, "retry_in", wait)
	}
	q.outage.attempts++
	if q.mode == Replay && q.outage.attempts == replayPatience {
		q.log.Warn("sink still unreachable: the replay goes on without waiting for it; data records beyond its queue are dropped",
			"attempts", q.outage.attempts)
		// A replay waiting for room goes on.
		select {
		case q.room <- struct{}{}:
		default:
		}
	}
	return wait, max(retryAfter(err), time.Duration(float64(wait)*(0.8+0.4*rand.Float64())))
}

// giveUp abandons what is still queued, counting it.
func (q *queue) giveUp() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.abandoned {
		return
	}
	q.abandoned = true
	close(q.abandon)
	for _, r := range q.buf {
		q.stats.DroppedRecords++
		if q.persist == nil {
			q.stats.DroppedAlarms += uint64(len(r.Alarms))
		}
	}
	if len(q.buf) > 0 {
		q.log.Warn("records not delivered before shutdown", "records", len(q.buf))
	}
	q.buf = q.buf[:0]
	q.inflight = 0
}
