//go:build !noplot

package chart

import (
	"bytes"
	"image/png"
	"math"
	"testing"
	"time"

	"netspot/core/eval"
	"netspot/core/event"
)

func records(n int, start time.Time) []*event.Record {
	var out []*event.Record
	for k := 0; k < n; k++ {
		r := &event.Record{Start: start.Add(time.Duration(k) * time.Second), End: start.Add(time.Duration(k+1) * time.Second)}
		v := 10 + math.Sin(float64(k)/50)
		if k == 3000 {
			v = 500 // the attack
		}
		up := math.NaN()
		if k >= 100 {
			up = 20
		}
		r.Stats = []event.Stat{{Name: "TRAFFIC", Value: v, Up: up, Down: math.NaN()}, {Name: "R_SYN", Value: math.NaN(), Up: math.NaN(), Down: math.NaN()}}
		if k == 3000 {
			r.Alarms = []event.Alarm{{Stat: "TRAFFIC", Side: event.Up, Value: v, Threshold: up, Start: r.Start, End: r.End}}
		}
		out = append(out, r)
	}
	return out
}

func TestRecorderDownsamplesAndDraws(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 10000
	rec := mustRecorder(t, n*time.Second, time.Second)
	for _, r := range records(n, start) {
		rec.Add(r)
	}
	s := rec.series["TRAFFIC"]
	if len(s.pts) > Points {
		t.Errorf("%d points kept for %d windows, want at most %d", len(s.pts), n, Points)
	}
	// The spike survives downsampling: it is the highest value of its run.
	peak := 0.0
	for _, p := range s.pts {
		peak = math.Max(peak, p.hi)
	}
	if peak != 500 {
		t.Errorf("highest point %v, want the spike 500", peak)
	}
	if got := rec.Alarmed(); len(got) != 1 || got[0] != "TRAFFIC" {
		t.Errorf("alarmed %v", got)
	}
	rep := &eval.Report{Scenario: "dev/eval/x.toml", Start: start.Format(time.RFC3339Nano), DurationS: n, PeriodS: 1,
		Attacks: []eval.AttackResult{{Label: "flood", Start: start.Add(3000 * time.Second), End: start.Add(3001 * time.Second), StartS: 3000, EndS: 3001}}}
	var b bytes.Buffer
	if err := rec.WritePNG(&b, rep); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	// One panel of 2.3 in at 96 dpi.
	if h := img.Bounds().Dy(); h < 200 || h > 240 {
		t.Errorf("image height %d for one panel", h)
	}
}

func TestWritePNGWithoutAlarms(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := mustRecorder(t, 100*time.Second, time.Second)
	for _, r := range records(100, start) {
		rec.Add(r)
	}
	rep := &eval.Report{Start: start.Format(time.RFC3339Nano), DurationS: 100, PeriodS: 1}
	var b bytes.Buffer
	if err := rec.WritePNG(&b, rep); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatal(err)
	}
	// Both watched statistics are drawn, the undefined one empty.
	if h := img.Bounds().Dy(); h < 400 {
		t.Errorf("image height %d, want two panels", h)
	}
	if err := mustRecorder(t, time.Second, time.Second).WritePNG(&b, rep); err == nil {
		t.Error("drawing nothing recorded: no error")
	}
}

func mustRecorder(t *testing.T, duration, period time.Duration) *Recorder {
	t.Helper()
	r, err := NewRecorder(duration, period)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
