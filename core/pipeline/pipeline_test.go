package pipeline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"netspot/core/capture"
	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/sink"
	"netspot/core/sink/console"
	"netspot/core/sink/file"
	"netspot/core/sink/prometheus"
	"netspot/core/sink/sinktest"
	"netspot/dev/trafficgen"
)

// writeCapture generates minutes of office traffic with the given attacks
// into a capture file.
func writeCapture(t testing.TB, minutes int, attacks ...string) string {
	t.Helper()
	c := trafficgen.DefaultConfig()
	c.Seed = 7
	c.Duration = config.Duration(time.Duration(minutes) * time.Minute)
	c.Rate = 40
	c.Output.Snaplen = 96
	for _, a := range attacks {
		at, err := trafficgen.ParseAttack(a)
		if err != nil {
			t.Fatal(err)
		}
		c.Attacks = append(c.Attacks, at)
	}
	var buf bytes.Buffer
	if _, err := trafficgen.Generate(&buf, c); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "office.pcapng")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// quickConfig watches a few statistics with a short calibration.
func quickConfig(device string) *Config {
	c := New(coreFactories()...)
	c.Miner.Device = device
	c.Analyzer.Stats = []string{"TRAFFIC", "SYN_RATE", "NB_DST_PORT"}
	c.Spot.NInit, c.Spot.Depth, c.Spot.Level = 200, 20, 0.95
	return c
}

func windows(rs []*event.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Start.UTC().Format(time.TimeOnly))
	}
	return out
}

// A replay gives every record to every sink, however slow, in order: the
// same file gives the same output whatever the readers' speed.
func TestReplayLosesNothingToASlowSink(t *testing.T) {
	path := writeCapture(t, 6, "syn-scan@5m+20s")
	run := func(delay time.Duration) ([]*event.Record, string) {
		rec := &sinktest.Recorder{Fail: func(int) error { time.Sleep(delay); return nil }}
		var stdout sinktest.Buffer
		cfg := quickConfig(path)
		cfg.Sink("console").(*console.Config).Data = true
		err := Run(context.Background(), cfg, Options{
			Stdout: &stdout, RunID: "t",
			Extra: []Extra{{Name: "slow", Sink: rec, Queue: sink.QueueOptions{Len: 2}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return rec.Records(), stdout.String()
	}
	fastRecs, fastOut := run(0)
	slowRecs, slowOut := run(2 * time.Millisecond)
	if len(fastRecs) < 350 || !fastRecs[len(fastRecs)-1].Partial {
		t.Fatalf("%d windows, the last partial %v; want 6 minutes of 1 s windows and the partial end", len(fastRecs), fastRecs[len(fastRecs)-1].Partial)
	}
	if strings.Join(windows(fastRecs), " ") != strings.Join(windows(slowRecs), " ") {
		t.Error("a slow sink got other windows than a fast one")
	}
	if fastOut != slowOut || strings.Count(fastOut, "\n") < len(fastRecs) {
		t.Errorf("console output differs with a slow sink beside it (%d and %d lines)", strings.Count(fastOut, "\n"), strings.Count(slowOut, "\n"))
	}
	alarms := 0
	for _, r := range fastRecs {
		alarms += len(r.Alarms)
	}
	if alarms == 0 || strings.Count(fastOut, `{"type":"alarm"`) != alarms {
		t.Errorf("%d alarms recorded, %d printed", alarms, strings.Count(fastOut, `{"type":"alarm"`))
	}
}

// The detectors are saved at the end and restored at the next start,
// which then watches from its first window.
func TestStateIsSavedAndRestored(t *testing.T) {
	path := writeCapture(t, 4)
	state := filepath.Join(t.TempDir(), "state.json")
	var log sinktest.Buffer
	for i := range 2 {
		cfg := quickConfig(path)
		cfg.Analyzer.StateFile = state
		rec := &sinktest.Recorder{}
		err := Run(context.Background(), cfg, Options{Log: slog.New(slog.NewTextHandler(&log, nil)),
			Extra: []Extra{{Name: "rec", Sink: rec}}})
		if err != nil {
			t.Fatal(err)
		}
		first := rec.Records()[0]
		if i == 0 && first.LearningLeft == 0 {
			t.Error("the first run watched at once")
		}
		if i == 1 && first.LearningLeft != 0 {
			t.Errorf("the second run learns again (%d left): state not restored\n%s", first.LearningLeft, log.String())
		}
	}
	if !strings.Contains(log.String(), "detector state restored") {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestStartedAndErrors(t *testing.T) {
	path := writeCapture(t, 1)
	var started *Running
	err := Run(context.Background(), quickConfig(path), Options{Started: func(r *Running) { started = r }})
	if err != nil || started == nil || started.Live() || started.Progress().Packets == 0 || len(started.Watched()) != 3 {
		t.Fatalf("run: %v, started %+v", err, started)
	}
	// A missing file is a capture error; a bad value a configuration
	// problem naming its key; extra sinks are closed either way.
	rec := &sinktest.Recorder{}
	err = Run(context.Background(), quickConfig(filepath.Join(t.TempDir(), "nope.pcap")), Options{Extra: []Extra{{Name: "r", Sink: rec}}})
	if !errors.Is(err, capture.ErrNotFound) || !rec.Closed() {
		t.Errorf("missing file: %v, extra sink closed %v", err, rec.Closed())
	}
	cfg := quickConfig(path)
	cfg.Spot.Q = 2
	err = Run(context.Background(), cfg, Options{})
	if ps := config.AsProblems(err); len(ps) != 1 || ps[0].Key != "spot.q" {
		t.Errorf("bad q: %v", err)
	}
	cfg = quickConfig(path)
	cfg.Sink("file").(*file.Config).Data = filepath.Join(t.TempDir(), "no", "dir", "%s.json")
	err = Run(context.Background(), cfg, Options{})
	if ps := config.AsProblems(err); len(ps) != 1 || ps[0].Key != "exporter.file.data" {
		t.Errorf("file in a missing directory: %v", err)
	}
}

// A configuration received while running applies from the next window:
// the detectors whose settings did not change go on learning where they
// were; a reload that cannot apply is refused and the pipeline goes on.
func TestReload(t *testing.T) {
	path := writeCapture(t, 8)
	reload := make(chan *Config, 1)
	next := quickConfig(path)
	next.Analyzer.Stats = append(next.Analyzer.Stats, "RST_RATE")
	broken := quickConfig(path)
	broken.Sink("file").(*file.Config).Data = filepath.Join(t.TempDir(), "missing", "x.json")
	rec := &sinktest.Recorder{Fail: func(n int) error {
		switch n {
		case 250:
			reload <- broken
		case 300:
			reload <- next
		}
		return nil
	}}
	var log sinktest.Buffer
	err := Run(context.Background(), quickConfig(path), Options{
		Log: slog.New(slog.NewTextHandler(&log, nil)), Reload: reload,
		Extra: []Extra{{Name: "rec", Sink: rec, Queue: sink.QueueOptions{Len: 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Closed() {
		t.Error("the extra sink was not closed at the end")
	}
	rs := rec.Records()
	stat := func(r *event.Record, name string) *event.Stat {
		for i := range r.Stats {
			if r.Stats[i].Name == name {
				return &r.Stats[i]
			}
		}
		return nil
	}
	first := -1
	for i, r := range rs {
		if stat(r, "RST_RATE") != nil {
			first = i
			break
		}
	}
	if first < 300 || first > 310 {
		t.Fatalf("RST_RATE watched from window %d, want right after the reload at 300\n%s", first, log.String())
	}
	for i := first; i < len(rs); i++ {
		if stat(rs[i], "RST_RATE") == nil {
			t.Fatalf("window %d lost RST_RATE", i)
		}
	}
	// TRAFFIC kept its calibrated detector, while RST_RATE starts from
	// scratch.
	if stat(rs[first-1], "TRAFFIC").Learning || stat(rs[first], "TRAFFIC").Learning {
		t.Error("TRAFFIC learns again after the reload")
	}
	if s := stat(rs[first], "RST_RATE"); !s.Learning {
		t.Error("RST_RATE does not learn after the reload")
	}
	if len(rs) < 470 {
		t.Errorf("%d windows: some were lost across the reloads", len(rs))
	}
	text := log.String()
	if !strings.Contains(text, "reload refused") || !strings.Contains(text, "configuration reloaded") || !strings.Contains(text, "learning_again=RST_RATE") {
		t.Errorf("log:\n%s", text)
	}
}

// A reload that changes the sinks while one holds something the new one
// needs (the Prometheus sink's port; the MQTT store's lock is the same
// case) applies: the former sinks close before the new open.
func TestReloadSinkThatHoldsItsPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	path := writeCapture(t, 8)
	withMetrics := func() *Config {
		c := quickConfig(path)
		pc := c.Sink("prometheus").(*prometheus.Config)
		pc.Serve, pc.Listen = true, addr
		return c
	}
	next := withMetrics()
	next.Analyzer.Stats = append(next.Analyzer.Stats, "RST_RATE")
	reload := make(chan *Config, 1)
	rec := &sinktest.Recorder{Fail: func(n int) error {
		if n == 300 {
			reload <- next
		}
		return nil
	}}
	var log sinktest.Buffer
	err = Run(context.Background(), withMetrics(), Options{
		Log: slog.New(slog.NewTextHandler(&log, nil)), Reload: reload,
		Extra: []Extra{{Name: "rec", Sink: rec, Queue: sink.QueueOptions{Len: 1}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if text := log.String(); strings.Contains(text, "reload refused") || !strings.Contains(text, "configuration reloaded") {
		t.Errorf("log:\n%s", text)
	}
	if n := len(rec.Records()); n < 470 {
		t.Errorf("%d windows: some were lost across the reload", n)
	}
}
