package eval

import (
	"math"
	"testing"
	"time"

	"netspot/core/event"
)

func TestScorer(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return start.Add(time.Duration(s * float64(time.Second))) }
	attacks := []Window{
		{Label: "scan", Start: at(100.5), End: at(110.2), Volumetric: true},
		{Label: "tunnel", Start: at(200), End: at(260)},
		{Label: "missed", Start: at(300), End: at(301), Volumetric: true},
		{Label: "late", Start: at(400.2), End: at(400.4), Volumetric: true},
	}
	sc := NewScorer(attacks, time.Second, 3*time.Second)
	// 50 windows of learning, then 450 watched windows of 1 s.
	for k := 0; k < 500; k++ {
		sc.Window(at(float64(k)), at(float64(k+1)), k >= 50)
	}
	alarm := func(stat, side string, k float64) {
		sc.Alarm(AlarmInfo{Stat: stat, Side: side, Start: at(k), End: at(k + 1)})
	}
	alarm("R_SYN", "up", 100)          // window [100,101) meets the scan: delay 0.5 s
	alarm("NB_DST_PORT", "up", 101)    // same attack, second statistic
	alarm("TRAFFIC", "down", 112)      // within the 3 s grace after the scan (ends 110.2)
	alarm("R_SYN", "up", 114)          // after the grace: false
	alarm("R_DNS", "up", 230)          // the tunnel, 31 s late
	alarm("TRAFFIC", "up", 402)        // the late one: 2.8 s after its start, beyond 2 periods
	alarm("AVG_PKT_SIZE", "up", 450.0) // false
	r := sc.Report(start)

	if r.Alarms != 7 || r.FalseAlarms != 2 || r.FalseByStat["R_SYN"] != 1 || r.FalseByStat["AVG_PKT_SIZE"] != 1 {
		t.Errorf("alarms %d, false %d %v", r.Alarms, r.FalseAlarms, r.FalseByStat)
	}
	if r.Detected != 3 || *r.Recall != 0.75 || r.Volumetric != 3 || r.VolumetricOnTime != 1 {
		t.Errorf("detected %d, recall %v, volumetric %d on time %d", r.Detected, *r.Recall, r.Volumetric, r.VolumetricOnTime)
	}
	scan := r.Attacks[0]
	if !scan.Detected || math.Abs(*scan.DelayS-0.5) > 1e-9 || scan.Alarms != 3 ||
		len(scan.Stats) != 3 || scan.Stats[0] != "R_SYN" || scan.Stats[1] != "NB_DST_PORT" || scan.Stats[2] != "TRAFFIC (down)" {
		t.Errorf("scan: %+v (delay %v)", scan, *scan.DelayS)
	}
	if r.Attacks[2].Detected || r.Attacks[2].DelayS != nil || len(r.Attacks[2].Stats) != 0 {
		t.Errorf("missed attack reported as %+v", r.Attacks[2])
	}
	if d := *r.Attacks[1].DelayS; d != 31 {
		t.Errorf("tunnel delay %v, want 31", d)
	}
	// Delays 0.5, 31, 2.8: median 2.8.
	if math.Abs(*r.MedianDelayS-2.8) > 1e-9 {
		t.Errorf("median delay %v, want 2.8", *r.MedianDelayS)
	}
	// Watched: windows 50..499 (450 s). Not benign: the windows meeting an
	// attack window extended by the grace, [100.5, 113.2] (windows 100 to
	// 113: 14), [200, 263] (200 to 263: 64; [199, 200) stops short of 200),
	// [300, 304] (5) and [400.2, 403.4] (4).
	if want := float64(450-14-64-5-4) / 3600; math.Abs(r.BenignHours-want) > 1e-9 {
		t.Errorf("benign hours %v, want %v", r.BenignHours, want)
	}
	if want := 2 / r.BenignHours; math.Abs(*r.FalseAlarmsPerHour-want) > 1e-9 {
		t.Errorf("false alarms per hour %v, want %v", *r.FalseAlarmsPerHour, want)
	}
	if *r.WatchingAfterS != 50 {
		t.Errorf("watching after %v s, want 50", *r.WatchingAfterS)
	}
}

func TestScorerEmpty(t *testing.T) {
	r := NewScorer(nil, time.Second, 0).Report(time.Unix(0, 0))
	if r.Recall != nil || r.MedianDelayS != nil || r.FalseAlarmsPerHour != nil || r.WatchingAfterS != nil || r.Attacks == nil || r.FalseAlarmList == nil {
		t.Errorf("report of nothing: %+v", r)
	}
}

func TestScorerRecords(t *testing.T) {
	start := time.Unix(1000, 0).UTC()
	sc := NewScorer([]Window{{Label: "a", Start: start.Add(5 * time.Second), End: start.Add(6 * time.Second)}}, time.Second, 0)
	for k := 0; k < 10; k++ {
		rec := &event.Record{Start: start.Add(time.Duration(k) * time.Second), End: start.Add(time.Duration(k+1) * time.Second),
			Stats: []event.Stat{{Name: "PERF"}, {Name: "R_SYN", Learning: k < 2}, {Name: "TRAFFIC", Learning: k < 4}}}
		if k == 5 {
			rec.Alarms = []event.Alarm{{Stat: "R_SYN", Side: event.Up, Value: 0.9, Threshold: math.NaN(), Start: rec.Start, End: rec.End}}
		}
		sc.Add(rec)
	}
	r := sc.Report(start)
	if *r.WatchingAfterS != 2 || *r.AllWatchingAfterS != 4 {
		t.Errorf("watching after %v, all after %v; want 2 and 4 (PERF is never judged)", *r.WatchingAfterS, *r.AllWatchingAfterS)
	}
	if len(r.Stats) != 2 || r.Stats[0] != "R_SYN" || r.Stats[1] != "TRAFFIC" {
		t.Errorf("watched stats %v", r.Stats)
	}
	if !r.Attacks[0].Detected || *r.Attacks[0].DelayS != 1 {
		t.Errorf("attack %+v", r.Attacks[0])
	}
	// Windows 2..9 watched, 4 and 5 meet the attack [5, 6] with no grace:
	// the window [4,5) only touches its start and is benign.
	if r.BenignHours*3600 != 6 {
		t.Errorf("benign %v s, want 6", r.BenignHours*3600)
	}
}
