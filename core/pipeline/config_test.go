package pipeline

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"netspot/core/config"
	"netspot/core/sink"
	"netspot/core/sink/console"
	"netspot/core/sink/file"
	"netspot/core/sink/prometheus"
)

func coreFactories() []sink.Factory {
	return []sink.Factory{console.Factory(), file.Factory(), prometheus.Factory()}
}

func decode(t testing.TB, doc string) (*Config, error) {
	t.Helper()
	d, err := config.Parse("t.toml", []byte(doc))
	if err != nil {
		return nil, err
	}
	c := New(coreFactories()...)
	return c, d.Decode(c.Sections()...)
}

// The rendered defaults are a valid config file that loads back to
// exactly the defaults, with every key documented.
func TestDefaultsRenderAndLoadBack(t *testing.T) {
	var b bytes.Buffer
	if err := config.Render(&b, New(coreFactories()...).Sections()...); err != nil {
		t.Fatal(err)
	}
	got, err := decode(t, b.String())
	if err != nil {
		t.Fatalf("defaults do not load: %v\n%s", err, b.String())
	}
	if want := New(coreFactories()...); !reflect.DeepEqual(config.ToMap(got.Sections()...), config.ToMap(want.Sections()...)) {
		t.Errorf("defaults loaded as\n%v\nwant\n%v", config.ToMap(got.Sections()...), config.ToMap(want.Sections()...))
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "[") {
			continue
		}
		if i == 0 || !strings.HasPrefix(lines[i-1], "#") {
			t.Errorf("key without a comment: %q", l)
		}
	}
}

func TestProblemsNameKeyAndLine(t *testing.T) {
	for _, c := range []struct {
		doc, want string
	}{
		{"[spot]\nq = \"x\"\n", `t.toml:2: spot.q: expected a number, got the string "x"`},
		{"[spot]\n\nfoo = 1\n", `t.toml:3: spot.foo: unknown key`},
		{"[spot]\nnint = 1\n", `t.toml:2: spot.nint: unknown key (did you mean n_init?)`},
		{"[spot.R_SYN]\nfoo = 1\n", `t.toml:2: spot.R_SYN.foo: unknown key`},
		{"[spot.NOPE]\nq = 0.1\n", `t.toml:1: spot.NOPE: unknown statistic`},
		{"[spot]\nq = 2.0\n", `t.toml:2: spot.q:`},
		{"[spot.R_SYN]\nlevel = 1.5\n", `t.toml:2: spot.R_SYN.level:`},
		{"[analyzer]\nperiod = 5\n", `t.toml:2: analyzer.period: expected a duration string`},
		{"[analyzer]\nperiod = \"5x\"\n", `t.toml:2: analyzer.period: invalid duration "5x"`},
		{"[analyzer]\nstats = [\"R_SYN\", \"NOPE\"]\n", `t.toml:2: analyzer.stats: unknown statistic "NOPE"`},
		{"[analyzer]\nstats = [\"R_SYN\", \"R_SYN\"]\n", `t.toml:2: analyzer.stats: statistic R_SYN is listed twice`},
		{"\n[analyzer\n", `t.toml:2: `},
		{"[nope]\nx = 1\n", `t.toml:1: nope: unknown key`},
		{"[exporter.file]\ndata = \"%s-%s\"\n", `t.toml:2: exporter.file.data:`},
		{"[spot]\nn_init = 1.5\n", `t.toml:2: spot.n_init: expected an integer, got the number 1.5`},
		{"spot = 5\n", `t.toml:1: spot: expected a table, got the integer 5`},
		{"[exporter.consol]\n", `t.toml:1: exporter.consol: unknown key (did you mean console?)`},
	} {
		_, err := decode(t, c.doc)
		if config.AsProblems(err) == nil {
			t.Errorf("%q: got %v, want configuration problems", c.doc, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q:\n got %s\nwant %s…", c.doc, err, c.want)
		}
	}
}

// Every problem of a file is reported at once.
func TestAllProblemsAtOnce(t *testing.T) {
	_, err := decode(t, "[miner]\nsnapshot_len = 1\n[analyzer]\nperiod = \"0s\"\n[spot]\nq = 3\n")
	ps := config.AsProblems(err)
	if len(ps) != 3 || ps[0].Key != "miner.snapshot_len" || ps[1].Key != "analyzer.period" || ps[2].Key != "spot.q" {
		t.Errorf("problems: %v", err)
	}
}

func TestSpotOverrides(t *testing.T) {
	cfg, err := decode(t, "[spot]\nq = 1e-3\n[spot.R_SYN]\nq = 1e-5\nup = false\ndown = true\n[spot.TRAFFIC]\n")
	if err != nil {
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
	cfg, err = decode(t, "spot.R_SYN.q = 1e-3\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Spot.For("R_SYN").Q != 1e-3 {
		t.Errorf("dotted override ignored: %+v", cfg.Spot.PerStat)
	}
}

func TestPartialFileKeepsDefaults(t *testing.T) {
	cfg, err := decode(t, "[analyzer]\nperiod = \"500ms\"\n")
	if err != nil {
		t.Fatal(err)
	}
	want := New(coreFactories()...)
	want.Analyzer.Period = cfg.Analyzer.Period
	if !reflect.DeepEqual(config.ToMap(cfg.Sections()...), config.ToMap(want.Sections()...)) || cfg.Analyzer.Period.String() != "500ms" {
		t.Errorf("got %+v", cfg)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	a := New(coreFactories()...)
	b := a.Clone()
	b.Analyzer.Stats = append(b.Analyzer.Stats, "R_SYN")
	b.Sink("console").(*console.Config).Data = true
	if len(a.Analyzer.Stats) != 0 || a.Sink("console").(*console.Config).Data {
		t.Error("the clone shares memory with the original")
	}
}

func FuzzConfig(f *testing.F) {
	var b bytes.Buffer
	_ = config.Render(&b, New(coreFactories()...).Sections()...)
	f.Add(b.String())
	f.Add("[spot.R_SYN]\nq = 1e-5\n")
	f.Add("spot.R_SYN.q = 1e-3\n[analyzer]\nperiod = \"1s\"\n")
	f.Fuzz(func(t *testing.T, doc string) {
		cfg, err := decode(t, doc)
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("accepted a config that does not validate: %v", verr)
			}
		} else if config.AsProblems(err) == nil {
			t.Fatalf("error %v is not a configuration problem", err)
		}
	})
}

// BenchmarkDecodeConfig: the complete default file, and a file of 10 000
// unknown keys.
func BenchmarkDecodeConfig(b *testing.B) {
	var defaults bytes.Buffer
	if err := config.Render(&defaults, New(coreFactories()...).Sections()...); err != nil {
		b.Fatal(err)
	}
	var unknown strings.Builder
	unknown.WriteString("[spot]\n")
	for i := range 10000 {
		fmt.Fprintf(&unknown, "key%d = 1\n", i)
	}
	for _, c := range []struct {
		name string
		doc  string
		ok   bool
	}{{"defaults", defaults.String(), true}, {"10000-unknown-keys", unknown.String(), false}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decode(b, c.doc); (err == nil) != c.ok {
					b.Fatal(err)
				}
			}
		})
	}
}
