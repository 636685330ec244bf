package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"netspot/core/event"
	"netspot/core/stats"
)

// cmdSeries writes the statistics of a scenario's windows as CSV: one row
// per window with its offset from the timeline's start, the label of the
// attack whose extended window it overlaps (empty for benign traffic), and
// every statistic. A column is what `netspot spot --column NAME` reads, so
// that a detector setting can be studied on one statistic at a time.
func cmdSeries(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("series", flag.ContinueOnError)
	outPath := fs.String("o", "", "write the CSV to this file (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("series: one scenario file, got %d arguments", fs.NArg())
	}
	c, err := replay(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *outPath != "" {
		f, err := os.Create(*outPath)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	w := csv.NewWriter(out)
	var table []stats.Stat
	header := []string{"offset_s", "attack"}
	for _, s := range stats.All() {
		if !s.Informational {
			table = append(table, s)
			header = append(header, s.Name)
		}
	}
	if err := w.Write(header); err != nil {
		return err
	}
	row := make([]string, len(header))
	for i := range c.snaps {
		sn := &c.snaps[i]
		row[0] = strconv.FormatFloat(sn.Start.Sub(c.start).Seconds(), 'f', -1, 64)
		row[1] = attackAt(c, sn)
		for j, s := range table {
			row[2+j] = ""
			if v := s.Compute(sn); !math.IsNaN(v) { // undefined: an empty field
				row[2+j] = strconv.FormatFloat(v, 'g', 10, 64)
			}
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if f, ok := out.(*os.File); ok && *outPath != "" {
		return f.Close()
	}
	return nil
}

// attackAt is the label of the attack whose window, extended by the grace,
// overlaps the snapshot's window; empty when none does.
func attackAt(c *cached, sn *event.Snapshot) string {
	for _, a := range c.attacks {
		if sn.Start.Before(a.End.Add(c.grace)) && sn.End.After(a.Start) {
			return a.Label
		}
	}
	return ""
}
