package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"netspot/core/capture"
	"netspot/core/config"
	"netspot/dev/trafficgen"
)

func runEval(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), &env{stdout: &out, stderr: &errb}, append([]string{"eval"}, args...))
	if err != nil {
		errb.WriteString(err.Error())
	}
	return out.String(), errb.String(), exitCode(err)
}

// evalFixture writes a 12-minute office background, an attack capture
// holding only a SYN scan, a scenario and a config that learns in 5 minutes.
func evalFixture(t *testing.T) (dir, scenario, cfg string) {
	t.Helper()
	dir = t.TempDir()
	gen := func(name string, minutes int, attack string) {
		c := trafficgen.DefaultConfig()
		c.Seed, c.Rate, c.Output.Snaplen = 3, 30, 96
		c.Duration = config.Duration(time.Duration(minutes) * time.Minute)
		if attack != "" {
			a, err := trafficgen.ParseAttack(attack)
			if err != nil {
				t.Fatal(err)
			}
			c.Attacks = append(c.Attacks, a)
		}
		g, err := trafficgen.New(c)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		w, err := trafficgen.NewWriter(&buf, c.Output, c.Start, "")
		if err != nil {
			t.Fatal(err)
		}
		var p trafficgen.Packet
		for g.Next(&p) {
			if attack != "" && p.Attack < 0 {
				continue
			}
			if err := w.Write(&p); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gen("office.pcapng", 12, "")
	gen("scan.pcapng", 2, "syn-scan@1m+20s")
	scenario = filepath.Join(dir, "scenario.toml")
	write(t, scenario, "duration = \"20m\"\n[[background]]\nfile = \"office.pcapng\"\n[[attack]]\nfile = \"scan.pcapng\"\nat = \"15m\"\nlabel = \"syn-scan\"\nvolumetric = true\n")
	cfg = filepath.Join(dir, "netspot.toml")
	write(t, cfg, "[analyzer]\nstats = [\"TRAFFIC\", \"R_SYN\", \"NB_DST_PORT\"]\n[spot]\nn_init = 300\ndepth = 30\nlevel = 0.95\n")
	return dir, scenario, cfg
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEvalReport(t *testing.T) {
	dir, scenario, cfg := evalFixture(t)
	out, stderr, code := runEval(t, scenario, "-c", cfg)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"syn-scan *", "15m0s", "recall             1 of 1 (100%)", "false alarms"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(stderr, "alarm raised") {
		t.Errorf("alarms are logged besides the report:\n%s", stderr)
	}

	png := filepath.Join(dir, "out.png")
	out, stderr, code = runEval(t, scenario, "-c", cfg, "--json", "--plot", png)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		Recall      *float64 `json:"recall"`
		FalseAlarms *int     `json:"false_alarms"`
		PerHour     any      `json:"false_alarms_per_hour"`
		BenignHours *float64 `json:"benign_hours"`
		PeriodS     float64  `json:"period_s"`
		Stats       []string `json:"watched_stats"`
		Attacks     []struct {
			Label    string    `json:"label"`
			Start    time.Time `json:"start"`
			End      time.Time `json:"end"`
			Detected bool      `json:"detected"`
			DelayS   *float64  `json:"delay_s"`
			Stats    []string  `json:"stats"`
		} `json:"attacks"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if r.Recall == nil || *r.Recall != 1 || r.FalseAlarms == nil || r.BenignHours == nil || *r.BenignHours <= 0 || len(r.Attacks) != 1 {
		t.Fatalf("JSON report: %s", out)
	}
	a := r.Attacks[0]
	if a.Label != "syn-scan" || !a.Detected || a.DelayS == nil || *a.DelayS > 2 || len(a.Stats) == 0 || !a.End.After(a.Start) {
		t.Errorf("attack: %+v", a)
	}
	if r.PeriodS != 1 || len(r.Stats) != 3 {
		t.Errorf("period %v, stats %v: the config's settings were not applied", r.PeriodS, r.Stats)
	}
	b, err := os.ReadFile(png)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 10000 {
		t.Errorf("--plot wrote %d bytes (%v), want a PNG", len(b), err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".out.png.*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// -p overrides the config's period; -s its statistics.
	out, stderr, code = runEval(t, scenario, "-c", cfg, "--json", "-p", "2s", "-s", "R_SYN")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.PeriodS != 2 || len(r.Stats) != 1 {
		t.Errorf("with -p 2s -s R_SYN: period %v, stats %v (%v)", r.PeriodS, r.Stats, err)
	}
}

// TestEvalPlotKeptOnFailure: an evaluation that fails leaves an earlier
// plot as it was, and no temporary file beside it.
func TestEvalPlotKeptOnFailure(t *testing.T) {
	dir, _, cfg := evalFixture(t)
	bad := filepath.Join(dir, "bad.toml")
	write(t, bad, "duration = \"1h\"\n[[background]]\nfile = \"office.pcapng\"\n[[attack]]\nfile = \"gone.pcap\"\nat = \"50m\"\n")
	png := filepath.Join(dir, "plot.png")
	write(t, png, "an earlier plot")
	if _, stderr, code := runEval(t, bad, "-c", cfg, "--plot", png); code != exitInput {
		t.Fatalf("exit %d, want %d: %s", code, exitInput, stderr)
	}
	if b, err := os.ReadFile(png); err != nil || string(b) != "an earlier plot" {
		t.Errorf("earlier plot now %q (%v)", b, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".plot.png.*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestEvalWriteTimeline(t *testing.T) {
	dir, scenario, _ := evalFixture(t)
	path := filepath.Join(dir, "timeline.pcap")
	out, stderr, code := runEval(t, scenario, "--write-timeline", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "pcap") || !strings.Contains(out, "syn-scan 2025-03-04T09:15:0") {
		t.Errorf("summary: %s", out)
	}
	f, err := capture.OpenFile(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var p capture.Packet
	if err := f.Next(&p); err != nil || p.Link != capture.LinkEthernet {
		t.Errorf("first packet: %v, link %s", err, p.Link)
	}
}

func TestEvalErrors(t *testing.T) {
	dir, scenario, cfg := evalFixture(t)
	bad := filepath.Join(dir, "bad.toml")
	cases := []struct {
		name string
		doc  string // written to bad.toml when not empty
		args []string
		code int
		want string
	}{
		{"no scenario", "", nil, exitUsage, "no scenario file"},
		{"two scenarios", "", []string{scenario, scenario}, exitUsage, "one scenario file at a time"},
		{"missing scenario", "", []string{filepath.Join(dir, "nope.toml")}, exitConfig, "nope.toml"},
		{"bad period", "", []string{scenario, "-p", "0s"}, exitUsage, "must be positive"},
		{"bad config", "", []string{scenario, "-c", scenario}, exitConfig, "unknown key"},
		{"unknown stat", "", []string{scenario, "-s", "R_NOPE"}, exitUsage, "R_NOPE"},
		{"unknown key", "duration = \"1h\"\nloops = 3\n[[background]]\nfile = \"office.pcapng\"\n", []string{bad}, exitConfig, "bad.toml:2: loops: unknown key"},
		{"missing capture", "duration = \"1h\"\n[[background]]\nfile = \"office.pcapng\"\n[[attack]]\nfile = \"gone.pcap\"\nat = \"50m\"\n", []string{bad, "-c", cfg}, exitInput, `bad.toml:4: attack "gone"`},
		{"unreadable capture", "duration = \"1h\"\n[[background]]\nfile = \"bad.toml\"\n", []string{bad}, exitInput, "background[0]: capture:"},
		{"attack outside", "duration = \"20m\"\n[[background]]\nfile = \"office.pcapng\"\n[[attack]]\nfile = \"scan.pcapng\"\nat = \"19m50s\"\n", []string{bad, "-c", cfg}, exitConfig, "past the end of the 20m0s timeline"},
		{"overlap", "duration = \"20m\"\n[[background]]\nfile = \"office.pcapng\"\n[[attack]]\nfile = \"scan.pcapng\"\nat = \"12m\"\n[[attack]]\nfile = \"office.pcapng\"\nlabel = \"again\"\nat = \"12m5s\"\n", []string{bad, "-c", cfg}, exitConfig, `attack "again"`},
		{"during calibration", "duration = \"20m\"\n[[background]]\nfile = \"office.pcapng\"\n[[attack]]\nfile = \"scan.pcapng\"\nat = \"1m\"\n", []string{bad}, exitConfig, "before the detectors watch"},
		{"unwritable plot", "", []string{scenario, "-c", cfg, "--plot", filepath.Join(dir, "no", "such", "dir.png")}, exitFailure, "--plot"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.doc != "" {
				write(t, bad, c.doc)
			}
			_, stderr, code := runEval(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, want %d; stderr %q should say %q", code, c.code, stderr, c.want)
			}
		})
	}
}
