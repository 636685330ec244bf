package console

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"netspot/core/config"
	"netspot/core/event"
)

var nan = math.NaN()

// window builds the record of the i-th 1 s window of 2025-03-04 09:08.
func window(i int, stats ...event.Stat) *event.Record {
	start := time.Date(2025, 3, 4, 9, 8, i, 0, time.UTC)
	return &event.Record{Start: start, End: start.Add(time.Second), Packets: uint64(100 + i), Stats: stats}
}

func tableLines(t *testing.T, cfg Config, term Terminal, rs ...*event.Record) []string {
	t.Helper()
	var out bytes.Buffer
	s := NewTerminal(cfg, &out, term)
	for _, r := range rs {
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
}

// A table prints a header, a line per window with each value beside the
// threshold it was judged against (those of the window before), and the
// alarms, highlighted.
func TestTable(t *testing.T) {
	learning := window(0, event.Stat{Name: "TRAFFIC", Value: 52.13, Up: nan, Down: nan, Learning: true}, event.Stat{Name: "NB_DST_PORT", Value: 12, Up: nan, Down: nan, Learning: true})
	learning.LearningLeft = 1
	normal := window(1, event.Stat{Name: "TRAFFIC", Value: 49.2, Up: 88.31, Down: 3.1}, event.Stat{Name: "NB_DST_PORT", Value: 11, Up: 28.7, Down: nan})
	alarm := window(2, event.Stat{Name: "TRAFFIC", Value: nan, Up: 88.31, Down: 3.1}, event.Stat{Name: "NB_DST_PORT", Value: 1234, Up: 28.7, Down: nan, AlarmID: "r-1"})
	alarm.Alarms = []event.Alarm{{ID: "r-1", Stat: "NB_DST_PORT", Side: event.Up, Value: 1234, Threshold: 28.7, Probability: 1.23e-7, Start: alarm.Start, End: alarm.End}}
	alarm.Partial, alarm.Dropped = true, 4

	got := tableLines(t, Config{Data: true, Alarm: true, Format: FormatTable}, Terminal{}, learning, normal, alarm)
	want := []string{
		"UTC 2025-03-04  PACKETS  TRAFFIC        NB_DST_PORT",
		"09:08:00            100  52.1           12  (learning, 1 window left)",
		"09:08:01            101  49.2           11",
		"09:08:02            102  -              1234 >28.7 !  (partial, 4 dropped)",
		"ALARM 2025-03-04 09:08:02 NB_DST_PORT up: 1234 > 28.7, probability 1.2e-07, id r-1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Colours only when allowed: the header in bold, alarms in red.
	colored := tableLines(t, Config{Data: true, Alarm: true, Format: FormatTable}, Terminal{IsTerminal: true, Color: true}, learning, normal, alarm)
	if !strings.HasPrefix(colored[0], bold+"UTC") || !strings.Contains(colored[3], red+"1234 >28.7 !"+reset) || !strings.HasPrefix(colored[4], red+"ALARM") {
		t.Errorf("colours missing:\n%q", colored)
	}
	for _, l := range got {
		if strings.Contains(l, "\x1b") {
			t.Errorf("escape sequence without colours: %q", l)
		}
	}

	// Alarms only (the default): no header, the alarm lines.
	if got := tableLines(t, Config{Alarm: true, Format: FormatTable}, Terminal{}, learning, normal, alarm); len(got) != 1 || got[0] != want[4] {
		t.Errorf("alarms only: %q", got)
	}
}

// The header comes back every headerEvery lines, and when the day or the
// statistics change.
func TestTableHeaders(t *testing.T) {
	var rs []*event.Record
	for i := range 45 {
		rs = append(rs, window(i, event.Stat{Name: "R_SYN", Value: 0.5, Up: nan, Down: nan}))
	}
	next := window(0, event.Stat{Name: "R_SYN", Value: 0.25, Up: 0.9, Down: nan})
	next.Start = next.Start.Add(24 * time.Hour)
	other := window(1, event.Stat{Name: "R_SYN", Value: 0.25, Up: 0.9, Down: nan}, event.Stat{Name: "R_ARP", Value: 0, Up: nan, Down: nan})
	other.Start = next.Start.Add(time.Second)
	rs = append(rs, next, other)
	var headers []int
	for i, l := range tableLines(t, Config{Data: true, Format: FormatTable}, Terminal{}, rs...) {
		if strings.HasPrefix(l, "UTC ") {
			headers = append(headers, i)
		}
	}
	// Lines 0, 21, 42 for the 45 windows; then the next day; then R_ARP.
	if want := []int{0, 21, 42, 48, 50}; !equal(headers, want) {
		t.Errorf("headers on lines %v, want %v", headers, want)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCell(t *testing.T) {
	for _, c := range []struct {
		value, up, down float64
		want            string
	}{
		{0.4031, 0.53, nan, "0.403 <0.53"},
		{0.9, 0.53, nan, "0.9 >0.53"},
		{3, nan, 5, "3 <5"},
		{7, nan, 5, "7 >5"},
		{52, 88, 3, "52 [3,88]"},
		{12345.6, nan, nan, "12346"},
		{2.5e6, nan, nan, "2.5e+06"},
		{999.7, 1.5e-5, nan, "1000 >1.5e-05"},
		{nan, 1, 0, "-"},
	} {
		if got := cell(&event.Stat{Value: c.value}, c.up, c.down); got != c.want {
			t.Errorf("cell(%v, up %v, down %v) = %q, want %q", c.value, c.up, c.down, got, c.want)
		}
	}
}

// "auto" is a table on a terminal and JSON elsewhere; an unknown format
// is an error naming the key.
func TestFormats(t *testing.T) {
	r := window(0, event.Stat{Name: "TRAFFIC", Value: 3, Up: nan, Down: nan})
	for _, c := range []struct {
		format string
		term   bool
		json   bool
	}{
		{FormatAuto, false, true}, {FormatAuto, true, false}, {FormatJSON, true, true}, {FormatTable, false, false},
	} {
		got := tableLines(t, Config{Data: true, Format: c.format}, Terminal{IsTerminal: c.term}, r)
		if isJSON := strings.HasPrefix(got[0], "{"); isJSON != c.json {
			t.Errorf("format %q on a terminal %v: %q", c.format, c.term, got)
		}
	}
	var fe *config.FieldError
	if err := (Config{Format: "yaml"}).Validate(); err == nil || !errors.As(err, &fe) || fe.Key != "format" {
		t.Errorf("format yaml: %v", err)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
