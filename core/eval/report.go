package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// maxListedFalse bounds the false alarms listed in the text report; the
// JSON report lists them all.
const maxListedFalse = 20

// WriteText writes the report as a table for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	name := r.Scenario
	if name == "" {
		name = "scenario"
	}
	fmt.Fprintf(&b, "%s: %s of traffic from %s, period %s, %d windows\n", name, seconds(r.DurationS), r.Start, seconds(r.PeriodS), r.Windows)
	if r.Description != "" {
		fmt.Fprintf(&b, "  %s\n", r.Description)
	}
	switch {
	case r.WatchingAfterS == nil:
		b.WriteString("  the detectors never finished calibrating: nothing was judged\n")
	case r.AllWatchingAfterS != nil && *r.AllWatchingAfterS != *r.WatchingAfterS:
		fmt.Fprintf(&b, "  detectors watching after %s (all of them after %s)\n", seconds(*r.WatchingAfterS), seconds(*r.AllWatchingAfterS))
	default:
		fmt.Fprintf(&b, "  detectors watching after %s\n", seconds(*r.WatchingAfterS))
	}
	b.WriteString("\n")
	if len(r.Attacks) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ATTACK\tFROM\tTO\tDETECTED\tDELAY\tALARMS\tSTATISTICS")
		for _, a := range r.Attacks {
			det, delay := "no", "-"
			if a.Detected {
				det = "yes"
				delay = seconds(*a.DelayS)
				if a.Volumetric && *a.DelayS > 2*r.PeriodS+1e-9 {
					det = "late"
				}
			}
			if a.DuringLearning {
				det += " (learning)"
			}
			label := a.Label
			if a.Volumetric {
				label += " *"
			}
			st := strings.Join(a.Stats, ", ")
			if st == "" {
				st = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", label, seconds(a.StartS), seconds(a.EndS), det, delay, a.Alarms, st)
		}
		tw.Flush()
		b.WriteString("* volumetric: to be flagged within two periods of its start (late otherwise)\n\n")
	}
	fmt.Fprintf(&b, "recall             %s\n", recallText(r))
	if r.MedianDelayS != nil {
		fmt.Fprintf(&b, "median delay       %s\n", seconds(*r.MedianDelayS))
	}
	fmt.Fprintf(&b, "false alarms       %d in %.2f benign hours", r.FalseAlarms, r.BenignHours)
	if r.FalseAlarmsPerHour != nil {
		fmt.Fprintf(&b, " (%.2f per hour)", *r.FalseAlarmsPerHour)
	}
	b.WriteString("\n")
	if len(r.FalseByStat) > 0 {
		names := make([]string, 0, len(r.FalseByStat))
		for n := range r.FalseByStat {
			names = append(names, n)
		}
		slices.SortFunc(names, func(a, b string) int {
			if d := r.FalseByStat[b] - r.FalseByStat[a]; d != 0 {
				return d
			}
			return strings.Compare(a, b)
		})
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %d", n, r.FalseByStat[n])
		}
		fmt.Fprintf(&b, "  by statistic     %s\n", strings.Join(parts, ", "))
		start, _ := time.Parse(time.RFC3339Nano, r.Start)
		for i, a := range r.FalseAlarmList {
			if i == maxListedFalse {
				fmt.Fprintf(&b, "  ... and %d more (--json lists them all)\n", len(r.FalseAlarmList)-maxListedFalse)
				break
			}
			fmt.Fprintf(&b, "  at %-10s %s %s", seconds(a.Start.Sub(start).Seconds()), a.Stat, a.Side)
			if a.Value != nil && a.Threshold != nil {
				fmt.Fprintf(&b, " (%.4g beyond %.4g)", *a.Value, *a.Threshold)
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func recallText(r *Report) string {
	if r.Recall == nil {
		return "- (no attack in the scenario)"
	}
	s := fmt.Sprintf("%d of %d (%.0f%%)", r.Detected, r.AttackCount, 100**r.Recall)
	if r.Volumetric > 0 {
		s += fmt.Sprintf("; volumetric on time %d of %d", r.VolumetricOnTime, r.Volumetric)
	}
	return s
}

// seconds formats a number of seconds as a short duration ("2h10m0s",
// "0.7s").
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}
