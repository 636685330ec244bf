// Package sinktest holds the fakes that tests of sinks and of the pipeline
// share: a sink that records what it gets, and a buffer that several
// goroutines may write.
package sinktest

import (
	"bytes"
	"sync"

	"netspot/core/event"
)

// Recorder is a Sink that keeps every Record it is given. Entered, when
// set, is sent each Record as Write starts (without waiting: give it room);
// Gate, when set, holds each Write until a value is received from it; Fail,
// when set, is asked for the error of each Write (given the number of
// Writes before it).
type Recorder struct {
	Entered chan *event.Record
	Gate    chan struct{}
	Fail    func(n int) error

	mu     sync.Mutex
	got    []*event.Record
	calls  int
	closed bool
}

// Write records r, or returns Fail's error.
func (r *Recorder) Write(rec *event.Record) error {
	if r.Entered != nil {
		select {
		case r.Entered <- rec:
		default:
		}
	}
	if r.Gate != nil {
		<-r.Gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.calls
	r.calls++
	if r.Fail != nil {
		if err := r.Fail(n); err != nil {
			return err
		}
	}
	r.got = append(r.got, rec)
	return nil
}

// Close marks the recorder closed.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

// Records returns the Records written so far.
func (r *Recorder) Records() []*event.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*event.Record(nil), r.got...)
}

// Calls returns the number of Writes, failed ones included.
func (r *Recorder) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// Closed reports whether Close was called.
func (r *Recorder) Closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Buffer is a bytes.Buffer that goroutines may share: a logger's output
// read by the test, a console written by the pipeline.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
