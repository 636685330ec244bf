package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"netspot/core/event"
)

// DefaultQueueLen is the number of Records a sink may fall behind by before
// the fan-out starts dropping its oldest data-only Records. At a 1 s period
// it is about 17 minutes of records.
const DefaultQueueLen = 1024

// QueueStats describes what happened to the Records given to one sink.
type QueueStats struct {
	Name      string
	Queued    int    // waiting now
	Delivered uint64 // written without error
	Failed    uint64 // Write returned an error (the Record is not retried)
	// DroppedRecords counts Records discarded because the queue was full;
	// data-only Records go first.
	DroppedRecords uint64
	// DroppedAlarms counts alarms lost with them: only when the whole queue
	// was made of Records with alarms. Every such loss is logged as an error.
	DroppedAlarms uint64
}

// FanOut delivers every published Record to each of its sinks. Publish never
// blocks: each sink has a bounded queue served by its own goroutine.
type FanOut struct {
	log    *slog.Logger
	queues []*queue
	wg     sync.WaitGroup
}

// NewFanOut returns an empty fan-out; a nil logger discards messages.
func NewFanOut(log *slog.Logger) *FanOut {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FanOut{log: log}
}

// Add registers a sink under name with a queue of queueLen Records
// (DefaultQueueLen if queueLen <= 0) and starts its goroutine. Add must not
// be called after Publish or Close.
func (f *FanOut) Add(name string, s Sink, queueLen int) {
	if queueLen <= 0 {
		queueLen = DefaultQueueLen
	}
	q := &queue{
		name:   name,
		sink:   s,
		log:    f.log.With("sink", name),
		buf:    make([]*event.Record, 0, queueLen),
		max:    queueLen,
		wake:   make(chan struct{}, 1),
		closed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	f.queues = append(f.queues, q)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		q.serve()
	}()
}

// Publish queues r for every sink. It never blocks.
func (f *FanOut) Publish(r *event.Record) {
	for _, q := range f.queues {
		q.push(r)
	}
}

// Stats returns the delivery counters of every sink, in the order added.
func (f *FanOut) Stats() []QueueStats {
	out := make([]QueueStats, len(f.queues))
	for i, q := range f.queues {
		q.mu.Lock()
		out[i] = q.stats
		out[i].Name = q.name
		out[i].Queued = len(q.buf)
		q.mu.Unlock()
	}
	return out
}

// Close lets every sink drain its queue, then closes it. If ctx ends first,
// the remaining Records are abandoned (and counted as dropped) and the sinks
// are closed anyway. It returns the sinks' Close errors and reports alarms
// that could not be delivered.
func (f *FanOut) Close(ctx context.Context) error {
	for _, q := range f.queues {
		close(q.closed)
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
			q.abandon()
		}
	}
	// The sinks close at the same time: each may take its own timeout to
	// flush, and shutdown should last the longest of them, not their sum.
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
			<-q.done
			q.mu.Lock()
			st := q.stats
			q.mu.Unlock()
			if st.DroppedAlarms > 0 {
				errs[i] = append(errs[i], fmt.Errorf("sink %s: %d alarms were not delivered", q.name, st.DroppedAlarms))
			}
		}()
	}
	closing.Wait()
	return errors.Join(slices.Concat(errs...)...)
}

// queue is one sink's bounded buffer and the state of its goroutine.
type queue struct {
	name string
	sink Sink
	log  *slog.Logger

	mu        sync.Mutex
	buf       []*event.Record // oldest first
	max       int
	stats     QueueStats
	failing   bool // last Write failed; logged once per change
	abandoned bool

	wake   chan struct{} // capacity 1: a Record is waiting
	closed chan struct{} // no more Records will come
	done   chan struct{} // serve has returned
}

func (q *queue) push(r *event.Record) {
	q.mu.Lock()
	if len(q.buf) == q.max {
		q.evictLocked()
	}
	q.buf = append(q.buf, r)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// evictLocked makes room for one Record: the oldest one without alarms if
// there is one, else the oldest one, whose alarms are then lost loudly.
func (q *queue) evictLocked() {
	victim := 0
	for i, r := range q.buf {
		if len(r.Alarms) == 0 {
			victim = i
			break
		}
	}
	if n := len(q.buf[victim].Alarms); n > 0 {
		q.stats.DroppedAlarms += uint64(n)
		q.log.Error("sink queue full of alarms: oldest alarms dropped", "alarms", n, "dropped_total", q.stats.DroppedAlarms)
	}
	q.stats.DroppedRecords++
	if q.stats.DroppedRecords == 1 || q.stats.DroppedRecords%1000 == 0 {
		q.log.Warn("sink is too slow: records dropped", "dropped_total", q.stats.DroppedRecords)
	}
	copy(q.buf[victim:], q.buf[victim+1:])
	q.buf[len(q.buf)-1] = nil
	q.buf = q.buf[:len(q.buf)-1]
}

// pop returns the oldest Record, or nil once the queue is closed and empty
// (or abandoned).
func (q *queue) pop() *event.Record {
	for {
		q.mu.Lock()
		if q.abandoned {
			q.mu.Unlock()
			return nil
		}
		if len(q.buf) > 0 {
			r := q.buf[0]
			copy(q.buf, q.buf[1:])
			q.buf[len(q.buf)-1] = nil
			q.buf = q.buf[:len(q.buf)-1]
			q.mu.Unlock()
			return r
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
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
	for {
		r := q.pop()
		if r == nil {
			return
		}
		err := q.sink.Write(r)
		q.mu.Lock()
		if err != nil {
			q.stats.Failed++
			if !q.failing {
				q.log.Error("sink write failed", "err", err)
			}
			q.failing = true
		} else {
			q.stats.Delivered++
			if q.failing {
				q.log.Info("sink recovered", "failed_total", q.stats.Failed)
			}
			q.failing = false
		}
		q.mu.Unlock()
	}
}

// abandon drops whatever is still queued, counting it.
func (q *queue) abandon() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.abandoned = true
	for _, r := range q.buf {
		q.stats.DroppedRecords++
		q.stats.DroppedAlarms += uint64(len(r.Alarms))
	}
	q.buf = q.buf[:0]
}
