package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"netspot/core/config"
)

// The output of `netspot defaults` is a valid config file, every key
// documented, that loads back to exactly the defaults.
func TestDefaultsRoundTrip(t *testing.T) {
	out, _, err := runCmd(t, context.Background(), "defaults")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "netspot.toml")
	if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &env{}
	got, err := loadConfig(e, p, nil, nil)
	if err != nil {
		t.Fatalf("defaults do not load: %v\n%s", err, out)
	}
	if want := defaults(e); !reflect.DeepEqual(config.ToMap(got.sections()...), config.ToMap(want.sections()...)) {
		t.Errorf("defaults loaded as\n%v\nwant\n%v", config.ToMap(got.sections()...), config.ToMap(want.sections()...))
	}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") {
			continue
		}
		if i == 0 || !strings.HasPrefix(lines[i-1], "#") {
			t.Errorf("key without a comment: %q", l)
		}
	}
	for _, section := range []string{"[miner]", "[analyzer]", "[spot]", "[exporter.console]", "[exporter.file]",
		"[exporter.mqtt]", "[exporter.socket]", "[exporter.influxdb]", "[exporter.prometheus]", "[board]", "[api]"} {
		if !strings.Contains(out, "\n"+section+"\n") {
			t.Errorf("no %s section", section)
		}
	}
}

// Values come from the defaults, then the file, then the options given,
// then --set; a mistake in the file is exit code 3, on the command line 2,
// with every problem listed.
func TestConfigLayersAndExitCodes(t *testing.T) {
	e := &env{}
	p := filepath.Join(t.TempDir(), "netspot.toml")
	if err := os.WriteFile(p, []byte("[analyzer]\nperiod = \"10s\"\nclear_after = 5\n[spot]\nq = 1e-3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(e, p, map[string]any{"analyzer.period": "2s"}, []string{"spot.q=1e-6", "analyzer.stats=R_SYN,TRAFFIC"})
	if err != nil {
		t.Fatal(err)
	}
	a := c.Pipeline.Analyzer
	if a.Period.String() != "2s" || a.ClearAfter != 5 || c.Pipeline.Spot.Q != 1e-6 || !reflect.DeepEqual(a.Stats, []string{"R_SYN", "TRAFFIC"}) {
		t.Errorf("analyzer %+v, q %v", a, c.Pipeline.Spot.Q)
	}

	if err := os.WriteFile(p, []byte("[analyzer]\nperiod = 5\n[spot]\nq = 2\nnint = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = loadConfig(e, p, nil, nil)
	if exitCode(err) != exitConfig || len(config.AsProblems(err)) != 3 {
		t.Errorf("bad file: exit %d, %v", exitCode(err), err)
	}
	_, err = loadConfig(e, "", nil, []string{"spot.q=3"})
	if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "--set: spot.q:") {
		t.Errorf("bad --set: exit %d, %v", exitCode(err), err)
	}
	_, err = loadConfig(e, filepath.Join(t.TempDir(), "missing.toml"), nil, nil)
	if exitCode(err) != exitConfig || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("missing file: exit %d, %v", exitCode(err), err)
	}
	big := filepath.Join(t.TempDir(), "big.toml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#"), config.MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(e, big, nil, nil); exitCode(err) != exitConfig || !strings.Contains(err.Error(), "not a configuration") {
		t.Errorf("huge file: %v", err)
	}
}

func TestCheckListsEveryProblem(t *testing.T) {
	p := filepath.Join(t.TempDir(), "netspot.toml")
	if err := os.WriteFile(p, []byte("[miner]\ndevise = \"eth0\"\n\n[spot]\nq = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, context.Background(), "check", "-c", p)
	want := p + ":2: miner.devise: unknown key (did you mean device?)\n" + p + ":5: spot.q: "
	if exitCode(err) != exitConfig || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("check: exit %d\n%v\nwant %s…", exitCode(err), err, want)
	}
}
