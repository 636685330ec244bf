package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The layers: defaults < file < command-line options < --set; a mistake
// in each is reported with its source: the file's name and line, "command
// line", "--set".
func TestLoadLayers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "netspot.toml")
	if err := os.WriteFile(p, []byte("[miner]\ndevice = \"eth0\"\nperiod = \"10s\"\n[spot]\nq = 1e-3\ndepth = 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := defaults()
	if err := LoadFile(p, c.sections()...); err != nil {
		t.Fatal(err)
	}
	if err := LoadCommandLine(map[string]any{"miner.period": "2s", "spot.q": 1e-5, "miner.stats": []string{"B"}}, []string{"spot.q=1e-6"}, c.sections()...); err != nil {
		t.Fatal(err)
	}
	if c.Miner.Device != "eth0" || c.Miner.Period.D() != 2*time.Second || c.Spot.Q != 1e-6 || c.Spot.Depth != 5 || c.Miner.Snap != 65535 || c.Miner.Stats[0] != "B" {
		t.Errorf("layers: %+v", c)
	}
	for _, tc := range []struct {
		options map[string]any
		set     []string
		want    string
	}{
		{map[string]any{"spot.q": 7.0}, nil, "command line: spot.q: must be strictly between 0 and 1"},
		{nil, []string{"spot.q=7"}, "--set: spot.q: must be strictly between 0 and 1"},
		{nil, []string{"spot.nope=1"}, "--set: spot.nope: unknown key"},
		{nil, []string{"spot.q"}, "--set"},
	} {
		if err := LoadCommandLine(tc.options, tc.set, defaults().sections()...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want %q", tc.options, tc.set, err, tc.want)
		}
	}
	if err := os.WriteFile(p, []byte("[spot]\nq = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := LoadFile(p, defaults().sections()...); err == nil || !strings.Contains(err.Error(), p+":2: spot.q") {
		t.Errorf("bad file: %v", err)
	}
}
