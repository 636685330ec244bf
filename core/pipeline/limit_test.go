package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"netspot/core/event"
	"netspot/core/sink/file"
	"netspot/core/sink/sinktest"
)

// A capture on standard input (the device "-") is a replay named "stdin";
// Count and Duration end it early, as the end of a file does.
func TestStdinAndLimits(t *testing.T) {
	b, err := os.ReadFile(writeCapture(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	run := func(opt Options) ([]*event.Record, string) {
		t.Helper()
		dir := t.TempDir()
		cfg := quickConfig("-")
		cfg.Sink("file").(*file.Config).Data = filepath.Join(dir, "%s.json")
		rec := &sinktest.Recorder{}
		opt.Stdin = bytes.NewReader(b)
		opt.Extra = []Extra{{Name: "recorder", Sink: rec}}
		if err := Run(context.Background(), cfg, opt); err != nil {
			t.Fatal(err)
		}
		names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		if len(names) != 1 {
			t.Fatalf("files %v, want one data file", names)
		}
		return rec.Records(), filepath.Base(names[0])
	}
	packets := func(rs []*event.Record) (n uint64) {
		for _, r := range rs {
			n += r.Packets
		}
		return n
	}
	all, name := run(Options{})
	if name != "stdin.json" || len(all) < 170 || !all[len(all)-1].Partial {
		t.Fatalf("whole stream: %d windows into %s", len(all), name)
	}
	counted, _ := run(Options{Count: 1000})
	if n := packets(counted); n != 1000 || !counted[len(counted)-1].Partial || len(counted) >= len(all) {
		t.Errorf("--count 1000: %d packets in %d windows", n, len(counted))
	}
	timed, _ := run(Options{Duration: time.Minute})
	if span := timed[len(timed)-1].End.Sub(timed[0].Start); span > 62*time.Second || span < 58*time.Second || !timed[len(timed)-1].Partial {
		t.Errorf("--duration 1m: %d windows over %s", len(timed), span)
	}
	if _, err := os.Stat("-"); err == nil {
		t.Error("a file named - was created")
	}
	cfg := quickConfig("-")
	if err := Run(context.Background(), cfg, Options{}); err == nil {
		t.Error("standard input read without Options.Stdin")
	}
}
