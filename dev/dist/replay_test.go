package dist

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"netspot/dev/trafficgen"
)

// replayScenario is sixteen minutes of a 30-host office LAN with eight
// attacks after the learning phase. The SYN flood's spoofed sources go
// past the 8192 distinct addresses that are counted exactly, so that the
// estimated counts are compared too.
const replayScenario = `
seed = 6
start = 2025-05-06T10:00:00Z
duration = "16m"
rate = 60
hosts = 30
wander = 0.3

[output]
format = "pcap"
linktype = "ether"
snaplen = 128

[[attack]]
kind = "syn-scan"
at = "8m"
duration = "20s"

[[attack]]
kind = "syn-flood"
at = "9m"
duration = "5s"
rate = 15000

[[attack]]
kind = "udp-flood"
at = "10m"
duration = "15s"
rate = 2000

[[attack]]
kind = "ping-sweep"
at = "11m"
duration = "15s"

[[attack]]
kind = "dns-tunnel"
at = "12m"
duration = "30s"

[[attack]]
kind = "arp-scan"
at = "13m"
duration = "10s"

[[attack]]
kind = "xmas-scan"
at = "14m"
duration = "15s"

[[attack]]
kind = "ssh-brute"
at = "15m"
duration = "40s"
rate = 10
`

// replayConfig watches every statistic but PERF (the speed of the machine)
// on both sides, with a short calibration so that most of the capture is
// judged.
const replayConfig = `
[miner]
device = %q

[analyzer]
period = "1s"
stats = [%s]

[spot]
n_init = 300
depth = 30
level = 0.95
up = true
down = true

[exporter.console]
data = true
alarm = true
`

// relTolerance is how far two processors' values may be apart, relative:
// the detector's own arithmetic is the same everywhere, but the standard
// library's log and exp may differ in their last bits.
const relTolerance = 1e-9

// replayLine is one line of netspot run -v: a data record or an alarm.
type replayLine struct {
	Type string `json:"type"`
	// data record
	Start        string                `json:"start"`
	End          string                `json:"end"`
	Partial      bool                  `json:"partial"`
	LearningLeft int                   `json:"learning_left"`
	Packets      uint64                `json:"packets"`
	Dropped      uint64                `json:"dropped"`
	Malformed    uint64                `json:"malformed"`
	CaptureError string                `json:"capture_error"`
	Stats        map[string]replayStat `json:"stats"`
	// alarm
	ID          string   `json:"id"` // random per run: not compared
	Stat        string   `json:"stat"`
	Side        string   `json:"side"`
	Value       *float64 `json:"value"`
	Threshold   *float64 `json:"threshold"`
	Probability *float64 `json:"probability"`
}

type replayStat struct {
	Value    *float64 `json:"value"`
	Up       *float64 `json:"up"`
	Down     *float64 `json:"down"`
	Alarm    bool     `json:"alarm"`
	AlarmID  string   `json:"alarm_id"` // random per run: not compared
	Learning bool     `json:"learning"`
}

// TestReplayAcrossProcessors replays one generated capture with the binary
// of every processor (ARM ones under qemu-user) and checks that they report
// the same windows, the same alarms at the same windows, and the same
// values, thresholds and probabilities within 1e-9 relative. Alarm ids are
// random per run and not compared.
func TestReplayAcrossProcessors(t *testing.T) {
	dir := distDir(t)
	tmp := t.TempDir()

	scenario, err := trafficgen.ParseScenario([]byte(replayScenario))
	if err != nil {
		t.Fatal(err)
	}
	capture := filepath.Join(tmp, "replay.pcap")
	f, err := os.Create(capture)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trafficgen.Generate(f, scenario); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	ref := targetNamed(t, "amd64")
	refBin := filepath.Join(dir, "netspot-linux-"+ref.name)
	var stats []string
	for _, line := range strings.Split(run(t, ref.command(t, refBin, "ls")), "\n")[1:] {
		if fs := strings.Fields(strings.TrimPrefix(line, "*")); len(fs) > 0 && fs[0] != "PERF" {
			stats = append(stats, fmt.Sprintf("%q", fs[0]))
		}
	}
	if len(stats) < 10 {
		t.Fatalf("netspot ls lists %d statistics: %v", len(stats), stats)
	}
	config := filepath.Join(tmp, "netspot.toml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(replayConfig, capture, strings.Join(stats, ", "))), 0o644); err != nil {
		t.Fatal(err)
	}

	runs := make(map[string][]replayLine)
	for _, tg := range targets {
		start := time.Now()
		out := run(t, tg.command(t, filepath.Join(dir, "netspot-linux-"+tg.name), "run", "-c", config))
		lines, err := parseReplay(out)
		if err != nil {
			t.Fatalf("%s: %v", tg.name, err)
		}
		t.Logf("%s: %d lines in %v", tg.name, len(lines), time.Since(start).Round(time.Millisecond))
		runs[tg.name] = lines
	}

	checkReplayMeaningful(t, runs[ref.name])
	for _, tg := range targets {
		if tg.name != ref.name {
			compareReplays(t, tg.name, runs[ref.name], runs[tg.name])
		}
	}
}

func parseReplay(out string) ([]replayLine, error) {
	var lines []replayLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var l replayLine
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("line %d: %v: %s", n, err, sc.Text())
		}
		if l.Type != "data" && l.Type != "alarm" {
			return nil, fmt.Errorf("line %d: type %q", n, l.Type)
		}
		lines = append(lines, l)
	}
	return lines, sc.Err()
}

// checkReplayMeaningful makes sure that the comparison covers what it is
// meant to: learning then watching, many alarms on several statistics and
// both sides, and distinct counts beyond the exact range.
func checkReplayMeaningful(t *testing.T, ref []replayLine) {
	t.Helper()
	alarmStats := make(map[string]bool)
	sides := make(map[string]bool)
	var alarms, learning, watching int
	maxSources := 0.0
	for _, l := range ref {
		if l.Type == "alarm" {
			alarms++
			alarmStats[l.Stat] = true
			sides[l.Side] = true
			continue
		}
		if l.LearningLeft > 0 {
			learning++
		} else {
			watching++
		}
		if v := l.Stats["NB_SRC_ADDR"].Value; v != nil {
			maxSources = math.Max(maxSources, *v)
		}
	}
	t.Logf("reference: %d windows learning, %d watching, %d alarms on %d statistics, at most %.0f distinct sources",
		learning, watching, alarms, len(alarmStats), maxSources)
	// n_init = 300: the 300th window is already judged, by the tail fitted
	// on the 300 values, so 299 windows learn.
	if learning < 299 || watching < 300 {
		t.Errorf("%d windows learning, %d watching: want both phases", learning, watching)
	}
	if alarms < 20 || len(alarmStats) < 5 || !sides["up"] || !sides["down"] {
		t.Errorf("%d alarms on %d statistics, sides %v: too few to compare", alarms, len(alarmStats), sides)
	}
	if maxSources <= 8192 {
		t.Errorf("at most %.0f distinct sources: the estimated counts (beyond 8192) are not exercised", maxSources)
	}
}

// compareReplays compares a run with the reference line by line.
func compareReplays(t *testing.T, name string, ref, got []replayLine) {
	t.Helper()
	if len(got) != len(ref) {
		t.Errorf("%s: %d lines, reference %d", name, len(got), len(ref))
	}
	var values, inexact, mismatches int
	var worst float64
	fail := func(i int, format string, args ...any) {
		mismatches++
		if mismatches <= 20 {
			t.Errorf("%s line %d: %s", name, i+1, fmt.Sprintf(format, args...))
		}
	}
	near := func(i int, what string, a, b *float64) {
		values++
		switch {
		case a == nil || b == nil:
			if a != b {
				fail(i, "%s: %v, reference %v", what, deref(b), deref(a))
			}
			return
		case *a == *b:
			return
		}
		inexact++
		rel := math.Abs(*a-*b) / math.Max(math.Abs(*a), math.Abs(*b))
		worst = math.Max(worst, rel)
		if rel > relTolerance {
			fail(i, "%s: %v, reference %v (relative difference %.2g)", what, *b, *a, rel)
		}
	}
	for i := range min(len(ref), len(got)) {
		r, g := ref[i], got[i]
		if r.Type != g.Type {
			fail(i, "%s, reference %s", g.Type, r.Type)
			continue
		}
		if r.Type == "alarm" {
			if r.Stat != g.Stat || r.Side != g.Side || r.Start != g.Start || r.End != g.End {
				fail(i, "alarm %s %s [%s, %s), reference %s %s [%s, %s)", g.Stat, g.Side, g.Start, g.End, r.Stat, r.Side, r.Start, r.End)
			}
			near(i, "alarm value", r.Value, g.Value)
			near(i, "alarm threshold", r.Threshold, g.Threshold)
			near(i, "alarm probability", r.Probability, g.Probability)
			continue
		}
		if r.Start != g.Start || r.End != g.End || r.Partial != g.Partial || r.LearningLeft != g.LearningLeft ||
			r.Packets != g.Packets || r.Dropped != g.Dropped || r.Malformed != g.Malformed || r.CaptureError != g.CaptureError {
			fail(i, "window %+v, reference %+v", header(g), header(r))
		}
		names := slices.Sorted(maps.Keys(r.Stats))
		if gotNames := slices.Sorted(maps.Keys(g.Stats)); !slices.Equal(names, gotNames) {
			fail(i, "statistics %v, reference %v", gotNames, names)
			continue
		}
		for _, s := range names {
			rs, gs := r.Stats[s], g.Stats[s]
			if rs.Alarm != gs.Alarm || rs.Learning != gs.Learning {
				fail(i, "%s at %s: alarm %v learning %v, reference alarm %v learning %v", s, r.Start, gs.Alarm, gs.Learning, rs.Alarm, rs.Learning)
			}
			near(i, s+" value at "+r.Start, rs.Value, gs.Value)
			near(i, s+" up at "+r.Start, rs.Up, gs.Up)
			near(i, s+" down at "+r.Start, rs.Down, gs.Down)
		}
	}
	t.Logf("%s: %d values compared, %d not bit-identical to amd64, largest relative difference %.2g", name, values, inexact, worst)
	if mismatches > 20 {
		t.Errorf("%s: %d mismatches in all", name, mismatches)
	}
}

func header(l replayLine) replayLine {
	l.Stats = nil
	return l
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
