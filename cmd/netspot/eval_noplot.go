//go:build noplot

package main

import (
	"errors"
	"io"
	"time"

	"netspot/core/eval"
	"netspot/core/event"
)

type plotter interface {
	Add(*event.Record)
	WritePNG(io.Writer, *eval.Report) error
}

// newPlotter fails: this binary was built without gonum/plot.
func newPlotter(time.Duration, time.Duration) (plotter, error) {
	return nil, errors.New("this netspot was built without plotting (-tags noplot); use a full build to draw")
}
