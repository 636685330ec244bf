package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"netspot/core/config"
	"netspot/dev/trafficgen"
)

var update = flag.Bool("update", false, "rewrite golden files")

// runCmd runs one netspot command line in-process.
func runCmd(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	err = run(ctx, e, args)
	return out.String(), errb.String(), err
}

// generated writes a five-minute office capture with a SYN scan at 4m.
func generated(t *testing.T) string {
	t.Helper()
	cfg := trafficgen.DefaultConfig()
	cfg.Seed = 7
	cfg.Duration = config.Duration(5 * time.Minute)
	cfg.Rate = 40
	cfg.Hosts = 8
	cfg.Output.Snaplen = 128
	scan, err := trafficgen.ParseAttack("syn-scan@4m+20s")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Attacks = []trafficgen.Attack{scan}
	p := filepath.Join(t.TempDir(), "office.pcap")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trafficgen.Generate(f, cfg); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeConfig(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "netspot.toml")
	if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const goldenConfig = `
[analyzer]
period = "1s"
stats = ["TRAFFIC", "R_SYN", "NB_DST_PORT", "PERF"]
[spot]
n_init = 150
depth = 20
level = 0.9
`

// Variable parts of the output: PERF measures this machine, alarm ids are
// random per run.
var (
	perfValue = regexp.MustCompile(`"PERF":\{"value":[^,]*,`)
	alarmID   = regexp.MustCompile(`"(alarm_)?id":"[0-9a-f]+-(\d+)"`)
)

func normalize(out string) string {
	out = perfValue.ReplaceAllString(out, `"PERF":{"value":"<perf>",`)
	return alarmID.ReplaceAllString(out, `"${1}id":"<run>-$2"`)
}

// Replaying a generated capture gives the golden records; a second replay
// gives the same bytes apart from PERF and alarm ids.
func TestRunGoldenRecords(t *testing.T) {
	capture := generated(t)
	cfg := writeConfig(t, goldenConfig)
	out1, stderr, err := runCmd(t, context.Background(), "run", "-c", cfg, "-d", capture, "-v")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	out2, _, err := runCmd(t, context.Background(), "run", "-c", cfg, "-d", capture, "-v")
	if err != nil {
		t.Fatal(err)
	}
	got := normalize(out1)
	if got != normalize(out2) {
		t.Fatal("two replays of the same file differ")
	}
	var data, alarms int
	for _, line := range strings.Split(strings.TrimSpace(out1), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("invalid JSON line %q: %v", line, err)
		}
		switch m["type"] {
		case "data":
			data++
		case "alarm":
			alarms++
			if m["stat"] == "" || m["side"] != "up" {
				t.Errorf("alarm %v", m)
			}
		}
	}
	// The capture's first packet comes 3 s after its start: 297 windows.
	if data != 297 {
		t.Errorf("%d data records, want 297", data)
	}
	if alarms == 0 {
		t.Error("the SYN scan raised no alarm")
	}
	golden := filepath.Join("testdata", "golden-records.jsonl")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	if len(gl) != len(wl) {
		t.Fatalf("output has %d lines, %s has %d", len(gl), golden, len(wl))
	}
	for i := range gl {
		if !sameJSON(gl[i], wl[i]) {
			t.Fatalf("line %d differs from %s:\n got %s\nwant %s", i+1, golden, gl[i], wl[i])
		}
	}
}

// sameJSON compares two JSON lines, numbers within 1e-9 relative: the
// golden file must hold on every architecture, and arm64 fuses
// multiply-adds that amd64 rounds separately.
func sameJSON(a, b string) bool {
	if a == b {
		return true
	}
	var va, vb any
	if json.Unmarshal([]byte(a), &va) != nil || json.Unmarshal([]byte(b), &vb) != nil {
		return false
	}
	return closeValues(va, vb)
}

func closeValues(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && math.Abs(x-y) <= 1e-9*math.Max(math.Abs(x), math.Abs(y))
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !closeValues(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !closeValues(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}

// The file sink writes the same data records as the console.
func TestRunFileSink(t *testing.T) {
	capture := generated(t)
	dir := t.TempDir()
	cfg := writeConfig(t, goldenConfig+`
[exporter.console]
alarm = false
[exporter.file]
alarm = "`+filepath.Join(dir, "%s-alarms.json")+`"
`)
	stdout, stderr, err := runCmd(t, context.Background(), "run", "-c", cfg, "-d", capture,
		"-f", filepath.Join(dir, "%s-data.json"))
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	if stdout != "" {
		t.Errorf("console disabled but printed %q", stdout)
	}
	data, err := os.ReadFile(filepath.Join(dir, "office-data.json"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"type":"data"`); n != 297 {
		t.Errorf("data file has %d records", n)
	}
	alarms, err := os.ReadFile(filepath.Join(dir, "office-alarms.json"))
	if err != nil || !strings.Contains(string(alarms), `"type":"alarm"`) {
		t.Errorf("alarm file: %v %q", err, alarms)
	}
}

// Each kind of failure has its own exit code and a message saying what is
// wrong.
func TestRunFailures(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pcap")
	garbage := filepath.Join(dir, "garbage.pcap")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(garbage, bytes.Repeat([]byte("not a capture "), 100), 0o644)
	headerOnly := filepath.Join(dir, "header-only.pcap")
	os.WriteFile(headerOnly, []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0}, 0o644)
	corrupt := corruptPcapng(t, dir)
	badCfg := writeConfig(t, "[spot]\nq = 7\n")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"run", "-d", filepath.Join(dir, "missing.pcap")}, exitInput, "not found"},
		{[]string{"run", "-d", empty}, exitInput, "empty"},
		{[]string{"run", "-d", garbage}, exitInput, "not a pcap or pcapng file"},
		{[]string{"run", "-d", headerOnly}, exitInput, "no packets"},
		{[]string{"run", "-d", corrupt}, exitInput, "block at byte"},
		{[]string{"run", "-d", empty, "-s", "NOPE"}, exitUsage, `command line: analyzer.stats: unknown statistic "NOPE"`},
		{[]string{"run", "-c", badCfg}, exitConfig, "spot.q"},
		{[]string{"run", "-c", filepath.Join(dir, "nope.toml")}, exitConfig, "nope.toml"},
		{[]string{"run", "--bogus"}, exitUsage, "unknown flag"},
		{[]string{"run", "-l", "loud"}, exitUsage, "log-level"},
		{[]string{"run", "extra"}, exitUsage, "unexpected argument"},
		{[]string{"run", "-d", empty, "--miner.filter", "tcp[13] = 2"}, exitUsage, "miner.filter"},
		{[]string{"frobnicate"}, exitUsage, "unknown command"},
	} {
		_, _, err := runCmd(t, context.Background(), c.args...)
		if got := exitCode(err); got != c.code || err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: exit %d, %v; want exit %d with %q", c.args, got, err, c.code, c.msg)
		}
	}
}

// corruptPcapng writes a generated pcapng capture whose block lengths are
// damaged halfway through.
func corruptPcapng(t *testing.T, dir string) string {
	t.Helper()
	cfg := trafficgen.DefaultConfig()
	cfg.Seed, cfg.Duration, cfg.Rate, cfg.Output.Format = 3, config.Duration(time.Minute), 20, "pcapng"
	var buf bytes.Buffer
	if _, err := trafficgen.Generate(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// Walk the blocks (type, total length, ..., total length) to the
	// middle of the file and break the next block's length.
	off := 0
	for off < len(b)/2 {
		off += int(binary.LittleEndian.Uint32(b[off+4:]))
	}
	binary.LittleEndian.PutUint32(b[off+4:], 13) // not a multiple of 4
	p := filepath.Join(dir, "corrupt.pcapng")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A capture file cut in the middle of a packet is read to the end.
func TestRunTruncatedFile(t *testing.T) {
	capture := generated(t)
	b, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	os.WriteFile(cut, b[:len(b)-37], 0o644)
	stdout, stderr, err := runCmd(t, context.Background(), "run", "-d", cut, "-v", "-s", "TRAFFIC")
	if err != nil {
		t.Fatalf("truncated file: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, `"partial":true`) {
		t.Error("last window not flushed as partial")
	}
}

func TestCommandLineOverridesConfig(t *testing.T) {
	capture := generated(t)
	cfg := writeConfig(t, "[analyzer]\nperiod = \"10s\"\nstats = [\"R_SYN\"]\n[exporter.console]\ndata = true\n")
	stdout, _, err := runCmd(t, context.Background(), "run", "-c", cfg, "-d", capture, "-p", "1m", "-s", "TRAFFIC,R_ARP")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 5 {
		t.Errorf("%d records for 5 minutes at -p 1m", len(lines))
	}
	if !strings.Contains(lines[0], `"TRAFFIC"`) || !strings.Contains(lines[0], `"R_ARP"`) || strings.Contains(lines[0], `"R_SYN"`) {
		t.Errorf("stats from -s not used: %s", lines[0])
	}
}

func TestHelpShowsAppliedDefaults(t *testing.T) {
	out, _, err := runCmd(t, context.Background(), "help", "run")
	if err != nil {
		t.Fatal(err)
	}
	def := defaults(&env{}).Pipeline
	for _, want := range []string{`(default "` + def.Miner.Device + `")`, "(default 1s)", "(default " + "65535)"} {
		if !strings.Contains(out, want) {
			t.Errorf("help does not show %s:\n%s", want, out)
		}
	}
	if def.Analyzer.Period.D() != time.Second || def.Miner.SnapshotLen != 65535 {
		t.Fatal("defaults changed: update this test")
	}
}

func TestVersion(t *testing.T) {
	out, _, err := runCmd(t, context.Background(), "version")
	if err != nil || !strings.HasPrefix(out, "netspot ") {
		t.Errorf("version: %q %v", out, err)
	}
}

// The detectors are saved at exit and restored by the next run, which
// then watches from its first window.
func TestRunResumesFromState(t *testing.T) {
	capture := generated(t)
	state := filepath.Join(t.TempDir(), "state.json")
	cfg := writeConfig(t, strings.Replace(goldenConfig, `period = "1s"`, `period = "1s"`+"\nstate_file = \""+state+"\"", 1))
	if _, stderr, err := runCmd(t, context.Background(), "run", "-c", cfg, "-d", capture); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("state not saved: %v", err)
	}
	stdout, stderr, err := runCmd(t, context.Background(), "run", "-c", cfg, "-d", capture, "-v")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "detector state restored") {
		t.Errorf("no restore logged:\n%s", stderr)
	}
	first := stdout[:strings.IndexByte(stdout, '\n')]
	if !strings.Contains(first, `"learning_left":0`) {
		t.Errorf("first record after restore is learning: %s", first)
	}
}

// A corrupt block mid-file is exit 4, after the windows before it are
// reported.
func TestRunCorruptFileReportsWindowsBefore(t *testing.T) {
	stdout, _, err := runCmd(t, context.Background(), "run", "-d", corruptPcapng(t, t.TempDir()), "-v", "-s", "TRAFFIC")
	if exitCode(err) != exitInput {
		t.Fatalf("exit %d: %v", exitCode(err), err)
	}
	if n := strings.Count(stdout, `"type":"data"`); n < 20 {
		t.Errorf("%d windows reported before the corrupt block, want those of the first half minute", n)
	}
}
