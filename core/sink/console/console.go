// Package console prints data records and alarms to a stream (stdout): as
// JSON lines, the format every JSON sink of netspot shares, or, for a
// person at a terminal, as a table of one compact line per window with
// alarms highlighted.
package console

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/sink"
)

// Formats of the console.
const (
	FormatJSON  = "json"  // JSON lines
	FormatTable = "table" // one line per window, for a person
	FormatAuto  = "auto"  // table on a terminal, JSON otherwise
)

// Config is the [exporter.console] section.
type Config struct {
	Data   bool   `toml:"data" comment:"Print a data record (every statistic with its thresholds) each period"`
	Alarm  bool   `toml:"alarm" comment:"Print each alarm when it is raised"`
	Format string `toml:"format" comment:"\"json\": JSON lines; \"table\": a line per window with each statistic beside the threshold it was judged against, alarms highlighted; \"auto\": table when standard output is a terminal, JSON otherwise"`
}

// DefaultConfig prints alarms only, as a table on a terminal and as JSON
// lines elsewhere.
func DefaultConfig() Config { return Config{Data: false, Alarm: true, Format: FormatAuto} }

// Enabled reports whether the sink prints anything.
func (c Config) Enabled() bool { return c.Data || c.Alarm }

// Terminal describes the stream a console writes to.
type Terminal struct {
	IsTerminal bool // a person reads it: FormatAuto prints a table
	Color      bool // ANSI colours may highlight alarms in a table
}

// DetectTerminal tells whether w is a terminal, and whether it may be
// coloured: on a terminal, unless NO_COLOR is set (https://no-color.org)
// or TERM is "dumb".
func DetectTerminal(w io.Writer) Terminal {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return Terminal{}
	}
	return Terminal{IsTerminal: true, Color: os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"}
}

// Sink writes JSON lines, or a table, to w.
type Sink struct {
	cfg   Config
	w     io.Writer
	buf   []byte
	table *table // nil: JSON
}

// New returns a sink writing to w, which is not a terminal: "auto" means
// JSON.
func New(cfg Config, w io.Writer) *Sink { return NewTerminal(cfg, w, Terminal{}) }

// NewTerminal returns a sink writing to w, described by t.
func NewTerminal(cfg Config, w io.Writer, t Terminal) *Sink {
	s := &Sink{cfg: cfg, w: w}
	if cfg.Format == FormatTable || cfg.Format == FormatAuto && t.IsTerminal {
		s.table = &table{color: t.Color}
	}
	return s
}

// Write prints r's data line (if enabled) and then one line per alarm (if
// enabled), in one write, so that a reader of a pipe sees them at once. A
// failed write does not affect the next one.
func (s *Sink) Write(r *event.Record) error {
	s.buf = s.buf[:0]
	if s.table != nil {
		s.buf = s.table.append(s.buf, r, s.cfg.Data, s.cfg.Alarm)
	} else if s.cfg.Data {
		s.buf = append(event.AppendDataJSON(s.buf, r), '\n')
	}
	if s.cfg.Alarm && s.table == nil {
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
		Comment: "Standard output: JSON lines, or a table on a terminal (-v prints data records too)",
		Config:  func() sink.Config { c := DefaultConfig(); return &c },
	}
}

// Validate checks the format.
func (c Config) Validate() error {
	switch c.Format {
	case FormatJSON, FormatTable, FormatAuto:
		return nil
	}
	return config.Errorf("format", "%q: want %q, %q or %q", c.Format, FormatJSON, FormatTable, FormatAuto)
}

// New returns the sink, writing to the pipeline's standard output.
func (c Config) New(env sink.Env) (sink.Sink, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return NewTerminal(c, env.Stdout, DetectTerminal(env.Stdout)), nil
}
