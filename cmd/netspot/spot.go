package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"netspot/core/spotcsv"
	"netspot/spot"
)

const spotDescription = `Run one SPOT detector over a series of numbers, to tune its parameters on
recorded statistics. FILE (or standard input when absent or "-") holds one
number per line, after an optional header line "x"; with --column NAME it is
a CSV file with a header, and NAME picks the column. Empty fields, "nan" and
"null" are missing values: they are skipped (and counted on standard error).

With --watch-after N below depth + n-init (netspot judges after 300
periods), the detector judges from its N-th value on with provisional tails,
refitted on the values seen so far, against a cautious threshold (the upper
bound of its quantile at --confidence), until depth + n-init values give it
its complete model.

Output (CSV on standard output):
  i,status,t,z,n,Nt,peaks,gamma,sigma    (drift after status with --depth > 0,
                                          then left with --watch-after)
  i       0-based index of the input value
  status  -1 for the state right after learning (at the last value learnt
          before judging), then 0 normal, 1 excess, 2 alarm for each value,
          and 6 for a value beyond t that continues an alarm's excursion
          (not learnt; never in reference mode nor with --keep-anomalies)
  t, z    excess and alarm thresholds after the step, in data units relative
          to drift: the next value is an alarm beyond z + drift
  drift   mean of the drift window after the step (--depth > 0)
  left    values still to learn before the complete model, 0 once it is
          calibrated: until then t, z and the tail are provisional
  n, Nt   values and excesses counted; peaks: excesses stored for the fit
  gamma, sigma  fitted tail (generalized Pareto shape and scale)`

func newSpot(e *env) *cobra.Command {
	def := spot.DefaultConfig()
	c := verb("spot [options] [FILE]", "run one SPOT detector over a series of numbers (parameter tuning)", spotDescription)
	fs := c.Flags()
	q := fs.Float64("q", def.Q, "risk: probability of a value beyond the alarm threshold")
	level := fs.Float64("level", def.Level, "quantile of the calibration values where the tail starts")
	nInit := fs.Int("n-init", def.NInit, "values the complete model is calibrated on (after depth values)")
	watchAfter := fs.Int("watch-after", def.WatchAfter, "values learnt before judging, with provisional tails until depth + n-init (0: depth + n-init)")
	confidence := fs.Float64("confidence", def.Confidence, "confidence of the cautious threshold of provisional tails (0: the point estimate)")
	maxExcess := fs.Int("max-excess", def.MaxExcess, "excesses kept to fit the tail")
	lower := fs.Bool("lower", false, "watch the lower tail (low values) instead of the upper one")
	depth := fs.Int("depth", def.Depth, "drift window length (DSPOT); 0 for none")
	resolution := fs.Float64("resolution", def.Resolution, "smallest meaningful difference between values (1 for counts, 1/period for rates); 0 for continuous values")
	minShape := fs.Float64("min-shape", def.MinShape, "lightest tail shape the fit may choose, between -1 and 0 (0: exponential)")
	keep := fs.Bool("keep-anomalies", false, "learn alarms too (reference mode: report them as excesses, as libspot does)")
	reference := fs.Bool("reference", false, "reproduce the reference C library (libspot 2.0) step by step")
	column := fs.String("column", "", "read this column of a CSV file with a header")
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 1 {
			return usageErrorf("spot: one input file at most, got %d", len(args))
		}
		cfg := spot.Config{
			Q: *q, Level: *level, NInit: *nInit, MaxExcess: *maxExcess, Depth: *depth, Resolution: *resolution, MinShape: *minShape,
			WatchAfter: *watchAfter, Confidence: *confidence,
			Up: !*lower, Down: *lower, KeepAnomalies: *keep, Reference: *reference,
		}
		return spotSeries(c.Context(), e, cfg, args, *column)
	}
	return c
}

// spotSeries runs one detector over a series read from a file or stdin and
// prints its state after every step.
func spotSeries(ctx context.Context, e *env, c spot.Config, args []string, column string) error {
	d, err := spot.New(c)
	if err != nil {
		var pe *spot.ParamError
		if errors.As(err, &pe) {
			return usageErrorf("spot: --%s: %v", strings.ReplaceAll(pe.Param, "_", "-"), pe.Err)
		}
		return usageErrorf("spot: %v", err)
	}

	side := spot.Upper
	if c.Down {
		side = spot.Lower
	}
	path := ""
	if len(args) == 1 {
		path = args[0]
	}
	res, err := spotcsv.RunFile(ctx, d, path, e.stdin, e.stdout, spotcsv.Options{Column: column, Side: side,
		Drift: c.Depth > 0, Left: c.JudgesAfter() < c.Depth+c.NInit})
	if res.Missing > 0 {
		fmt.Fprintf(e.stderr, "netspot spot: %d missing or non-finite values skipped (first on line %d)\n", res.Missing, res.FirstMissing)
	}
	var ie *spotcsv.InputError
	if errors.As(err, &ie) {
		return withCode(exitInput, err)
	}
	return err
}
