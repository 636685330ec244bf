package api

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"netspot/core/config"
	"netspot/core/pipeline"
	"netspot/core/sink"
)

// Runner is the capture pipeline as the server drives it: pipeline.Runner,
// or a fake in tests.
type Runner interface {
	// Run runs the pipeline with cfg until ctx is cancelled or the
	// capture ends (the end of a capture file, nil) or fails (the error).
	// Every Record also goes to feed, which the pipeline closes when it
	// ends. Run calls ready once capture has started; an error returned
	// before that means the pipeline could not start. The configurations
	// received on reload replace cfg while it runs.
	Run(ctx context.Context, cfg *pipeline.Config, feed sink.Sink, ready func(), reload <-chan *pipeline.Config) error
}

// SinkReporter is implemented by a Runner that can tell how its sinks keep
// up; the status then lists them.
type SinkReporter interface {
	SinkStats() []sink.QueueStats
}

// ConfigError is one problem of a submitted configuration.
type ConfigError struct {
	Key     string `json:"key,omitempty"`  // full dotted key ("spot.q"), "" when unknown
	Line    int    `json:"line,omitempty"` // line in the submitted TOML, 0 when unknown
	Message string `json:"message"`
	// Forbidden is set on a key that the API may not change (a file path,
	// a credential): the answer is then 403.
	Forbidden bool `json:"forbidden,omitempty"`
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
// returns them with status 400 (403 when one is Forbidden).
type ConfigErrors []ConfigError

func (e ConfigErrors) Error() string {
	msgs := make([]string, len(e))
	for i := range e {
		msgs[i] = e[i].Error()
	}
	return strings.Join(msgs, "; ")
}

// configProblems turns the config loader's problems into the API's, or
// returns nil when err is not a configuration problem.
func configProblems(err error) ConfigErrors {
	var list ConfigErrors
	if errors.As(err, &list) {
		return list
	}
	var one *ConfigError
	if errors.As(err, &one) {
		return ConfigErrors{*one}
	}
	ps := config.AsProblems(err)
	if ps == nil {
		return nil
	}
	out := make(ConfigErrors, len(ps))
	for i, p := range ps {
		out[i] = ConfigError{Key: p.Key, Line: p.Line, Message: p.Err.Error(), Forbidden: p.Forbidden}
	}
	return out
}
