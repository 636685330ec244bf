package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"netspot/core/eval"
	"netspot/dev/eval/suite"
)

// originalStats are the original netspot's statistics, less PERF (the
// speed of the machine, which it judges too).
var originalStats = []string{"AVG_PKT_SIZE", "R_ACK", "R_ARP", "R_DST_SRC", "R_DST_SRC_PORT", "R_ICMP", "R_IP", "R_SYN", "TRAFFIC"}

// cmdCompare runs the original netspot (a binary built beside the project,
// see docs/evaluation.md) on the timelines of the scenarios, written to a
// temporary capture file, and scores its alarms like netspot's: once per
// alarm line (it flags every anomalous window) and once per excursion (runs
// of alarm windows of one statistic less than clear_after windows apart).
func cmdCompare(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	bin := fs.String("original", "", "the original netspot's binary")
	clearAfter := fs.Int("clear_after", 3, "windows that end an excursion of its alarms")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" {
		return errors.New("compare: -original BINARY is required")
	}
	tmp, err := os.MkdirTemp("", "netspot-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, dir := range fs.Args() {
		tuning, heldOut, err := suite.Scenarios(dir)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(out, "\n## original netspot on %s\n\n", filepath.Clean(dir))
		fmt.Fprintln(tw, "scenario\tpart\tperiod\trecall\tvolumetric on time\tmedian delay\tfalse alarms (windows)\tper hour\tfalse alarms (excursions)\tper hour\tbenign time")
		for _, p := range append(slices.Clone(tuning), heldOut...) {
			part := "tuning"
			if slices.Contains(heldOut, p) {
				part = "held-out"
			}
			byWindow, byExcursion, err := compareOne(ctx, p, *bin, tmp, *clearAfter)
			if errors.Is(err, suite.ErrMissingCapture) {
				fmt.Fprintf(tw, "%s\t%s\tskipped: %v\n", name(p), part, err)
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			var w, e suite.Totals
			w.Add(byWindow)
			e.Add(byExcursion)
			fmt.Fprintf(tw, "%s\t%s\t%gs\t%s\t%d/%d\t%.2f periods\t%d\t%.2f\t%d\t%.2f\t%s\n", name(p), part, byWindow.PeriodS,
				frac(w.Detected, w.Attacks), w.VolumetricOnTime, w.Volumetric, w.MedianDelay(),
				w.FalseAlarms, w.FalsePerHour(), e.FalseAlarms, e.FalsePerHour(), suite.Hours(w.BenignHours))
		}
		tw.Flush()
	}
	return nil
}

func compareOne(ctx context.Context, path, bin, tmp string, clearAfter int) (byWindow, byExcursion *eval.Report, err error) {
	s, tl, err := suite.Build(path)
	if err != nil {
		return nil, nil, err
	}
	period := s.PeriodOr(time.Second)
	start, attacks := tl.Start(), tl.Attacks()
	pcap := filepath.Join(tmp, "timeline.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		return nil, nil, err
	}
	if _, err := eval.WriteTimeline(f, tl); err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := f.Close(); err != nil {
		return nil, nil, err
	}
	data, alarms := filepath.Join(tmp, "data.json"), filepath.Join(tmp, "alarms.json")
	cfg := filepath.Join(tmp, "netspot.toml")
	quoted := make([]string, len(originalStats))
	for i, s := range originalStats {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	doc := fmt.Sprintf("[miner]\ndevice = %q\n[analyzer]\nperiod = %q\nstats = [%s]\n[exporter.file]\ndata = %q\nalarm = %q\n",
		pcap, period.String(), strings.Join(quoted, ", "), data, alarms)
	if err := os.WriteFile(cfg, []byte(doc), 0o644); err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "run", "-c", cfg)
	cmd.Dir = tmp
	if outb, err := cmd.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("original netspot: %v\n%s", err, outb)
	}
	wins, err := readOriginalData(data)
	if err != nil {
		return nil, nil, err
	}
	als, err := readOriginalAlarms(alarms)
	if err != nil {
		return nil, nil, err
	}
	grace := s.Grace(period)
	score := func(merge bool) *eval.Report {
		sc := eval.NewScorer(attacks, period, grace)
		index := make(map[int64]int, len(wins))
		for i, w := range wins {
			index[w.t] = i
			from := start
			if i > 0 {
				from = time.Unix(0, wins[i-1].t)
			}
			sc.Window(from, time.Unix(0, w.t), w.watching)
		}
		last := make(map[string]int) // stat and side -> window of its last alarm
		for _, a := range als {
			i, ok := index[a.t]
			if !ok {
				continue
			}
			key := a.stat + " " + a.side
			prev, seen := last[key]
			last[key] = i
			if merge && seen && i-prev <= clearAfter {
				continue // the same excursion
			}
			from := start
			if i > 0 {
				from = time.Unix(0, wins[i-1].t)
			}
			sc.Alarm(eval.AlarmInfo{Stat: a.stat, Side: a.side, Start: from, End: time.Unix(0, a.t)})
		}
		r := sc.Report(start)
		r.Scenario = path
		return r
	}
	return score(false), score(true), nil
}

type originalWindow struct {
	t        int64
	watching bool // thresholds present: calibration over
}

type originalAlarm struct {
	t          int64
	stat, side string
}

// readOriginalData reads the original's data file: one JSON object per
// window, with the window's end ("time", ns), the values, and NAME_UP
// thresholds once calibrated. It writes NaN unquoted, which is not JSON.
func readOriginalData(path string) ([]originalWindow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []originalWindow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.NewReplacer(":NaN", ":null", ":+Inf", ":null", ":-Inf", ":null").Replace(sc.Text())
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber() // times in ns do not fit a float64
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		num, ok := m["time"].(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s:%d: no time", path, n)
		}
		t, err := num.Int64()
		if err != nil {
			return nil, fmt.Errorf("%s:%d: time: %w", path, n, err)
		}
		w := originalWindow{t: t}
		for k := range m {
			if strings.HasSuffix(k, "_UP") {
				w.watching = true
				break
			}
		}
		out = append(out, w)
	}
	return out, sc.Err()
}

// readOriginalAlarms reads the original's alarm file.
func readOriginalAlarms(path string) ([]originalAlarm, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []originalAlarm
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var a struct {
			Time   json.Number `json:"time"`
			Status string      `json:"status"`
			Stat   string      `json:"stat"`
		}
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.UseNumber()
		if err := dec.Decode(&a); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		t, err := a.Time.Int64()
		if err != nil {
			return nil, fmt.Errorf("%s:%d: time: %w", path, n, err)
		}
		side := "up"
		if a.Status == "DOWN_ALERT" {
			side = "down"
		}
		out = append(out, originalAlarm{t: t, stat: a.Stat, side: side})
	}
	return out, sc.Err()
}
