package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"netspot/core/sink"
)

// Runner is the capture pipeline as the server drives it. cmd/netspot
// implements it with the code of `netspot run`, since only the command knows
// the configuration file as a whole; tests use fakes.
type Runner interface {
	// CheckConfig decodes the TOML document doc over base (a
	// configuration CheckConfig returned before, or nil for the defaults)
	// and validates the result. Keys absent from doc keep base's values.
	// Problems are returned as ConfigErrors naming the key and its line in
	// doc; nothing is changed by a failed check.
	CheckConfig(base, doc []byte) (Checked, error)

	// Run runs the pipeline with cfg (the TOML of a Checked) until ctx is
	// cancelled or the capture ends (the end of a capture file, nil) or
	// fails (the error). Every Record also goes to feed, which the
	// pipeline's fan-out closes when it ends. Run calls ready once
	// capture has started; an error returned before that means the
	// pipeline could not start.
	Run(ctx context.Context, cfg []byte, feed sink.Sink, ready func()) error
}

// SinkReporter is implemented by a Runner that can tell how its sinks keep
// up; the status then lists them.
type SinkReporter interface {
	SinkStats() []sink.QueueStats
}

// Checked is a configuration the Runner accepted.
type Checked struct {
	// TOML is the complete configuration, every key with its comment,
	// as `netspot defaults` prints it but with the current values.
	TOML   []byte
	Device string
	Period time.Duration
	Stats  []string // the statistics watched
}

// ConfigError is one problem of a submitted configuration.
type ConfigError struct {
	Key     string `json:"key,omitempty"`  // full dotted key ("spot.q"), "" when unknown
	Line    int    `json:"line,omitempty"` // line in the submitted TOML, 0 when unknown
	Message string `json:"message"`
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// ConfigErrors are the problems of a submitted configuration; the API
// returns them with status 400.
type ConfigErrors []ConfigError

func (e ConfigErrors) Error() string {
	msgs := make([]string, len(e))
	for i := range e {
		msgs[i] = e[i].Error()
	}
	return strings.Join(msgs, "; ")
}

// configProblems returns the problems carried by err, or nil when err is
// not a configuration error.
func configProblems(err error) ConfigErrors {
	var list ConfigErrors
	if errors.As(err, &list) {
		return list
	}
	var one *ConfigError
	if errors.As(err, &one) {
		return ConfigErrors{*one}
	}
	return nil
}
