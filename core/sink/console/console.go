// Package console prints data records and alarms to a stream (stdout) as
// JSON lines, the format every JSON sink of netspot shares.
package console

import (
	"fmt"
	"io"

	"netspot/core/event"
	"netspot/core/sink"
)

// Config is the [exporter.console] section.
type Config struct {
	Data  bool `toml:"data" comment:"Print a data record (every statistic with its thresholds) each period"`
	Alarm bool `toml:"alarm" comment:"Print each alarm when it is raised"`
}

// DefaultConfig prints alarms only.
func DefaultConfig() Config { return Config{Data: false, Alarm: true} }

// Enabled reports whether the sink prints anything.
func (c Config) Enabled() bool { return c.Data || c.Alarm }

// Sink writes JSON lines to w.
type Sink struct {
	cfg Config
	w   io.Writer
	buf []byte
}

// New returns a sink writing to w.
func New(cfg Config, w io.Writer) *Sink {
	return &Sink{cfg: cfg, w: w}
}

// Write prints r's data line (if enabled) and then one line per alarm (if
// enabled), in one write, so that a reader of a pipe sees them at once. A
// failed write does not affect the next one.
func (s *Sink) Write(r *event.Record) error {
	s.buf = s.buf[:0]
	if s.cfg.Data {
		s.buf = append(event.AppendDataJSON(s.buf, r), '\n')
	}
	if s.cfg.Alarm {
		for i := range r.Alarms {
			s.buf = append(event.AppendAlarmJSON(s.buf, &r.Alarms[i]), '\n')
		}
	}
	if len(s.buf) == 0 {
		return nil
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// Close does nothing: nothing is buffered, and the stream belongs to the
// caller.
func (s *Sink) Close() error { return nil }

// Factory makes the console sink from [exporter.console].
func Factory() sink.Factory {
	return sink.Factory{
		Name:    "console",
		Section: "exporter.console",
		Comment: "Standard output: JSON lines (-v prints data records too)",
		Config:  func() sink.Config { c := DefaultConfig(); return &c },
	}
}

// Validate accepts every value: both keys are switches.
func (c Config) Validate() error { return nil }

// New returns the sink, writing to the pipeline's standard output.
func (c Config) New(env sink.Env) (sink.Sink, error) { return New(c, env.Stdout), nil }
