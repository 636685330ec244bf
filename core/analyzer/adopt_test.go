package analyzer

import (
	"slices"
	"testing"
	"time"

	"netspot/core/event"
)

func TestAdoptKeepsUnchangedDetectorsAndAlarmIDs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Stats = []string{"TRAFFIC", "SYN_RATE"}
	sp := DefaultSpotConfig()
	sp.NInit, sp.Depth, sp.Level = 200, 0, 0.9
	prev, err := New(cfg, sp, Options{RunID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	snap := func(i int, packets, syn uint64) *event.Snapshot {
		s := &event.Snapshot{Start: t0.Add(time.Duration(i) * time.Second), End: t0.Add(time.Duration(i+1) * time.Second)}
		s.Packets, s.TCP, s.SYN = packets, packets, syn
		return s
	}
	for i := range 300 {
		prev.Process(snap(i, 100+uint64(i%7), uint64(i%3)))
	}
	raised := prev.Process(snap(300, 100, 90)) // a SYN burst
	if len(raised.Alarms) != 1 {
		t.Fatalf("alarms %+v", raised.Alarms)
	}

	// The new configuration watches one more statistic and changes
	// TRAFFIC's parameters: SYN_RATE goes on, the others learn.
	cfg.Stats = []string{"TRAFFIC", "SYN_RATE", "RST_RATE"}
	q := 1e-3
	sp.PerStat = map[string]SpotOverride{"TRAFFIC": {Q: &q}}
	next, err := New(cfg, sp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	relearning := next.Adopt(prev)
	slices.Sort(relearning)
	if !slices.Equal(relearning, []string{"RST_RATE", "TRAFFIC"}) {
		t.Errorf("relearning %v", relearning)
	}
	rec := next.Process(snap(301, 100, 95))
	for _, s := range rec.Stats {
		switch s.Name {
		case "SYN_RATE":
			if s.Learning || s.AlarmID != raised.Alarms[0].ID {
				t.Errorf("SYN_RATE after reload: %+v", s)
			}
		case "TRAFFIC", "RST_RATE":
			if !s.Learning {
				t.Errorf("%s does not learn again", s.Name)
			}
		}
	}
	for i := 302; i < 310; i++ {
		next.Process(snap(i, 100, 0))
	}
	again := next.Process(snap(310, 100, 90))
	if len(again.Alarms) != 1 || again.Alarms[0].ID != "r-2" {
		t.Errorf("next alarm %+v, want id r-2", again.Alarms)
	}
}
