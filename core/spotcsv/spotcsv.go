// Package spotcsv runs one SPOT detector over a series of numbers read
// from a file, and writes the detector's state after every step as CSV:
// what `netspot spot` does to tune parameters on recorded statistics, and
// the form of the reference implementation's test vectors.
package spotcsv

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

// InputError is a problem with the series read: a line that is not a
// number, a missing column, a read failure.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// Result says what was read.
type Result struct {
	Values       int // values fed to the detector
	Missing      int // missing or non-finite values skipped
	FirstMissing int // line of the first of them
}

// Options say what Run reads and writes.
type Options struct {
	Name   string    // of the input, in errors
	Column string    // the CSV column to read; "": one number per line, after an optional header "x"
	Side   spot.Side // the tail whose thresholds are written
	Drift  bool      // write the drift column
	Left   bool      // write the left column: values still to learn before the complete model
}

// Run feeds the series read from in to d and writes a header and one row
// per step to out.
func Run(ctx context.Context, d *spot.Detector, in io.Reader, out io.Writer, opt Options) (Result, error) {
	w := bufio.NewWriter(out)
	r := spotRun{d: d, side: opt.Side, drift: opt.Drift, left: opt.Left, out: w}
	name, column := opt.Name, opt.Column
	err := r.series(ctx, in, name, column)
	if ferr := w.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("spot: write: %w", ferr)
	}
	return Result{Values: r.values, Missing: r.missing, FirstMissing: r.firstMissing}, err
}

// RunFile is Run on the file at path, or on stdin when path is "" or "-".
// A file that cannot be opened is an *InputError, and so is a series too
// short for the detector to watch.
func RunFile(ctx context.Context, d *spot.Detector, path string, stdin io.Reader, out io.Writer, opt Options) (Result, error) {
	in, name := stdin, "standard input"
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return Result{}, &InputError{fmt.Errorf("spot: %w", err)}
		}
		defer f.Close()
		in, name = f, path
	}
	opt.Name = name
	res, err := Run(ctx, d, in, out, opt)
	if err == nil && d.Remaining() > 0 {
		err = &InputError{fmt.Errorf("spot: %s: %d values read, the detector needs %d more (%d in all) before it judges",
			name, res.Values, d.Remaining(), res.Values+d.Remaining())}
	}
	return res, err
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
				return &InputError{fmt.Errorf("spot: %s:1: %w", name, err)}
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
			return &InputError{fmt.Errorf("spot: %s:%d: %w", name, line, err)}
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
			return &InputError{fmt.Errorf("spot: %s:%d: line longer than %d bytes", name, line+1, maxLine)}
		}
		return &InputError{fmt.Errorf("spot: read %s: %w", name, err)}
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
