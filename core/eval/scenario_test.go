package eval

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"netspot/core/config"
)

func TestParseScenario(t *testing.T) {
	s, err := Parse([]byte(`
description = "office day"
duration = "3h"              # length of the timeline
period = "10s"
[[background]]               # benign captures
file = "office.pcap"
[[background]]
file = "/abs/printer.pcapng"
filter = "not arp"
from = "10s"
to = "2m"
[[attack]]
file = "synscan.pcapng"
at = "2h10m"
label = "syn-scan"
volumetric = true
[[attack]]
file = "scans/udp.pcap"
at = "2h30m"
end = "2h31m"
`), "dir")
	if err != nil {
		t.Fatal(err)
	}
	if s.Duration.D() != 3*time.Hour || s.PeriodOr(time.Second) != 10*time.Second || s.GracePeriods != DefaultGracePeriods || s.Description != "office day" {
		t.Errorf("top level: %+v", s)
	}
	if got := s.path(s.Background[0].File); got != "dir/office.pcap" {
		t.Errorf("relative path resolved to %q, want dir/office.pcap", got)
	}
	if got := s.path(s.Background[1].File); got != "/abs/printer.pcapng" {
		t.Errorf("absolute path resolved to %q", got)
	}
	b := s.Background[1]
	if b.Filter != "not arp" || b.From.D() != 10*time.Second || b.To.D() != 2*time.Minute {
		t.Errorf("background[1]: %+v", b)
	}
	a := s.Attack[0]
	if a.Label != "syn-scan" || a.At.D() != 2*time.Hour+10*time.Minute || !a.Volumetric || a.line != 12 {
		t.Errorf("attack[0]: %+v", a)
	}
	if s.Attack[1].Label != "udp" || s.Attack[1].End.D() != 2*time.Hour+31*time.Minute || s.Attack[1].Volumetric {
		t.Errorf("attack[1]: label %q (want the file's name), end %s", s.Attack[1].Label, s.Attack[1].End)
	}
	if s.Grace(time.Second) != 3*time.Second {
		t.Errorf("grace %s at 1s", s.Grace(time.Second))
	}
}

// TestParseErrors checks that every mistake is reported with its line,
// the entry and the key.
func TestParseErrors(t *testing.T) {
	const bg = "[[background]]\nfile = \"a.pcap\"\n"
	cases := []struct {
		name, doc string
		line      int
		want      string
	}{
		{"syntax", "duration = \"1h\n", 1, "line 1"},
		{"no duration", bg, 0, "duration: missing"},
		{"zero duration", "duration = \"0s\"\n" + bg, 1, "duration: missing or zero"},
		{"huge duration", "duration = \"9000h\"\n" + bg, 1, "longer than the maximum"},
		{"number duration", "duration = 3600\n" + bg, 1, "duration: expected a duration string"},
		{"number durations", "duration = 3600\nperiod = 60\n" + bg + "to = 5\n", 1, "duration: expected a duration string"},
		{"bad duration", "duration = \"3 hours\"\n" + bg, 1, "invalid duration"},
		{"unknown key", "duration = \"1h\"\nspeed = 2\n" + bg, 2, "speed: unknown key"},
		{"unknown entry key", "duration = \"1h\"\n" + bg + "loop = false\n", 4, "background[0].loop: unknown key"},
		{"unknown key of an inline entry", "duration = \"1h\"\nbackground = [{ file = \"a.pcap\" },\n  { file = \"b.pcap\", loop = 1 }]\n", 3, "background[1].loop: unknown key"},
		{"number duration of an inline entry", "duration = \"1h\"\nbackground = [{ file = \"a.pcap\", from = 5 }]\n", 2, "from: expected a duration string"},
		{"no background", "duration = \"1h\"\n", 0, "no [[background]]"},
		{"empty file", "duration = \"1h\"\n[[background]]\nfile = \"\"\n", 3, "background[0].file: missing"},
		{"bad filter", "duration = \"1h\"\n" + bg + "filter = \"port banana\"\n", 4, "background[0].filter:"},
		{"negative from", "duration = \"1h\"\n" + bg + "from = \"-1s\"\n", 4, "from: must not be negative"},
		{"to before from", "duration = \"1h\"\n" + bg + "from = \"1m\"\nto = \"30s\"\n", 5, "to: 30s must come after from = 1m0s"},
		{"period", "duration = \"1h\"\nperiod = \"2h\"\n" + bg, 2, "period: 2h0m0s is longer than the whole timeline"},
		{"tiny period", "duration = \"1h\"\nperiod = \"1us\"\n" + bg, 2, "period: must be at least 1ms"},
		{"grace", "duration = \"1h\"\ngrace_periods = -1\n" + bg, 2, "grace_periods: must be between"},
		{"grace type", "duration = \"1h\"\ngrace_periods = \"3\"\n" + bg, 2, "grace_periods"},
		{"attack without at", "duration = \"1h\"\n" + bg + "[[attack]]\nfile = \"x.pcap\"\nlabel = \"x\"\n", 4, "attack[0].at: missing"},
		{"attack outside", "duration = \"1h\"\n" + bg + "[[attack]]\nfile = \"x.pcap\"\nat = \"2h\"\n", 6, "attack[0].at: 2h0m0s is not inside the 1h0m0s timeline"},
		{"attack negative", "duration = \"1h\"\n" + bg + "[[attack]]\nfile = \"x.pcap\"\nat = \"-2m\"\n", 6, "at: must not be negative"},
		{"end before at", "duration = \"1h\"\n" + bg + "[[attack]]\nfile = \"x.pcap\"\nat = \"20m\"\nend = \"10m\"\n", 7, "end: 10m0s must come after at = 20m0s"},
		{"end outside", "duration = \"1h\"\n" + bg + "[[attack]]\nfile = \"x.pcap\"\nat = \"20m\"\nend = \"70m\"\n", 7, "end: 1h10m0s is past the end"},
		{"duplicate label", "duration = \"1h\"\n" + bg + "[[attack]]\nfile = \"x.pcap\"\nat = \"20m\"\n[[attack]]\nfile = \"y/x.pcapng\"\nat = \"30m\"\n", 7, `attack[1].label: "x" is also the label of attack[0]`},
		{"attack file missing", "duration = \"1h\"\n" + bg + "[[attack]]\nat = \"20m\"\nlabel = \"x\"\n", 4, "attack[0].file: missing"},
		{"wrong type", "duration = \"1h\"\n" + bg + "[[attack]]\nfile = \"x.pcap\"\nat = \"20m\"\nvolumetric = \"yes\"\n", 7, "volumetric"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), "")
			if err == nil {
				t.Fatalf("no error for\n%s", c.doc)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			ps := config.AsProblems(err)
			if len(ps) == 0 {
				t.Fatalf("error %T is not a configuration problem", err)
			}
			if ps[0].Line != c.line {
				t.Errorf("error %q at line %d, want %d", err, ps[0].Line, c.line)
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.toml")
	if err == nil || !strings.Contains(err.Error(), "does-not-exist.toml") {
		t.Errorf("Load of a missing file: %v", err)
	}
}

// FuzzParse feeds arbitrary documents to the scenario parser: it must never
// panic, and what it accepts must be valid.
func FuzzParse(f *testing.F) {
	f.Add([]byte("duration = \"3h\"\n[[background]]\nfile = \"a.pcap\"\n[[attack]]\nfile = \"b.pcap\"\nat = \"2h\"\nlabel = \"x\"\nvolumetric = true\n"))
	f.Add([]byte("duration = \"1h\"\nperiod = \"1m\"\ngrace_periods = 5\n[[background]]\nfile = \"a\"\nfilter = \"tcp and port 80\"\nfrom = \"1s\"\nto = \"1m\"\n"))
	f.Add([]byte("duration = 5\n"))
	f.Add([]byte("[[attack]]\nat = \"-1s\"\nend = \"0s\"\n"))
	f.Add([]byte("duration = \"1h\"\n[[background]]\nfile = \"\\u0000\"\n"))
	f.Add([]byte("a = [1, {b = 2}]\n[x.y]\n[[x.z]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, "d")
		if err != nil {
			if err.Error() == "" {
				t.Error("empty error message")
			}
			return
		}
		if s.Duration <= 0 || len(s.Background) == 0 {
			t.Errorf("accepted a scenario without duration or background: %+v", s)
		}
		for _, a := range s.Attack {
			if a.At < 0 || a.At >= s.Duration || a.Label == "" {
				t.Errorf("accepted attack %+v in a %s timeline", a, s.Duration)
			}
		}
	})
}

// BenchmarkParseUnknownKeys: a scenario of 10 000 unknown keys is refused
// in one pass over the document.
func BenchmarkParseUnknownKeys(b *testing.B) {
	var doc strings.Builder
	doc.WriteString("duration = \"1h\"\n[[background]]\nfile = \"a.pcap\"\n")
	for i := range 10000 {
		fmt.Fprintf(&doc, "key%d = 1\n", i)
	}
	data := []byte(doc.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, ""); err == nil {
			b.Fatal("accepted")
		}
	}
}
