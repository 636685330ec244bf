// Package sink defines where Records go: the Sink interface, the factory
// shape every sink is made with, and the fan-out that hands each Record to
// every sink through its own queue. The queue is the one delivery buffer of
// netspot: bounded, alarms kept before data, retries with backoff and
// jitter while a peer is unreachable, losses counted and logged once per
// outage. Network sinks (socket, InfluxDB, MQTT) are thin transports on it.
//
// The delivery contract (see FanOut):
//   - live capture never waits for a sink: a sink that falls behind loses
//     data records, counted and reported, never capture;
//   - a replay has no clock to keep up with: it waits for its slowest sink
//     and loses nothing, so that the same file gives the same output,
//     record for record, whatever the readers' speed;
//   - an alarm is durable (Persister) before any later window goes out to
//     any sink.
package sink

import (
	"errors"
	"io"
	"log/slog"
	"time"

	"netspot/core/event"
)

// Sink consumes the analyzer's Records: a console, a file, an MQTT broker,
// the board's LEDs. The fan-out calls Write from one goroutine per sink,
// never concurrently, in the order the Records were produced. A Record is
// shared with other sinks and must not be modified.
//
// A Write that could not reach its peer returns an error wrapped with
// Unreachable: the fan-out keeps the Record and calls Write again with it
// after a backoff. Any other error counts the Record as failed and goes
// on. Write should give up on a peer that does not answer within its
// timeout rather than block: Close is only called once Write has returned,
// or to make a blocked Write return.
type Sink interface {
	Write(r *event.Record) error
	// Close flushes what the sink buffers and releases its resources.
	Close() error
}

// BatchWriter is a Sink that delivers several Records in one go (InfluxDB
// writes them in one request). The fan-out hands it every Record waiting,
// at most MaxBatch(), oldest first; an Unreachable error keeps them all.
type BatchWriter interface {
	Sink
	WriteBatch(rs []*event.Record) error
	MaxBatch() int
}

// Persister is a Sink that keeps alarms durably (the MQTT sink's store).
// The fan-out calls Persist for every Record with alarms, in the
// pipeline's goroutine, before the Record is queued for any sink: once
// Publish has returned, the alarm survives a crash or a power cut, and no
// later window has gone out before it. Persist must be quick (a write and
// an fsync on local storage) and must not touch the network.
type Persister interface {
	Sink
	Persist(r *event.Record) error
	// DroppedAlarms counts the alarms the store itself gave up (full):
	// they count with the queue's losses.
	DroppedAlarms() uint64
}

// Uplink is a Sink that can tell whether its peer is reachable (the MQTT
// broker); the board shows it on its status LED.
type Uplink interface {
	Connected() (ok bool, since time.Time)
}

// UplinkWatcher is a Sink that shows the state of an Uplink. The pipeline
// hands it the first sink that is an Uplink, or nil when there is none.
type UplinkWatcher interface {
	WatchUplink(Uplink)
}

// unreachable marks an error after which delivery is tried again, not
// before wait when the peer said when (HTTP's Retry-After).
type unreachable struct {
	err  error
	wait time.Duration
}

func (u *unreachable) Error() string { return u.err.Error() }
func (u *unreachable) Unwrap() error { return u.err }

// Unreachable wraps err, an error of a peer that could not be reached or
// did not acknowledge in time: the fan-out keeps the Record and tries again
// later. Unreachable(nil) is nil.
func Unreachable(err error) error {
	if err == nil {
		return nil
	}
	return &unreachable{err: err}
}

// UnreachableFor is Unreachable for a peer that asked to be left alone
// for wait: the next attempt comes no sooner.
func UnreachableFor(err error, wait time.Duration) error {
	if err == nil {
		return nil
	}
	return &unreachable{err: err, wait: wait}
}

// IsUnreachable reports whether err was wrapped with Unreachable.
func IsUnreachable(err error) bool {
	var u *unreachable
	return errors.As(err, &u)
}

// retryAfter returns the wait a peer asked for, or 0.
func retryAfter(err error) time.Duration {
	var u *unreachable
	if errors.As(err, &u) {
		return u.wait
	}
	return 0
}

// Factory makes one kind of sink from its section of the configuration
// file. Every sink has one, of this one shape; the command lists them.
type Factory struct {
	Name    string // the sink's name in logs, status and metrics: "mqtt"
	Section string // its section of the config file: "exporter.mqtt"
	Comment string // what the section is for, printed above it by netspot defaults
	// Config returns a new configuration holding the defaults: a pointer
	// that the config loader decodes the section into.
	Config func() Config
}

// Config is the configuration of one sink, decoded from its section.
type Config interface {
	// Enabled reports whether the sink is wanted at all.
	Enabled() bool
	// Validate checks the values; *config.FieldErrors name the key.
	Validate() error
	// New opens the sink. It may read the files the configuration names,
	// but must not wait for a peer: the first Write does.
	New(env Env) (Sink, error)
}

// Queued is a Config that sets the length of its sink's queue and the
// waits between delivery attempts, when the defaults do not fit.
type Queued interface {
	Queue() QueueOptions
}

// QueueOptions shape one sink's queue in the fan-out.
type QueueOptions struct {
	// Len is the number of Records the sink may fall behind by;
	// DefaultQueueLen when 0.
	Len int
	// RetryMin and RetryMax bound the wait before another attempt to
	// deliver to an unreachable peer: it doubles from RetryMin up to
	// RetryMax, with ±20% jitter so that many boxes do not retry in step.
	// DefaultRetryMin and DefaultRetryMax when 0.
	RetryMin, RetryMax time.Duration
}

// Env is what a sink may use of the running pipeline.
type Env struct {
	Log     *slog.Logger // with the sink's name
	Stdout  io.Writer    // the console
	Series  string       // names the run in file templates and tags: a capture file's name, or the interface and start time
	Watched []StatInfo   // the statistics watched, in order
	Version string       // netspot's version, for the status a sink publishes
	Live    bool         // capture from an interface (false: a replay)
	// SinkStats reports how every sink of the pipeline keeps up; valid
	// once Records flow.
	SinkStats func() []QueueStats
}

// StatInfo describes a watched statistic to a sink.
type StatInfo struct {
	Name string
	Unit string
}
