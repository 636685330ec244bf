package eval

import (
	"math"
	"slices"
	"sort"
	"time"

	"netspot/core/event"
	"netspot/core/stats"
)

// Scorer compares alarms with the attack windows of a timeline, streaming:
// it keeps per-attack results and the false alarms, never the windows.
//
// An alarm is an alarm event, raised when a statistic starts an excursion
// (netspot's analyzer emits one per excursion, however long). It detects an
// attack when the window in which it was raised overlaps the attack's
// window extended by the grace; an alarm that overlaps no such window is a
// false alarm. Benign time is the time during which at least one detector
// watched (calibration done) outside every extended attack window.
type Scorer struct {
	attacks []attackScore
	grace   time.Duration
	period  time.Duration

	windows      int
	watchingFrom time.Time // first window in which a detector watched
	allWatchFrom time.Time // first window in which every detector watched
	benign       time.Duration
	alarms       int
	falseAlarms  []AlarmInfo
	perStatFalse map[string]int
	judged       map[string]bool // statistics judged by a detector
	first, last  time.Time
}

type attackScore struct {
	w      Window
	first  *AlarmInfo
	stats  []string
	alarms int
}

// AlarmInfo is one alarm as the report lists it.
type AlarmInfo struct {
	Stat      string    `json:"stat"`
	Side      string    `json:"side"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Value     *float64  `json:"value,omitempty"`
	Threshold *float64  `json:"threshold,omitempty"`
}

// NewScorer scores alarms against attacks, with grace after each window,
// for windows of the given period.
func NewScorer(attacks []Window, period, grace time.Duration) *Scorer {
	s := &Scorer{grace: grace, period: period, perStatFalse: make(map[string]int), judged: make(map[string]bool)}
	for _, w := range attacks {
		s.attacks = append(s.attacks, attackScore{w: w})
	}
	return s
}

// Add scores one Record of netspot's analyzer: its window, and its alarms.
func (s *Scorer) Add(rec *event.Record) {
	watching, all := false, true
	for i := range rec.Stats {
		st := &rec.Stats[i]
		if info, ok := stats.Lookup(st.Name); ok && info.Informational {
			continue
		}
		s.judged[st.Name] = true
		if st.Learning {
			all = false
		} else {
			watching = true
		}
	}
	if watching && all && s.allWatchFrom.IsZero() {
		s.allWatchFrom = rec.Start
	}
	s.Window(rec.Start, rec.End, watching)
	for i := range rec.Alarms {
		a := &rec.Alarms[i]
		v, th := a.Value, a.Threshold
		info := AlarmInfo{Stat: a.Stat, Side: a.Side.String(), Start: a.Start, End: a.End}
		if finite(v) {
			info.Value = &v
		}
		if finite(th) {
			info.Threshold = &th
		}
		s.Alarm(info)
	}
}

// Window accounts for one window of the timeline; watching says whether a
// detector judged it (calibration over).
func (s *Scorer) Window(start, end time.Time, watching bool) {
	s.windows++
	if s.first.IsZero() || start.Before(s.first) {
		s.first = start
	}
	if end.After(s.last) {
		s.last = end
	}
	if !watching {
		return
	}
	if s.watchingFrom.IsZero() {
		s.watchingFrom = start
	}
	if !s.overlapsAttack(start, end) {
		s.benign += end.Sub(start)
	}
}

// Alarm scores one alarm event raised in the window [a.Start, a.End).
func (s *Scorer) Alarm(a AlarmInfo) {
	s.alarms++
	hit := false
	for i := range s.attacks {
		as := &s.attacks[i]
		if !overlaps(a.Start, a.End, as.w.Start, as.w.End.Add(s.grace)) {
			continue
		}
		hit = true
		as.alarms++
		if as.first == nil {
			c := a
			as.first = &c
		}
		name := a.Stat
		if a.Side == event.Down.String() {
			name += " (down)"
		}
		if !slices.Contains(as.stats, name) {
			as.stats = append(as.stats, name)
		}
	}
	if !hit {
		s.falseAlarms = append(s.falseAlarms, a)
		s.perStatFalse[a.Stat]++
	}
}

// overlapsAttack reports whether [start, end) overlaps an attack window
// extended by the grace.
func (s *Scorer) overlapsAttack(start, end time.Time) bool {
	for i := range s.attacks {
		if overlaps(start, end, s.attacks[i].w.Start, s.attacks[i].w.End.Add(s.grace)) {
			return true
		}
	}
	return false
}

// overlaps reports whether the window [start, end) meets the closed
// interval [from, to].
func overlaps(start, end, from, to time.Time) bool {
	return end.After(from) && !start.After(to)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Report is the outcome of an evaluation. Its JSON form is what `netspot
// eval --json` prints; times are RFC 3339, durations in seconds, and a
// figure that cannot be computed (a recall without attacks) is null.
type Report struct {
	Scenario    string  `json:"scenario"`
	Description string  `json:"description,omitempty"`
	Start       string  `json:"start"`
	DurationS   float64 `json:"duration_s"`
	PeriodS     float64 `json:"period_s"`
	GraceS      float64 `json:"grace_s"`
	Windows     int     `json:"windows"`
	// WatchingAfterS is when the first detector started to judge, and
	// AllWatchingAfterS when the last did, from the start (null: never).
	WatchingAfterS    *float64 `json:"watching_after_s"`
	AllWatchingAfterS *float64 `json:"all_watching_after_s"`
	Stats             []string `json:"watched_stats"`

	Recall             *float64       `json:"recall"`
	Detected           int            `json:"detected"`
	AttackCount        int            `json:"attack_count"`
	MedianDelayS       *float64       `json:"median_delay_s"`
	Volumetric         int            `json:"volumetric"`
	VolumetricOnTime   int            `json:"volumetric_on_time"` // detected within two periods of their start
	Alarms             int            `json:"alarms"`
	FalseAlarms        int            `json:"false_alarms"`
	FalseAlarmsPerHour *float64       `json:"false_alarms_per_hour"`
	BenignHours        float64        `json:"benign_hours"`
	FalseByStat        map[string]int `json:"false_alarms_by_stat"`

	Attacks        []AttackResult `json:"attacks"`
	FalseAlarmList []AlarmInfo    `json:"false_alarm_list"`
}

// AttackResult is the verdict on one attack.
type AttackResult struct {
	Label      string    `json:"label"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	StartS     float64   `json:"start_s"` // from the timeline's start
	EndS       float64   `json:"end_s"`
	Volumetric bool      `json:"volumetric"`
	Packets    uint64    `json:"packets"`
	Detected   bool      `json:"detected"`
	// DelayS runs from the attack's first packet to the end of the window
	// whose alarm detected it: when the alarm was raised.
	DelayS *float64 `json:"delay_s"`
	// Stats are the statistics that alarmed, in order of their first
	// alarm; "(down)" marks an alarm on unusually low values.
	Stats  []string `json:"stats"`
	Alarms int      `json:"alarms"`
	// DuringLearning is set when the attack started before any detector
	// watched: nothing could flag it.
	DuringLearning bool `json:"during_learning,omitempty"`
}

// Report summarizes what was scored. start is the timeline's start, the
// origin of the offsets.
func (s *Scorer) Report(start time.Time) *Report {
	r := &Report{
		Start:       start.UTC().Format(time.RFC3339Nano),
		DurationS:   s.last.Sub(start).Seconds(),
		PeriodS:     s.period.Seconds(),
		GraceS:      s.grace.Seconds(),
		Windows:     s.windows,
		AttackCount: len(s.attacks),
		Alarms:      s.alarms,
		FalseAlarms: len(s.falseAlarms),
		BenignHours: s.benign.Hours(),
		FalseByStat: s.perStatFalse,
		Attacks:     []AttackResult{},
		FalseAlarmList: func() []AlarmInfo {
			if s.falseAlarms == nil {
				return []AlarmInfo{}
			}
			return s.falseAlarms
		}(),
	}
	for name := range s.judged {
		r.Stats = append(r.Stats, name)
	}
	sort.Strings(r.Stats)
	if !s.watchingFrom.IsZero() {
		r.WatchingAfterS = ptr(s.watchingFrom.Sub(start).Seconds())
	}
	if !s.allWatchFrom.IsZero() {
		r.AllWatchingAfterS = ptr(s.allWatchFrom.Sub(start).Seconds())
	}
	var delays []float64
	for i := range s.attacks {
		as := &s.attacks[i]
		ar := AttackResult{
			Label: as.w.Label, Start: as.w.Start, End: as.w.End,
			StartS: as.w.Start.Sub(start).Seconds(), EndS: as.w.End.Sub(start).Seconds(),
			Volumetric: as.w.Volumetric, Packets: as.w.Packets,
			Detected: as.first != nil, Stats: as.stats, Alarms: as.alarms,
			DuringLearning: s.watchingFrom.IsZero() || as.w.Start.Before(s.watchingFrom),
		}
		if ar.Stats == nil {
			ar.Stats = []string{}
		}
		if as.first != nil {
			d := as.first.End.Sub(as.w.Start).Seconds()
			ar.DelayS = &d
			delays = append(delays, d)
			r.Detected++
		}
		if ar.Volumetric {
			r.Volumetric++
			if ar.DelayS != nil && *ar.DelayS <= 2*s.period.Seconds()+1e-9 {
				r.VolumetricOnTime++
			}
		}
		r.Attacks = append(r.Attacks, ar)
	}
	if len(s.attacks) > 0 {
		r.Recall = ptr(float64(r.Detected) / float64(len(s.attacks)))
	}
	if len(delays) > 0 {
		r.MedianDelayS = ptr(median(delays))
	}
	if s.benign > 0 {
		r.FalseAlarmsPerHour = ptr(float64(len(s.falseAlarms)) / s.benign.Hours())
	}
	return r
}

func ptr(v float64) *float64 { return &v }

// median of a non-empty slice (sorted in place).
func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
