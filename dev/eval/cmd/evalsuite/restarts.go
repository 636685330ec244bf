package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"netspot/core/analyzer"
	"netspot/core/config"
	"netspot/core/eval"
	"netspot/core/event"
	"netspot/dev/eval/suite"
)

// cmdRestarts measures the false alarms of detectors that judge early:
// it replays the benign traffic of scenarios (their backgrounds, without
// the attacks) and starts netspot's analyzer afresh every few windows, as
// a new box would, counting the alarms of each run over its first
// windows. Every alarm is false. An alarm is put down to the provisional
// tails or to the complete model after the stage its statistic's detector
// was in when it was raised.
func cmdRestarts(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("restarts", flag.ContinueOnError)
	every := fs.Int("every", 450, "windows between two starts")
	horizon := fs.Int("horizon", 2300, "windows judged after each start (2300: until the complete model of the defaults)")
	watchAfters := fs.String("watch_after", "", "periods before judging to try (default: the default)")
	confidences := fs.String("confidence", "", "confidences of the provisional thresholds to try (default: the default)")
	verbose := fs.Bool("v", false, "list every alarm")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *every < 1 || *horizon < 1 {
		return errors.New("restarts: -every and -horizon must be at least 1")
	}
	def := analyzer.DefaultSpotConfig()
	watchAfter, err1 := list("watch_after", *watchAfters, def.WatchAfter, strconv.Atoi)
	confidence, err2 := list("confidence", *confidences, def.Confidence, parseFloat)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("restarts: %w", err)
	}
	var tries []analyzer.SpotConfig
	for _, wa := range watchAfter {
		for _, cf := range confidence {
			sp := analyzer.DefaultSpotConfig()
			sp.WatchAfter, sp.Confidence = wa, cf
			if err := sp.Validate(); err != nil {
				return fmt.Errorf("restarts: %w", err)
			}
			tries = append(tries, sp)
		}
	}
	if fs.NArg() == 0 {
		return errors.New("restarts: no scenario (their backgrounds are replayed, without the attacks)")
	}
	var bgs []*cached
	for _, p := range fs.Args() {
		c, err := replayBackground(ctx, p)
		if err != nil {
			return err
		}
		if len(c.snaps) < *horizon {
			return fmt.Errorf("restarts: %s: %d windows, fewer than the horizon of %d", p, len(c.snaps), *horizon)
		}
		bgs = append(bgs, c)
	}
	fmt.Fprintf(out, "benign traffic:")
	for _, c := range bgs {
		fmt.Fprintf(out, " %s (%d windows of %s, %d starts)", c.name, len(c.snaps), c.period, (len(c.snaps)-*horizon) / *every + 1)
	}
	fmt.Fprintf(out, "; each start judged for %d windows\n\n", *horizon)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "watch_after\tconfidence\tstarts\tprovisional: hours\tfalse alarms\tper hour\tcomplete: hours\tfalse alarms\tper hour\tby statistic (provisional/complete)")
	for _, sp := range tries {
		var r restartTotals
		r.byStat = make(map[string][2]int)
		for _, c := range bgs {
			for o := 0; o+*horizon <= len(c.snaps); o += *every {
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := r.run(c, o, *horizon, sp, out, *verbose); err != nil {
					return err
				}
			}
		}
		var stats []string
		for s := range r.byStat {
			stats = append(stats, s)
		}
		sort.Strings(stats)
		var by []string
		for _, s := range stats {
			by = append(by, fmt.Sprintf("%s %d/%d", s, r.byStat[s][0], r.byStat[s][1]))
		}
		fmt.Fprintf(tw, "%d\t%g\t%d\t%.1f\t%d\t%.3f\t%.1f\t%d\t%.3f\t%s\n", sp.WatchAfter, sp.Confidence, r.starts,
			r.hours[0], r.alarms[0], perHour(r.alarms[0], r.hours[0]), r.hours[1], r.alarms[1], perHour(r.alarms[1], r.hours[1]), strings.Join(by, ", "))
	}
	return tw.Flush()
}

func perHour(n int, h float64) float64 {
	if h == 0 {
		return 0
	}
	return float64(n) / h
}

// restartTotals sums the runs of one setting: [0] provisional, [1]
// complete.
type restartTotals struct {
	starts int
	hours  [2]float64
	alarms [2]int
	byStat map[string][2]int
}

// run starts an analyzer with every default statistic at window o of c
// and judges n windows.
func (r *restartTotals) run(c *cached, o, n int, sp analyzer.SpotConfig, out io.Writer, verbose bool) error {
	ac := analyzer.DefaultConfig()
	ac.Period = config.Duration(c.period)
	an, err := analyzer.New(ac, sp, analyzer.Options{RunID: "restart"})
	if err != nil {
		return err
	}
	r.starts++
	for i := o; i < o+n; i++ {
		before := an.Learning()
		rec := an.Process(&c.snaps[i])
		// A window counts as provisional while a detector is, as
		// complete once every detector judging is complete.
		prov, judged := false, false
		for _, l := range before {
			prov = prov || l.Stage == analyzer.Provisional
			judged = judged || l.Stage == analyzer.Provisional || l.Stage == analyzer.Complete
		}
		if judged {
			k := 1
			if prov {
				k = 0
			}
			r.hours[k] += rec.End.Sub(rec.Start).Hours()
		}
		for _, a := range rec.Alarms {
			k := 1
			for _, l := range before {
				if l.Stat == a.Stat && l.Stage == analyzer.Provisional {
					k = 0
				}
			}
			r.alarms[k]++
			bs := r.byStat[a.Stat]
			bs[k]++
			r.byStat[a.Stat] = bs
			if verbose {
				fmt.Fprintf(out, "  %s start %d window %d: %s %s %.4g beyond %.4g (%s)\n", c.name, o, i-o, a.Stat, a.Side, a.Value, a.Threshold, [2]string{"provisional", "complete"}[k])
			}
		}
	}
	return nil
}

// replayBackground replays a scenario's backgrounds alone, at the
// scenario's period (1 s when it sets none).
func replayBackground(ctx context.Context, path string) (*cached, error) {
	s, err := eval.Load(path)
	if err != nil {
		return nil, err
	}
	s.Attack = nil
	tl, err := eval.Build(s, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &cached{name: name(path), period: s.PeriodOr(time.Second), start: tl.Start()}
	st := suite.Defaults()
	err = eval.Replay(ctx, tl, st.Miner, c.period, nil, func(sn *event.Snapshot) { c.snaps = append(c.snaps, *sn) })
	return c, err
}
