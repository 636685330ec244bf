package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"netspot/core/capture"
	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/pipeline"
	"netspot/dev/trafficgen"
)

// generate writes the capture of cfg to path; with attacksOnly, only the
// attacks' packets (as an attack capture holds them). It returns the times
// of the first and last packets written.
func generate(t testing.TB, path string, cfg trafficgen.Config, attacksOnly bool) (first, last time.Time) {
	t.Helper()
	g, err := trafficgen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := trafficgen.NewWriter(&buf, cfg.Output, cfg.Start, cfg.Comment())
	if err != nil {
		t.Fatal(err)
	}
	var p trafficgen.Packet
	for g.Next(&p) {
		if attacksOnly && p.Attack < 0 {
			continue
		}
		if first.IsZero() {
			first = cfg.Start.Add(p.Offset)
		}
		last = cfg.Start.Add(p.Offset)
		if err := w.Write(&p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return first, last
}

func office(minutes int, attacks ...string) trafficgen.Config {
	c := trafficgen.DefaultConfig()
	c.Seed = 11
	c.Duration = config.Duration(time.Duration(minutes) * time.Minute)
	c.Rate = 30
	c.Output.Snaplen = 96
	for _, a := range attacks {
		at, err := trafficgen.ParseAttack(a)
		if err != nil {
			panic(err)
		}
		c.Attacks = append(c.Attacks, at)
	}
	return c
}

// TestTimelineMatchesGeneratorMerge checks the merge against an
// independent one: a background and an attack capture generated apart from
// the same network, injected at the attack's own offset, give back the
// generator's capture with the attack, packet for packet.
func TestTimelineMatchesGeneratorMerge(t *testing.T) {
	dir := t.TempDir()
	const spec = "syn-scan@6m+20s"
	bgFirst, bgLast := generate(t, filepath.Join(dir, "bg.pcapng"), office(10), false)
	first, _ := generate(t, filepath.Join(dir, "scan.pcapng"), office(10, spec), true)
	whole := filepath.Join(dir, "whole.pcapng")
	generate(t, whole, office(10, spec), false)

	// The timeline starts at the whole second of the background's first
	// packet, and ends after its last one, before it loops.
	start := bgFirst.Truncate(time.Second)
	at := first.Sub(start)
	dur := bgLast.Sub(start) + 1
	s := parse(t, dir, fmt.Sprintf("duration = \"%dns\"\n[[background]]\nfile = \"bg.pcapng\"\n[[attack]]\nfile = \"scan.pcapng\"\nat = \"%dns\"\n", dur.Nanoseconds(), at.Nanoseconds()))
	tl, err := Build(s, "")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	ref, err := capture.OpenFile(whole, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	var p, q capture.Packet
	n := 0
	for {
		err1 := tl.Next(&p)
		err2 := ref.Next(&q)
		if err1 == io.EOF && err2 == io.EOF {
			break
		}
		if err1 != nil || err2 != nil {
			t.Fatalf("packet %d: timeline %v (%s), generator %v", n, err1, time.Unix(0, p.Time).UTC(), err2)
		}
		if p.Time != q.Time || !bytes.Equal(p.Data, q.Data) || p.Length != q.Length || p.Link != q.Link {
			t.Fatalf("packet %d differs: timeline at %s (%d bytes), generator at %s (%d bytes)", n,
				time.Unix(0, p.Time).UTC(), len(p.Data), time.Unix(0, q.Time).UTC(), len(q.Data))
		}
		n++
	}
	if n < 10000 {
		t.Errorf("only %d packets compared", n)
	}
}

// quick is an analyzer setup that learns within minutes.
func quick() Options {
	cfg := pipeline.New()
	cfg.Analyzer.Stats = []string{"TRAFFIC", "R_SYN", "NB_DST_PORT", "R_ICMP", "NB_DST_ADDR"}
	cfg.Spot.NInit, cfg.Spot.Depth, cfg.Spot.Level = 300, 30, 0.95
	return Options{Config: cfg}
}

func TestRunDetectsAndReports(t *testing.T) {
	dir := t.TempDir()
	generate(t, filepath.Join(dir, "bg.pcapng"), office(12), false)
	generate(t, filepath.Join(dir, "scan.pcapng"), office(3, "syn-scan@1m+20s"), true)
	generate(t, filepath.Join(dir, "sweep.pcapng"), office(3, "ping-sweep@1m+15s"), true)
	path := filepath.Join(dir, "office.toml")
	doc := `description = "a scan and a sweep in 20 minutes of office traffic"
duration = "20m"
[[background]]
file = "bg.pcapng"
[[attack]]
file = "scan.pcapng"
at = "12m"
label = "syn-scan"
volumetric = true
[[attack]]
file = "sweep.pcapng"
at = "16m30s"
label = "ping-sweep"
volumetric = true
`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var records, alarms int
	opt := quick()
	opt.Observe = func(r *event.Record) { records++; alarms += len(r.Alarms) }
	r, err := Run(context.Background(), s, opt)
	if err != nil {
		t.Fatal(err)
	}
	if r.Windows != records || r.Windows < 1199 || r.Windows > 1201 {
		t.Errorf("%d windows scored, %d observed; want 1200 for 20 minutes at 1s", r.Windows, records)
	}
	if r.Alarms != alarms {
		t.Errorf("report counts %d alarms, the records hold %d", r.Alarms, alarms)
	}
	if r.Recall == nil || *r.Recall != 1 || r.VolumetricOnTime != 2 {
		var b strings.Builder
		r.WriteText(&b)
		t.Fatalf("scan and sweep not both flagged on time:\n%s", b.String())
	}
	for _, a := range r.Attacks {
		if *a.DelayS <= 0 || *a.DelayS > 2 || len(a.Stats) == 0 || a.DuringLearning {
			t.Errorf("%s: delay %v, stats %v, during learning %v", a.Label, *a.DelayS, a.Stats, a.DuringLearning)
		}
	}
	if r.Attacks[0].StartS != 720 || r.Attacks[1].StartS != 990 {
		t.Errorf("attacks start at %v and %v s, want 720 and 990", r.Attacks[0].StartS, r.Attacks[1].StartS)
	}
	// Benign time: from the first judged window to the end, less each
	// attack window and its grace of 3 s.
	watch := *r.WatchingAfterS
	benign := 1200 - watch
	for _, a := range r.Attacks {
		benign -= math.Ceil(a.EndS+3) - math.Floor(a.StartS)
	}
	if math.Abs(r.BenignHours*3600-benign) > 2 {
		t.Errorf("benign time %.0f s, want about %.0f s", r.BenignHours*3600, benign)
	}

	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, js.String())
	}
	for _, k := range []string{"recall", "false_alarms", "false_alarms_per_hour", "benign_hours", "attacks"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON report lacks %q", k)
		}
	}
	atk := m["attacks"].([]any)[0].(map[string]any)
	for _, k := range []string{"label", "start", "end", "detected", "delay_s", "stats"} {
		if _, ok := atk[k]; !ok {
			t.Errorf("JSON attack lacks %q", k)
		}
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"syn-scan *", "ping-sweep *", "12m0s", "recall             2 of 2 (100%); volumetric on time 2 of 2", "a scan and a sweep"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

func TestRunRefusesAttacksDuringCalibration(t *testing.T) {
	dir := t.TempDir()
	generate(t, filepath.Join(dir, "bg.pcapng"), office(12), false)
	generate(t, filepath.Join(dir, "scan.pcapng"), office(3, "syn-scan@1m+20s"), true)
	s := parse(t, dir, "duration = \"20m\"\n[[background]]\nfile = \"bg.pcapng\"\n[[attack]]\nfile = \"scan.pcapng\"\nat = \"4m\"\n")
	_, err := Run(context.Background(), s, quick())
	if !errors.Is(err, ErrLearning) || !strings.Contains(err.Error(), "they learn for 300 periods of 1s = 5m0s") {
		t.Errorf("attack at 4m, judged after 300 s: %v", err)
	}
	// Judging from watch_after, not from the complete model: an attack
	// at 4m is refused with watch_after 300, accepted with 200.
	opt := quick()
	opt.Config.Spot.WatchAfter = 200
	if _, err := Run(context.Background(), s, opt); err != nil {
		t.Errorf("attack at 4m, judged after 200 s: %v", err)
	}
}

// TestRunNamesBadSettings: an n_init out of range is reported as such,
// not as an attack placed during a calibration it would make endless.
func TestRunNamesBadSettings(t *testing.T) {
	dir := t.TempDir()
	generate(t, filepath.Join(dir, "bg.pcapng"), office(12), false)
	generate(t, filepath.Join(dir, "scan.pcapng"), office(3, "syn-scan@1m+20s"), true)
	s := parse(t, dir, "duration = \"20m\"\n[[background]]\nfile = \"bg.pcapng\"\n[[attack]]\nfile = \"scan.pcapng\"\nat = \"15m\"\n")
	opt := quick()
	opt.Config.Spot.NInit = 1 << 30
	_, err := Run(context.Background(), s, opt)
	if err == nil || errors.Is(err, ErrLearning) || !strings.Contains(err.Error(), "n_init: must be between") {
		t.Errorf("n_init 2^30: %v", err)
	}
}

func TestRunCancelled(t *testing.T) {
	dir := t.TempDir()
	generate(t, filepath.Join(dir, "bg.pcapng"), office(12), false)
	s := parse(t, dir, "duration = \"20m\"\n[[background]]\nfile = \"bg.pcapng\"\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, s, quick()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: %v", err)
	}
}

func TestWriteTimeline(t *testing.T) {
	dir := t.TempDir()
	generate(t, filepath.Join(dir, "bg.pcapng"), office(3), false)
	raw := office(3, "udp-flood@1m+2s:rate=500")
	raw.Output.LinkType = "raw"
	generate(t, filepath.Join(dir, "flood.pcap"), raw, true)
	for _, c := range []struct {
		doc, format string
	}{
		{"duration = \"5m\"\n[[background]]\nfile = \"bg.pcapng\"\n", "pcap"},
		{"duration = \"5m\"\n[[background]]\nfile = \"bg.pcapng\"\n[[attack]]\nfile = \"flood.pcap\"\nat = \"4m\"\n", "pcapng"},
	} {
		s := parse(t, dir, c.doc)
		tl, err := Build(s, "")
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "timeline."+c.format)
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := WriteTimeline(f, tl)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if sum.Format != c.format || sum.Skipped != 0 {
			t.Errorf("wrote %+v, want a %s with nothing skipped", sum, c.format)
		}
		// Reading it back gives the timeline again, packet for packet.
		tl, _ = Build(s, "")
		back, err := capture.OpenFile(out, "")
		if err != nil {
			t.Fatal(err)
		}
		var p, q capture.Packet
		var n uint64
		for {
			err1, err2 := tl.Next(&p), back.Next(&q)
			if err1 == io.EOF && err2 == io.EOF {
				break
			}
			if err1 != nil || err2 != nil || p.Time != q.Time || p.Link != q.Link || !bytes.Equal(p.Data, q.Data) || p.Length != q.Length {
				t.Fatalf("%s packet %d: timeline %v %d %s, file %v %d %s", c.format, n, err1, p.Time, p.Link, err2, q.Time, q.Link)
			}
			n++
		}
		back.Close()
		tl.Close()
		if n != sum.Packets {
			t.Errorf("read back %d packets, wrote %d", n, sum.Packets)
		}
	}
}
