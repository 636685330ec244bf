package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

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

// cmdSpot runs one detector over a series read from a file or stdin and
// prints its state after every step.
func cmdSpot(ctx context.Context, e *env, args []string) error {
	def := spot.DefaultConfig()
	fs := newFlags("spot", "netspot spot [options] [FILE]", spotDescription)
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
	if err := fs.parse(e, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 1 {
		return usageErrorf("spot: one input file at most, got %d", fs.NArg())
	}
	c := spot.Config{
		Q: *q, Level: *level, NInit: *nInit, MaxExcess: *maxExcess, Depth: *depth, Resolution: *resolution, MinShape: *minShape,
		WatchAfter: *watchAfter, Confidence: *confidence,
		Up: !*lower, Down: *lower, KeepAnomalies: *keep, Reference: *reference,
	}
	d, err := spot.New(c)
	if err != nil {
		var pe *spot.ParamError
		if errors.As(err, &pe) {
			return usageErrorf("spot: --%s: %v", strings.ReplaceAll(pe.Param, "_", "-"), pe.Err)
		}
		return usageErrorf("spot: %v", err)
	}

	in, name := e.stdin, "standard input"
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		name = fs.Arg(0)
		f, err := os.Open(name)
		if err != nil {
			return withCode(exitInput, fmt.Errorf("spot: %w", err))
		}
		defer f.Close()
		in = f
	}
	side := spot.Upper
	if *lower {
		side = spot.Lower
	}
	out := bufio.NewWriter(e.stdout)
	run := spotRun{d: d, side: side, drift: c.Depth > 0, left: c.JudgesAfter() < c.Depth+c.NInit, out: out}
	if err := run.series(ctx, in, name, *column); err != nil {
		out.Flush()
		return err
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("spot: write: %w", err)
	}
	if run.missing > 0 {
		fmt.Fprintf(e.stderr, "netspot spot: %d missing or non-finite values skipped (first on line %d)\n", run.missing, run.firstMissing)
	}
	if d.Remaining() > 0 {
		return withCode(exitInput, fmt.Errorf("spot: %s: %d values read, the detector needs %d more (%d in all) before it judges",
			name, run.values, d.Remaining(), c.JudgesAfter()))
	}
	return nil
}

// spotRun feeds a series to a detector and writes its rows.
type spotRun struct {
	d     *spot.Detector
	side  spot.Side
	drift bool
	left  bool // the left column: judging before the complete model
	out   *bufio.Writer
	buf   []byte

	index        int // 0-based index of the next input value
	values       int // values fed to the detector
	missing      int
	firstMissing int
}

// maxLine bounds a line of input.
const maxLine = 1 << 20

func (r *spotRun) series(ctx context.Context, in io.Reader, name, column string) error {
	s := bufio.NewScanner(in)
	s.Buffer(make([]byte, 64*1024), maxLine)
	header := "i,status"
	if r.drift {
		header += ",drift"
	}
	if r.left {
		header += ",left"
	}
	r.out.WriteString(header + ",t,z,n,Nt,peaks,gamma,sigma\n")

	col, fields := 0, 1 // the column to read and the number of fields
	line := 0
	for s.Scan() {
		line++
		text := strings.TrimRight(s.Text(), "\r")
		if line == 1 {
			var isHeader bool
			var err error
			col, fields, isHeader, err = parseHeader(text, column)
			if err != nil {
				return withCode(exitInput, fmt.Errorf("spot: %s:1: %w", name, err))
			}
			if isHeader {
				continue
			}
		}
		if line%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		x, err := parseField(text, col, fields)
		if err != nil {
			return withCode(exitInput, fmt.Errorf("spot: %s:%d: %w", name, line, err))
		}
		if math.IsNaN(x) {
			r.index++
			if r.missing++; r.missing == 1 {
				r.firstMissing = line
			}
			continue
		}
		if err := r.step(x); err != nil {
			return err
		}
	}
	if err := s.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return withCode(exitInput, fmt.Errorf("spot: %s:%d: line longer than %d bytes", name, line+1, maxLine))
		}
		return withCode(exitInput, fmt.Errorf("spot: read %s: %w", name, err))
	}
	return nil
}

// parseHeader reads the first line: with column, a CSV header that must
// name it; without, "x" or already a value.
func parseHeader(text, column string) (col, fields int, isHeader bool, err error) {
	if column == "" {
		if strings.TrimSpace(text) == "x" {
			return 0, 1, true, nil
		}
		if _, err := parseField(text, 0, 1); err != nil {
			return 0, 0, false, fmt.Errorf("%w (a header line must be \"x\"; for a CSV file, pick a column with --column NAME)", err)
		}
		return 0, 1, false, nil
	}
	names := strings.Split(text, ",")
	for i, n := range names {
		n = strings.Trim(strings.TrimSpace(n), `"`)
		names[i] = n
		if n == column {
			return i, len(names), true, nil
		}
	}
	return 0, 0, false, fmt.Errorf("no column %q in the header (columns: %s)", column, strings.Join(names, ", "))
}

// parseField returns field col of a line of fields comma-separated values:
// a number, or NaN for a missing value (empty, nan, null). ±Inf and numbers
// beyond ±spot.MaxValue, which a detector cannot take, are errors.
func parseField(text string, col, fields int) (float64, error) {
	f := text
	if fields > 1 {
		parts := strings.Split(text, ",")
		if len(parts) != fields {
			return 0, fmt.Errorf("%d fields, the header has %d", len(parts), fields)
		}
		f = parts[col]
	}
	f = strings.Trim(strings.TrimSpace(f), `"`)
	switch strings.ToLower(f) {
	case "", "nan", "null":
		return math.NaN(), nil
	}
	x, err := strconv.ParseFloat(f, 64)
	if err != nil || !(math.Abs(x) <= spot.MaxValue) {
		if len(f) > 40 {
			f = f[:40] + "…"
		}
		if err == nil || errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%q is out of range (at most ±%g)", f, spot.MaxValue)
		}
		return 0, fmt.Errorf("%q is not a number", f)
	}
	return x, nil
}

func (r *spotRun) step(x float64) error {
	i := r.index
	r.index++
	r.values++
	res := r.d.Step(x)
	st := res.Up
	if r.side == spot.Lower {
		st = res.Down
	}
	switch st {
	case spot.Learning:
		if r.d.Remaining() > 0 {
			return nil
		}
		return r.row(i, -1) // the detector judges from the next value
	case spot.Normal, spot.Excess, spot.Alarm, spot.Continued:
		return r.row(i, int(st))
	}
	return fmt.Errorf("spot: unexpected status %v", st)
}

func (r *spotRun) row(i, status int) error {
	t, err := r.d.Tail(r.side)
	if err != nil {
		return err
	}
	b := r.buf[:0]
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(status), 10)
	if r.drift {
		b = appendG10(append(b, ','), r.d.Drift())
	}
	if r.left {
		b = strconv.AppendInt(append(b, ','), int64(r.d.Provisional()), 10)
	}
	b = appendG10(append(b, ','), t.Excess)
	b = appendG10(append(b, ','), t.Anomaly)
	b = strconv.AppendUint(append(b, ','), t.N, 10)
	b = strconv.AppendUint(append(b, ','), t.Nt, 10)
	b = strconv.AppendInt(append(b, ','), int64(t.Stored), 10)
	b = appendG10(append(b, ','), t.Gamma)
	b = appendG10(append(b, ','), t.Sigma)
	b = append(b, '\n')
	r.buf = b
	_, err = r.out.Write(b)
	return err
}

// appendG10 formats like C's %.10g (NaN as nan, infinities as inf).
func appendG10(b []byte, x float64) []byte {
	switch {
	case math.IsNaN(x):
		return append(b, "nan"...)
	case math.IsInf(x, 1):
		return append(b, "inf"...)
	case math.IsInf(x, -1):
		return append(b, "-inf"...)
	}
	return strconv.AppendFloat(b, x, 'g', 10, 64)
}
