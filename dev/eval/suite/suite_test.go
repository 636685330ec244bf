package suite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"netspot/core/eval"
)

// TestGeneratedSuite runs the generated suite with netspot's defaults and
// holds them to the goals they were chosen for (docs/evaluation.md): on
// each tuning scenario, every volumetric attack within two periods, every
// other attack detected but the known misses below, and at most one false
// alarm per hour of benign traffic. The held-out scenarios must keep every
// volumetric attack on time; their false alarms are reported, not bounded.
//
// The known misses are attacks that no statistic of the default set shows
// at 1 s (none at present: the SSH brute force of office-a and office-c,
// two connections a second, was one until the per-host statistics).
// Naming them keeps the check exact: a new miss fails it, and so would a
// detection of them, which would deserve a look.
var knownMisses = map[string]string{}

func TestGeneratedSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 34 hours of generated traffic")
	}
	// The scenarios point at ../captures; generate them there, in a copy.
	dir := t.TempDir()
	if err := Generate("../generated/captures.toml", filepath.Join(dir, "captures")); err != nil {
		t.Fatal(err)
	}
	tuning, heldOut, err := Scenarios("../generated")
	if err != nil {
		t.Fatal(err)
	}
	if len(tuning) == 0 || len(heldOut) == 0 {
		t.Fatalf("tuning %v, held out %v: both parts are needed", tuning, heldOut)
	}
	run := func(path string) *eval.Report {
		part := filepath.Base(filepath.Dir(path))
		dst := filepath.Join(dir, part, filepath.Base(path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Run(context.Background(), dst, Defaults())
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		r.WriteText(&sb)
		t.Logf("%s", sb.String())
		return r
	}
	for _, p := range tuning {
		r := run(p)
		var one Totals
		one.Add(r)
		if one.VolumetricOnTime != one.Volumetric {
			t.Errorf("%s: %d of %d volumetric attacks within two periods, want all", p, one.VolumetricOnTime, one.Volumetric)
		}
		for _, a := range r.Attacks {
			if _, known := knownMisses[a.Label]; a.Detected == known {
				t.Errorf("%s: %s detected: %v, want %v", p, a.Label, a.Detected, !known)
			}
		}
		if one.BenignHours < 5 || one.FalsePerHour() > 1 {
			t.Errorf("%s: %d false alarms in %.2f benign hours (%.2f per hour), want at most 1 per hour", p, one.FalseAlarms, one.BenignHours, one.FalsePerHour())
		}
	}
	var held Totals
	for _, p := range heldOut {
		held.Add(run(p))
	}
	if held.VolumetricOnTime != held.Volumetric {
		t.Errorf("held out: %d of %d volumetric attacks within two periods, want all", held.VolumetricOnTime, held.Volumetric)
	}
	t.Logf("held out: %d of %d detected, %.2f false alarms per hour", held.Detected, held.Attacks, held.FalsePerHour())
}

func TestLoadCapturesErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ doc, want string }{
		{"[[capture]]\nfile = \"../x.pcapng\"\nseed = 1\nhosts = 5\nrate = 10\nduration = \"1m\"\n", "plain file name"},
		{"[[capture]]\nfile = \"x.pcapng\"\nseed = 1\nhosts = 5\nrate = 0\nduration = \"1m\"\n", "rate"},
		{"[[capture]]\nfile = \"x.pcapng\"\nloops = 2\n", "loops"},
	} {
		p := filepath.Join(dir, "m.toml")
		if err := os.WriteFile(p, []byte(c.doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCaptures(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one about %s", c.doc, err, c.want)
		}
	}
}
