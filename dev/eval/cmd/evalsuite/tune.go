package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"netspot/core/analyzer"
	"netspot/core/config"
	"netspot/core/eval"
	"netspot/core/event"
	"netspot/core/stats"
	"netspot/dev/eval/suite"
)

// cached is a tuning scenario replayed once: its windows, which do not
// depend on the detector settings.
type cached struct {
	name    string
	period  time.Duration
	grace   time.Duration
	start   time.Time
	attacks []eval.Window
	snaps   []event.Snapshot
}

// outcome is what one setting did on one scenario, per statistic: the
// alarms each raised, and the windows judged.
type outcome struct {
	sc      *cached
	alarms  []eval.AlarmInfo
	windows []windowInfo
}

type windowInfo struct {
	start, end time.Time
	watching   bool
}

func cmdTune(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("tune", flag.ContinueOnError)
	qs := fs.String("q", "1e-4,1e-5,1e-6", "risks to try")
	levels := fs.String("level", "0.98,0.99", "levels to try")
	depths := fs.String("depth", "50,300", "drift windows to try")
	ninits := fs.String("n_init", "2000", "calibration lengths to try")
	clears := fs.String("clear_after", "3,10", "alarm hysteresis to try")
	maxExcesses := fs.String("max_excess", "", "numbers of stored excesses to try (default: the default)")
	minShapes := fs.String("min_shape", "", "lightest tail shapes to try (default: the default)")
	statSets := fs.String("sets", "", "statistic sets to score besides each statistic alone, separated by ';' (names separated by ',')")
	detail := fs.Bool("detail", false, "list, for each statistic, the attacks it detects and its false alarms per scenario")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The settings and sets are checked before the replays, which take
	// minutes.
	var all []string
	for _, s := range stats.All() {
		if !s.Informational && s.Name != "DROPPED" {
			all = append(all, s.Name)
		}
	}
	sets := [][]string{stats.Default(), all}
	if *statSets != "" {
		for _, s := range strings.Split(*statSets, ";") {
			set := strings.Split(s, ",")
			for _, name := range set {
				if !slices.Contains(all, name) {
					return fmt.Errorf("tune: -sets: %q is not a statistic judged by a detector", name)
				}
			}
			sets = append(sets, set)
		}
	}
	def, defAnalyzer := analyzer.DefaultSpotConfig(), analyzer.DefaultConfig()
	q, err1 := list("q", *qs, def.Q, parseFloat)
	level, err2 := list("level", *levels, def.Level, parseFloat)
	depth, err3 := list("depth", *depths, def.Depth, strconv.Atoi)
	nInit, err4 := list("n_init", *ninits, def.NInit, strconv.Atoi)
	clearAfter, err5 := list("clear_after", *clears, defAnalyzer.ClearAfter, strconv.Atoi)
	maxExcess, err6 := list("max_excess", *maxExcesses, def.MaxExcess, strconv.Atoi)
	minShape, err7 := list("min_shape", *minShapes, def.MinShape, parseFloat)
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7); err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	tries, err := settings(q, level, depth, nInit, clearAfter, maxExcess, minShape)
	if err != nil {
		return fmt.Errorf("tune: %w", err)
	}
	var scs []*cached
	for _, dir := range fs.Args() {
		tuning, _, err := suite.Scenarios(dir)
		if err != nil {
			return err
		}
		for _, p := range tuning {
			c, err := replay(ctx, p)
			if err != nil {
				fmt.Fprintf(out, "skipped %s: %v\n", p, err)
				continue
			}
			scs = append(scs, c)
		}
	}
	if len(scs) == 0 {
		return fmt.Errorf("no tuning scenario could be replayed")
	}
	fmt.Fprintf(out, "tuning scenarios:")
	for _, c := range scs {
		fmt.Fprintf(out, " %s (%d windows of %s)", c.name, len(c.snaps), c.period)
	}
	fmt.Fprintln(out)
	ac := analyzer.DefaultConfig()
	ac.Stats = all
	for _, st := range tries {
		ac.ClearAfter = st.clearAfter
		var outs []outcome
		for _, c := range scs {
			o, err := judge(c, ac, st.spot)
			if err != nil {
				return err
			}
			outs = append(outs, o)
		}
		sp := st.spot
		fmt.Fprintf(out, "\n### q=%g level=%g depth=%d n_init=%d clear_after=%d max_excess=%d min_shape=%g\n",
			sp.Q, sp.Level, sp.Depth, sp.NInit, st.clearAfter, sp.MaxExcess, sp.MinShape)
		printStats(out, outs, all, sets)
		if *detail {
			printDetail(out, outs, all)
		}
	}
	return nil
}

// setting is one combination of detector settings to try.
type setting struct {
	spot       analyzer.SpotConfig
	clearAfter int
}

// settings lists every combination of the values given, each checked as
// the config file's [spot] section and clear_after would be.
func settings(qs, levels []float64, depths, ninits, clears, maxExcesses []int, minShapes []float64) ([]setting, error) {
	var out []setting
	for _, q := range qs {
		for _, lv := range levels {
			for _, d := range depths {
				for _, ni := range ninits {
					for _, ca := range clears {
						for _, me := range maxExcesses {
							for _, ms := range minShapes {
								sp := analyzer.DefaultSpotConfig()
								sp.Q, sp.Level, sp.Depth, sp.NInit, sp.MaxExcess, sp.MinShape = q, lv, d, ni, me, ms
								ac := analyzer.DefaultConfig()
								ac.ClearAfter = ca
								if err := sp.Validate(); err != nil {
									return nil, err
								}
								if err := ac.Validate(); err != nil {
									return nil, err
								}
								out = append(out, setting{spot: sp, clearAfter: ca})
							}
						}
					}
				}
			}
		}
	}
	return out, nil
}

// list parses the comma-separated values of a flag; empty text gives def
// alone.
func list[T any](flag, text string, def T, parse func(string) (T, error)) ([]T, error) {
	if strings.TrimSpace(text) == "" {
		return []T{def}, nil
	}
	var out []T
	for _, f := range strings.Split(text, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("-%s: %q is not a valid value", flag, f)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

// replay builds a scenario's timeline and keeps its windows at the
// scenario's period (1 s when it sets none).
func replay(ctx context.Context, path string) (*cached, error) {
	s, tl, err := suite.Build(path)
	if err != nil {
		return nil, err
	}
	c := &cached{name: name(path), period: s.PeriodOr(time.Second), start: tl.Start(), attacks: tl.Attacks()}
	c.grace = s.Grace(c.period)
	st := suite.Defaults()
	err = eval.Replay(ctx, tl, st.Miner, c.period, nil, func(sn *event.Snapshot) { c.snaps = append(c.snaps, *sn) })
	return c, err
}

// judge runs the analyzer with every statistic over a cached scenario.
func judge(c *cached, ac analyzer.Config, sp analyzer.SpotConfig) (outcome, error) {
	ac.Period = config.Duration(c.period)
	an, err := analyzer.New(ac, sp, analyzer.Options{RunID: "tune"})
	if err != nil {
		return outcome{}, err
	}
	o := outcome{sc: c, windows: make([]windowInfo, 0, len(c.snaps))}
	for i := range c.snaps {
		rec := an.Process(&c.snaps[i])
		watching := false
		for _, st := range rec.Stats {
			if !st.Learning {
				watching = true
				break
			}
		}
		o.windows = append(o.windows, windowInfo{rec.Start, rec.End, watching})
		for _, a := range rec.Alarms {
			o.alarms = append(o.alarms, eval.AlarmInfo{Stat: a.Stat, Side: a.Side.String(), Start: a.Start, End: a.End})
		}
	}
	return o, nil
}

// score scores the alarms of the statistics in set.
func score(o outcome, set []string) *eval.Report {
	sc := eval.NewScorer(o.sc.attacks, o.sc.period, o.sc.grace)
	for _, w := range o.windows {
		sc.Window(w.start, w.end, w.watching)
	}
	for _, a := range o.alarms {
		if slices.Contains(set, a.Stat) {
			sc.Alarm(a)
		}
	}
	return sc.Report(o.sc.start)
}

func printStats(out io.Writer, outs []outcome, all []string, sets [][]string) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "statistics\tdetected\tvolumetric on time\tfalse alarms\tper hour\tmissed")
	row := func(label string, set []string, outs []outcome) {
		var tot suite.Totals
		var missedAll []string
		for _, o := range outs {
			r := score(o, set)
			tot.Add(r)
			for _, a := range r.Attacks {
				if !a.Detected {
					missedAll = append(missedAll, o.sc.name+"/"+a.Label)
				}
			}
		}
		m := strings.Join(missedAll, " ")
		if len(missedAll) > 8 {
			m = fmt.Sprintf("%d attacks", len(missedAll))
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d/%d\t%d\t%.2f\t%s\n", label, tot.Detected, tot.Attacks, tot.VolumetricOnTime, tot.Volumetric,
			tot.FalseAlarms, tot.FalsePerHour(), m)
	}
	for i, set := range sets {
		var label string
		switch i {
		case 0:
			label = "current default set"
		case 1:
			label = "all"
		default:
			label = strings.Join(set, ",")
		}
		row(label, set, outs)
		if i == 0 && len(outs) > 1 {
			// The goals hold per scenario: the default set on each.
			for _, o := range outs {
				row("  on "+o.sc.name, set, []outcome{o})
			}
		}
	}
	sorted := slices.Clone(all)
	sort.Strings(sorted)
	for _, s := range sorted {
		row("  "+s, []string{s}, outs)
	}
	tw.Flush()
}

// printDetail lists, for each statistic alone, the attacks it detects (with
// the delay in periods) and its false alarms on each scenario.
func printDetail(out io.Writer, outs []outcome, all []string) {
	sorted := slices.Clone(all)
	sort.Strings(sorted)
	fmt.Fprintln(out)
	for _, s := range sorted {
		var det, fa []string
		for _, o := range outs {
			r := score(o, []string{s})
			for _, a := range r.Attacks {
				if a.Detected && a.DelayS != nil {
					det = append(det, fmt.Sprintf("%s/%s(%.1f)", o.sc.name, a.Label, *a.DelayS/r.PeriodS))
				}
			}
			if r.FalseAlarms > 0 {
				fa = append(fa, fmt.Sprintf("%s:%d", o.sc.name, r.FalseAlarms))
			}
		}
		fmt.Fprintf(out, "%s\n  detects: %s\n  false alarms: %s\n", s, strings.Join(det, " "), strings.Join(fa, " "))
	}
}
