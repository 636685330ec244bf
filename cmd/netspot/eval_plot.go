//go:build !noplot

package main

import (
	"io"
	"time"

	"netspot/core/eval"
	"netspot/core/eval/chart"
	"netspot/core/event"
)

// plotter records an evaluation's series and draws them (eval --plot).
type plotter interface {
	Add(*event.Record)
	WritePNG(io.Writer, *eval.Report) error
}

// newPlotter returns the recorder of eval --plot. Plotting links
// gonum/plot and its fonts (about 7 MB of binary); a firmware image that
// does not need it builds with -tags noplot.
func newPlotter(duration, period time.Duration) (plotter, error) {
	return chart.NewRecorder(duration, period), nil
}
