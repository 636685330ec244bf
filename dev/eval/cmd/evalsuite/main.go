// Command evalsuite runs netspot's detection suites and the studies behind
// its defaults (docs/evaluation.md):
//
//	evalsuite gen [-o DIR]                     write the generated suite's captures
//	evalsuite run [-v] SUITE...                evaluate every scenario with the defaults, print the tables
//	evalsuite tune SUITE...                    compare detector settings on the tuning scenarios
//	evalsuite compare -original BIN SUITE...   run the original netspot on the same timelines
//	evalsuite series [-o out.csv] SCENARIO     every statistic of every window, as CSV
//	evalsuite restarts SCENARIO...             false alarms of detectors started afresh over benign traffic
//
// A SUITE is a directory with tuning/ and held-out/ scenario folders, such as
// dev/eval/generated or dev/eval/real.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"netspot/core/eval"
	"netspot/dev/eval/suite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "evalsuite:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: evalsuite gen|run|tune|compare|series|restarts [options] (see the package documentation)")
	}
	switch args[0] {
	case "gen":
		fs := flag.NewFlagSet("gen", flag.ContinueOnError)
		manifest := fs.String("m", "dev/eval/generated/captures.toml", "manifest of the generated captures")
		dir := fs.String("o", "dev/eval/generated/captures", "directory to write them to")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return suite.Generate(*manifest, *dir)
	case "run":
		return cmdRun(ctx, args[1:], out)
	case "tune":
		return cmdTune(ctx, args[1:], out)
	case "compare":
		return cmdCompare(ctx, args[1:], out)
	case "series":
		return cmdSeries(ctx, args[1:], out)
	case "restarts":
		return cmdRestarts(ctx, args[1:], out)
	}
	return fmt.Errorf("unknown command %q (gen, run, tune, compare, series, restarts)", args[0])
}

func cmdRun(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	verbose := fs.Bool("v", false, "print each scenario's full report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st := suite.Defaults()
	for _, dir := range fs.Args() {
		tuning, heldOut, err := suite.Scenarios(dir)
		if err != nil {
			return err
		}
		for _, part := range []struct {
			name  string
			paths []string
		}{{"tuning", tuning}, {"held-out", heldOut}} {
			if len(part.paths) == 0 {
				continue
			}
			var tot suite.Totals
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(out, "\n## %s (%s)\n\n", filepath.Clean(dir), part.name)
			fmt.Fprintln(tw, "scenario\tperiod\trecall\tvolumetric on time\tmedian delay\tfalse alarms\tbenign time\tper hour\tmissed")
			for _, p := range part.paths {
				r, err := suite.Run(ctx, p, st)
				if errors.Is(err, suite.ErrMissingCapture) {
					fmt.Fprintf(tw, "%s\tskipped: %v\n", name(p), err)
					continue
				}
				if err != nil {
					return err
				}
				if *verbose {
					tw.Flush()
					r.WriteText(out)
					fmt.Fprintln(out)
				}
				var one suite.Totals
				one.Add(r)
				tot.Add(r)
				fmt.Fprintf(tw, "%s\t%gs\t%s\t%d/%d\t%.2f periods\t%d\t%s\t%.2f\t%s\n", name(p), r.PeriodS,
					frac(one.Detected, one.Attacks), one.VolumetricOnTime, one.Volumetric, one.MedianDelay(),
					one.FalseAlarms, suite.Hours(one.BenignHours), one.FalsePerHour(), missed(r))
			}
			fmt.Fprintf(tw, "all\t\t%s\t%d/%d\t%.2f periods\t%d\t%s\t%.2f\t\n", frac(tot.Detected, tot.Attacks),
				tot.VolumetricOnTime, tot.Volumetric, tot.MedianDelay(), tot.FalseAlarms, suite.Hours(tot.BenignHours), tot.FalsePerHour())
			tw.Flush()
		}
	}
	return nil
}

func name(path string) string {
	return strings.TrimSuffix(filepath.Base(path), ".toml")
}

func frac(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d (%.0f%%)", a, b, 100*float64(a)/float64(b))
}

func missed(r *eval.Report) string {
	var m []string
	for _, a := range r.Attacks {
		if !a.Detected {
			m = append(m, a.Label)
		}
	}
	if len(m) == 0 {
		return "-"
	}
	return strings.Join(m, ", ")
}
