// Package analyzer turns the miner's Snapshots into Records: it computes the
// watched statistics, feeds each to its SPOT detector, and keeps the state of
// every alarm (raised, still active, cleared) so that LEDs, dashboards and
// MQTT can show state, not only events.
//
// One detector watches one statistic, with its upper and/or lower tail sharing
// one drift window, so that an excursion flagged on one side is never learned
// by the other.
package analyzer

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"netspot/core/event"
	"netspot/core/stats"
	"netspot/spot"
)

// Analyzer judges windows. It is not safe for concurrent use: the pipeline
// calls Process from one goroutine.
type Analyzer struct {
	log        *slog.Logger
	watch      []*watched
	clearAfter int
	period     time.Duration
	runID      string
	seq        uint64
}

type watched struct {
	stat   stats.Stat
	params SpotParams
	det    *spot.Detector // nil for informational statistics
	// active alarm per side (event.Up, event.Down); nil when none.
	alarm [2]*activeAlarm
	// stage is where the detector was after the last window: learning,
	// provisional or complete (see Stage), to log its changes.
	stage Stage
	// windows and values count, while it learns, the windows judged and
	// those in which the statistic was defined: how many windows a value
	// takes, for learning_left.
	windows, values int
}

// Stage is where a statistic's detector is in its life.
type Stage int8

const (
	// Learning: it learns, and judges nothing yet.
	Learning Stage = iota
	// Provisional: it judges, with provisional tails and cautious
	// thresholds, and learns on towards its complete model.
	Provisional
	// Complete: it judges with its complete model.
	Complete
	// Informational: the statistic is reported, never judged.
	Informational
)

func (s Stage) String() string {
	switch s {
	case Learning:
		return "learning"
	case Provisional:
		return "provisional"
	case Complete:
		return "complete"
	case Informational:
		return "informational"
	}
	return "Stage(" + strconv.Itoa(int(s)) + ")"
}

// StatLearning says when one statistic's detector judges. The counts are
// values of the statistic, one per window in which it is defined: a
// statistic that is undefined in some windows (a ratio of nothing to
// nothing) takes more windows than that.
type StatLearning struct {
	Stat  string
	Stage Stage
	// Left is the number of values it learns before it judges, 0 once it
	// judges.
	Left int
	// Windows estimates the windows it still needs before it judges: Left,
	// divided by the share of the windows so far in which the statistic
	// was defined.
	Windows int
	// Provisional is the number of values it learns before its complete
	// model, 0 once it has it. Alarms are not learnt.
	Provisional int
}

func stageOf(d *spot.Detector) Stage {
	switch {
	case d == nil:
		return Informational
	case d.Remaining() > 0:
		return Learning
	case d.Provisional() > 0:
		return Provisional
	}
	return Complete
}

type activeAlarm struct {
	id     string
	normal int // consecutive normal windows since the last abnormal one
}

// Options are the parts of an Analyzer that are not configuration.
type Options struct {
	Log *slog.Logger
	// RunID prefixes alarm ids; empty means a random one, so that ids are
	// never reused across restarts and replays. Tests set it to get stable
	// output.
	RunID string
}

// New builds one detector per watched statistic.
func New(cfg Config, sp SpotConfig, opt Options) (*Analyzer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := sp.Validate(); err != nil {
		return nil, err
	}
	a := &Analyzer{log: opt.Log, clearAfter: cfg.ClearAfter, runID: opt.RunID, period: cfg.Period.D()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.runID == "" {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("analyzer: alarm ids: %w", err)
		}
		a.runID = hex.EncodeToString(b[:])
	}
	for _, name := range cfg.Watched() {
		st, ok := stats.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("analyzer: unknown statistic %q", name)
		}
		w := &watched{stat: st, params: sp.For(name), stage: Informational}
		if !w.params.Bounded {
			// netspot's unbounded mode stored every excess for ever:
			// memory that grows for as long as the box runs.
			a.log.Warn("bounded = false is not supported: the detector keeps at most max_excess extremes", "stat", name, "max_excess", w.params.MaxExcess)
		}
		if !st.Informational {
			det, err := spot.New(a.detectorConfig(w))
			if err != nil {
				return nil, fmt.Errorf("analyzer: detector for %s: %w", name, err)
			}
			w.det, w.stage = det, stageOf(det)
		}
		a.watch = append(a.watch, w)
	}
	return a, nil
}

// detectorConfig is the detector configuration of a watched statistic:
// its [spot] parameters, and the resolution of its values at the period.
func (a *Analyzer) detectorConfig(w *watched) spot.Config {
	c := w.params.Spot()
	c.Resolution = w.stat.Resolution(a.period)
	return c
}

// Stats returns the watched statistics in output order.
func (a *Analyzer) Stats() []stats.Stat {
	out := make([]stats.Stat, len(a.watch))
	for i, w := range a.watch {
		out[i] = w.stat
	}
	return out
}

// Learning says, for every watched statistic in output order, when its
// detector judges and when it has its complete model: what the wiring logs
// at start (the analyzer itself logs each change, see Process).
func (a *Analyzer) Learning() []StatLearning {
	out := make([]StatLearning, len(a.watch))
	for i, w := range a.watch {
		out[i] = StatLearning{Stat: w.stat.Name, Stage: stageOf(w.det)}
		if w.det != nil {
			out[i].Left, out[i].Provisional = w.det.Remaining(), w.det.Provisional()
			out[i].Windows = w.windowsLeft()
		}
	}
	return out
}

// windowsLeft estimates the windows before the detector judges: its
// values left, times the windows a value has taken so far (one, before
// any window).
func (w *watched) windowsLeft() int {
	left := w.det.Remaining()
	if left == 0 || w.values == 0 || w.values == w.windows {
		return left
	}
	return int(math.Ceil(float64(left) * float64(w.windows) / float64(w.values)))
}

// LearningLeft is the number of values the slowest detector still needs
// before it judges: the data records' learning_left. A detector learns
// one value per window in which its statistic is defined, so that this
// counts windows when every statistic is defined in every window; a
// statistic that is undefined in some windows (a ratio to IP packets in a
// window without any) takes more, which Learning estimates per statistic
// (StatLearning.Windows) and the log reports when it happens.
func (a *Analyzer) LearningLeft() int {
	left := 0
	for _, w := range a.watch {
		if w.det != nil {
			left = max(left, w.det.Remaining())
		}
	}
	return left
}

// Process judges one window and returns its Record. Undefined values (NaN),
// the values of a partial window (the cut end of a capture file, whose
// rates would be wrong) and those of a window in which capture failed (an
// interface down: no packets, yet no quiet network either) are reported
// but never judged nor learned.
func (a *Analyzer) Process(s *event.Snapshot) *event.Record {
	rec := &event.Record{
		Start: s.Start, End: s.End, Partial: s.Partial,
		Stats:   make([]event.Stat, len(a.watch)),
		Packets: s.Packets, Dropped: s.Dropped, Malformed: s.Malformed, CaptureErr: s.CaptureErr,
	}
	wasLearning := a.LearningLeft() > 0
	judged := !s.Partial && s.CaptureErr == ""
	for i, w := range a.watch {
		v := w.stat.Compute(s)
		out := &rec.Stats[i]
		out.Name, out.Value = w.stat.Name, v
		out.Up, out.Down = math.NaN(), math.NaN()
		if w.det == nil {
			continue
		}
		if judged {
			var before [2]float64
			before[event.Up], before[event.Down] = w.det.Thresholds()
			var status [2]spot.Status
			defined := !math.IsNaN(v) && !math.IsInf(v, 0)
			if w.det.Remaining() > 0 {
				w.windows++
				if defined {
					w.values++
				}
			}
			if defined {
				res := w.det.Step(v)
				status[event.Up], status[event.Down] = res.Up, res.Down
			}
			// An undefined value is not an excursion: it counts towards
			// clearing an active alarm.
			for _, side := range []event.Side{event.Up, event.Down} {
				a.track(rec, w, side, status[side], v, before[side])
			}
		}
		out.Up, out.Down = w.det.Thresholds()
		out.Learning = w.det.Remaining() > 0
		a.logStage(w, s.End)
		for _, al := range w.alarm {
			if al != nil {
				out.AlarmID = al.id
				break
			}
		}
	}
	rec.LearningLeft = a.LearningLeft()
	if wasLearning && rec.LearningLeft == 0 {
		a.log.Info("every detector judges", "stats", len(a.watch), "at", s.End)
	}
	return rec
}

// logStage logs a statistic's detector starting to judge, and getting its
// complete model.
func (a *Analyzer) logStage(w *watched, at time.Time) {
	st := stageOf(w.det)
	if st == w.stage {
		return
	}
	w.stage = st
	switch st {
	case Provisional:
		a.log.Info("statistic judging, provisional", "stat", w.stat.Name, "provisional_values", w.det.Provisional(), "at", at)
	case Complete:
		a.log.Info("statistic calibrated: complete model", "stat", w.stat.Name, "at", at)
	}
}

// track updates the alarm state of one side of a statistic after a judged
// value, raising a new alarm at the start of an excursion. A value that
// continues the excursion of an earlier alarm (spot.Continued) keeps an
// active alarm active but never raises one: it is below the threshold.
func (a *Analyzer) track(rec *event.Record, w *watched, side event.Side, st spot.Status, v, threshold float64) {
	al := w.alarm[side]
	abnormal := st.Abnormal()
	switch {
	case st == spot.Alarm && w.params.Alert && al == nil:
		a.seq++
		id := a.runID + "-" + strconv.FormatUint(a.seq, 10)
		pUp, pDown := w.det.Probability(v)
		p := pUp
		if side == event.Down {
			p = pDown
		}
		rec.Alarms = append(rec.Alarms, event.Alarm{
			ID: id, Stat: w.stat.Name, Side: side, Value: v, Threshold: threshold,
			Probability: p, Start: rec.Start, End: rec.End,
		})
		w.alarm[side] = &activeAlarm{id: id}
		a.log.Warn("alarm raised", "id", id, "stat", w.stat.Name, "side", side, "value", v, "threshold", threshold)
	case abnormal && al != nil:
		al.normal = 0
	case abnormal:
		// The rest of an excursion whose alarm was already cleared (by
		// undefined values in between): neither a new alarm nor normal.
	case al != nil:
		al.normal++
		if al.normal >= a.clearAfter {
			w.alarm[side] = nil
			a.log.Info("alarm cleared", "id", al.id, "stat", w.stat.Name, "side", side)
		}
	}
}
