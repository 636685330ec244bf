// Package sink defines where Records go (the Sink interface) and the fan-out
// that hands each Record to every sink through its own bounded queue, so that
// a slow or dead sink never blocks capture and never loses an alarm silently.
package sink

import (
	"netspot/core/event"
)

// Sink consumes the analyzer's Records: a console, a file, an MQTT broker,
// the board's LEDs. The fan-out calls Write from one goroutine per sink,
// never concurrently, in the order the Records were produced. A Record is
// shared with other sinks and must not be modified.
//
// Write may take its time (the fan-out queues in front of it), but should
// give up on an unreachable peer rather than block forever: Close is only
// called once Write has returned.
type Sink interface {
	Write(r *event.Record) error
	// Close flushes what the sink buffers and releases its resources.
	Close() error
}
