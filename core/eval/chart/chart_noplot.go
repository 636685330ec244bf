//go:build noplot

// Package chart draws what an evaluation saw; this build (-tags noplot,
// the firmware's) leaves plotting out: it would add gonum/plot and its
// fonts, about 7 MB.
package chart

import (
	"errors"
	"io"
	"time"

	"netspot/core/eval"
	"netspot/core/event"
)

// Recorder stands for the plotting recorder of full builds.
type Recorder struct{}

// NewRecorder fails: this binary was built without plotting.
func NewRecorder(time.Duration, time.Duration) (*Recorder, error) {
	return nil, errors.New("this netspot was built without plotting (-tags noplot); use a full build to draw")
}

// Add does nothing.
func (*Recorder) Add(*event.Record) {}

// WritePNG fails.
func (*Recorder) WritePNG(io.Writer, *eval.Report) error {
	return errors.New("built without plotting")
}
