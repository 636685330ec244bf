package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The output of `netspot defaults` is a valid config file that loads to
// exactly DefaultConfig().
func TestDefaultsRoundTrip(t *testing.T) {
	b, err := defaultsTOML()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "netspot.toml")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := loadConfigFile(p)
	if err != nil {
		t.Fatalf("defaults do not load: %v\n%s", err, b)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(got, want) {
		t.Errorf("defaults loaded as\n%+v\nwant\n%+v", got, want)
	}
	// Every key is documented.
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") {
			continue
		}
		if i == 0 || !strings.HasPrefix(lines[i-1], "#") {
			t.Errorf("key without a comment: %q", l)
		}
	}
}

func TestConfigErrorsNameKeyAndLine(t *testing.T) {
	for _, c := range []struct {
		doc, want string
	}{
		{"[spot]\nq = \"x\"\n", `t.toml:2: spot.q: cannot decode TOML string: expected a number`},
		{"[spot]\n\nfoo = 1\n", `t.toml:3: spot.foo: unknown key`},
		{"[spot.R_SYN]\nfoo = 1\n", `t.toml:2: spot.R_SYN.foo: unknown key`},
		{"[spot.NOPE]\nq = 0.1\n", `t.toml:1: spot.NOPE: unknown statistic`},
		{"[spot]\nq = 2.0\n", `t.toml:2: spot.q:`},
		{"[spot.R_SYN]\nlevel = 1.5\n", `t.toml:2: spot.R_SYN.level:`},
		{"[analyzer]\nperiod = 5\n", `t.toml:2: analyzer.period: expected a duration string`},
		{"[analyzer]\nperiod = \"5x\"\n", `t.toml:2: analyzer.period: invalid duration "5x"`},
		{"[analyzer]\nstats = [\"R_SYN\", \"NOPE\"]\n", `t.toml:2: analyzer.stats: unknown statistic "NOPE"`},
		{"[analyzer]\nstats = [\"R_SYN\", \"R_SYN\"]\n", `t.toml:2: analyzer.stats: statistic R_SYN is listed twice`},
		{"\n[analyzer\n", `t.toml:2: expected ']'`},
		{"[nope]\nx = 1\n", `t.toml:1: nope: unknown key`},
		{"[exporter.file]\ndata = \"%s-%s\"\n", `t.toml:2: exporter.file.data:`},
		{"[spot]\nn_init = 1.5\n", `t.toml:2: spot.n_init:`},
	} {
		cfg := DefaultConfig()
		err := decodeConfig("t.toml", []byte(c.doc), &cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%q: got %v, want a ConfigError", c.doc, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q:\n got %s\nwant %s…", c.doc, err, c.want)
		}
	}
}

func TestSpotOverrides(t *testing.T) {
	doc := "[spot]\nq = 1e-3\n[spot.R_SYN]\nq = 1e-5\nup = false\ndown = true\n[spot.TRAFFIC]\n"
	cfg := DefaultConfig()
	if err := decodeConfig("t.toml", []byte(doc), &cfg); err != nil {
		t.Fatal(err)
	}
	syn := cfg.Spot.For("R_SYN")
	if syn.Q != 1e-5 || syn.Up || !syn.Down || syn.Level != cfg.Spot.Level {
		t.Errorf("R_SYN params %+v", syn)
	}
	if other := cfg.Spot.For("R_ACK"); other.Q != 1e-3 || !other.Up {
		t.Errorf("R_ACK params %+v", other)
	}
	if _, ok := cfg.Spot.PerStat["TRAFFIC"]; !ok {
		t.Error("empty [spot.TRAFFIC] table lost")
	}
	// Dotted keys work as well as tables.
	cfg = DefaultConfig()
	if err := decodeConfig("t.toml", []byte("spot.R_SYN.q = 1e-3\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Spot.For("R_SYN").Q != 1e-3 {
		t.Errorf("dotted override ignored: %+v", cfg.Spot.PerStat)
	}
}

// Keys absent from the file keep their defaults.
func TestPartialFileKeepsDefaults(t *testing.T) {
	cfg := DefaultConfig()
	if err := decodeConfig("t.toml", []byte("[analyzer]\nperiod = \"500ms\"\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Analyzer.Period = cfg.Analyzer.Period
	if !reflect.DeepEqual(cfg, want) || cfg.Analyzer.Period.String() != "500ms" {
		t.Errorf("got %+v", cfg)
	}
}

func TestConfigFileProblems(t *testing.T) {
	if _, err := loadConfigFile(filepath.Join(t.TempDir(), "missing.toml")); err == nil {
		t.Error("missing file accepted")
	}
	big := filepath.Join(t.TempDir(), "big.toml")
	if err := os.WriteFile(big, make([]byte, maxConfigSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfigFile(big); err == nil || !strings.Contains(err.Error(), "not a config file") {
		t.Errorf("huge file: %v", err)
	}
}

func FuzzConfig(f *testing.F) {
	b, _ := defaultsTOML()
	f.Add(b)
	f.Add([]byte("[spot.R_SYN]\nq = 1e-5\n"))
	f.Add([]byte("spot.R_SYN.q = 1e-3\n[analyzer]\nperiod = \"1s\"\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		cfg := DefaultConfig()
		if err := decodeConfig("f.toml", doc, &cfg); err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("accepted a config that does not validate: %v", verr)
			}
		}
	})
}

// BenchmarkDecodeConfig: the complete default file, and a file of 10 000
// unknown keys, whose errors are found in one pass over the document.
func BenchmarkDecodeConfig(b *testing.B) {
	defaults, err := defaultsTOML()
	if err != nil {
		b.Fatal(err)
	}
	var unknown strings.Builder
	unknown.WriteString("[spot]\n")
	for i := range 10000 {
		fmt.Fprintf(&unknown, "key%d = 1\n", i)
	}
	for _, c := range []struct {
		name string
		doc  []byte
		ok   bool
	}{{"defaults", defaults, true}, {"10000-unknown-keys", []byte(unknown.String()), false}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.doc)))
			b.ReportAllocs()
			for b.Loop() {
				cfg := DefaultConfig()
				if err := decodeConfig("b.toml", c.doc, &cfg); (err == nil) != c.ok {
					b.Fatal(err)
				}
			}
		})
	}
}
