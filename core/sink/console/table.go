package console

import (
	"math"
	"strconv"
	"strings"
	"unicode"

	"netspot/core/event"
)

// The table format, for a person at a terminal: a header naming the
// statistics, then one line per window with each statistic's value beside
// the threshold it was judged against, and a line per alarm:
//
//	UTC 2025-03-04  PACKETS  TRAFFIC        R_SYN          NB_DST_PORT
//	09:07:59            112  49.2 <88.3     0.41 <0.53     12 <28.7
//	09:08:00            119  52.1 <88.3     0.4 <0.53      53 >28.7 !
//	ALARM 2025-03-04 09:08:00 NB_DST_PORT up: 53 > 28.7, probability 1.2e-07, id 0e2ff4d80f3a-1
//
// "v <t" is a value below its upper threshold t, "v >t" above its lower
// one (or, marked "!", above its upper one: an alarm), "v [d,u]" a value
// watched on both sides; a value alone is still learning or not judged,
// "-" is undefined (0/0). Alarms are in bold red when colours are allowed.
// The header comes again every headerEvery lines, when the date changes
// and when the statistics change.

// headerEvery is how many window lines go between two headers.
const headerEvery = 20

// cellWidth is the narrowest column of a statistic.
const cellWidth = 13

// ANSI escape sequences.
const (
	bold  = "\x1b[1m"
	red   = "\x1b[1;31m"
	reset = "\x1b[0m"
)

// table formats Records as lines of text. It remembers the header it
// printed and the thresholds of the last window, which judge the next.
type table struct {
	color bool
	names []string // statistics of the last header
	day   string   // date of the last header
	lines int      // window lines since the header
	prev  map[string][2]float64
}

// append appends the lines of r: its window line with data, its alarms
// with alarms.
func (t *table) append(b []byte, r *event.Record, data, alarms bool) []byte {
	if data {
		b = t.appendWindow(b, r)
	}
	if t.prev == nil {
		t.prev = make(map[string][2]float64, len(r.Stats))
	}
	for _, s := range r.Stats {
		t.prev[s.Name] = [2]float64{s.Up, s.Down}
	}
	if alarms {
		for i := range r.Alarms {
			b = t.appendAlarm(b, &r.Alarms[i])
		}
	}
	return b
}

func (t *table) appendWindow(b []byte, r *event.Record) []byte {
	day := r.Start.UTC().Format("2006-01-02")
	if t.lines%headerEvery == 0 || day != t.day || !sameNames(t.names, r.Stats) {
		t.day, t.lines = day, 0
		t.names = t.names[:0]
		for _, s := range r.Stats {
			t.names = append(t.names, s.Name)
		}
		b = t.paint(b, bold)
		b = pad(b, "UTC "+day, 14)
		b = append(b, "  PACKETS"...)
		for _, n := range t.names {
			b = append(b, "  "...)
			b = pad(b, n, max(cellWidth, len(n)))
		}
		b = t.paint(trimRight(b), reset)
		b = append(b, '\n')
	}
	t.lines++
	b = pad(b, r.Start.UTC().Format("15:04:05"), 14)
	b = append(b, "  "...)
	n := strconv.FormatUint(r.Packets, 10)
	b = append(b, strings.Repeat(" ", max(0, 7-len(n)))...)
	b = append(b, n...)
	for i := range r.Stats {
		s := &r.Stats[i]
		prev, ok := t.prev[s.Name]
		if !ok {
			prev = [2]float64{math.NaN(), math.NaN()}
		}
		c := cell(s, prev[0], prev[1])
		b = append(b, "  "...)
		if s.AlarmID != "" {
			b = t.paint(b, red)
			b = append(b, c...)
			b = append(b, " !"...)
			b = t.paint(b, reset)
			c += " !"
		} else {
			b = append(b, c...)
		}
		b = append(b, strings.Repeat(" ", max(0, max(cellWidth, len(s.Name))-len(c)))...)
	}
	b = trimRight(b)
	var notes []string
	if r.Partial {
		notes = append(notes, "partial")
	}
	if r.LearningLeft > 0 {
		w := " windows left"
		if r.LearningLeft == 1 {
			w = " window left"
		}
		notes = append(notes, "learning, "+strconv.Itoa(r.LearningLeft)+w)
	}
	if r.Dropped > 0 {
		notes = append(notes, strconv.FormatUint(r.Dropped, 10)+" dropped")
	}
	if r.Malformed > 0 {
		notes = append(notes, strconv.FormatUint(r.Malformed, 10)+" malformed")
	}
	if r.CaptureErr != "" {
		notes = append(notes, "capture failing: "+printable(r.CaptureErr))
	}
	if len(notes) > 0 {
		b = append(b, "  ("...)
		b = append(b, strings.Join(notes, ", ")...)
		b = append(b, ')')
	}
	return append(b, '\n')
}

func (t *table) appendAlarm(b []byte, a *event.Alarm) []byte {
	rel := " > "
	if a.Side == event.Down {
		rel = " < "
	}
	b = t.paint(b, red)
	b = append(b, "ALARM "...)
	b = append(b, a.Start.UTC().Format("2006-01-02 15:04:05")...)
	b = append(b, ' ')
	b = append(b, printable(a.Stat)...)
	b = append(b, ' ')
	b = append(b, a.Side.String()...)
	b = append(b, ": "...)
	b = append(b, num(a.Value)...)
	b = append(b, rel...)
	b = append(b, num(a.Threshold)...)
	if !math.IsNaN(a.Probability) {
		b = append(b, ", probability "...)
		b = strconv.AppendFloat(b, a.Probability, 'g', 2, 64)
	}
	b = append(b, ", id "...)
	b = append(b, printable(a.ID)...)
	b = t.paint(b, reset)
	return append(b, '\n')
}

// cell is a statistic's value beside the thresholds up and down that
// judged it (NaN when a side was not watched or still learning).
func cell(s *event.Stat, up, down float64) string {
	v := num(s.Value)
	if math.IsNaN(s.Value) {
		return v
	}
	switch hasUp, hasDown := !math.IsNaN(up), !math.IsNaN(down); {
	case hasUp && hasDown:
		return v + " [" + num(down) + "," + num(up) + "]"
	case hasUp && s.Value > up:
		return v + " >" + num(up)
	case hasUp:
		return v + " <" + num(up)
	case hasDown && s.Value < down:
		return v + " <" + num(down)
	case hasDown:
		return v + " >" + num(down)
	}
	return v
}

// num writes x in at most about 7 characters: three significant digits,
// whole numbers from 100 to a million, "-" for NaN.
func num(x float64) string {
	a := math.Abs(x)
	switch {
	case math.IsNaN(x):
		return "-"
	case math.IsInf(x, 0):
		return strconv.FormatFloat(x, 'f', -1, 64)
	case a >= 100 && a < 1e6:
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}

func (t *table) paint(b []byte, code string) []byte {
	if t.color {
		b = append(b, code...)
	}
	return b
}

func pad(b []byte, s string, width int) []byte {
	b = append(b, s...)
	return append(b, strings.Repeat(" ", max(0, width-len(s)))...)
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

func sameNames(names []string, stats []event.Stat) bool {
	if len(names) != len(stats) {
		return false
	}
	for i := range stats {
		if names[i] != stats[i].Name {
			return false
		}
	}
	return true
}

// printable replaces the control characters of s, so that text from
// outside (an error of the system) cannot drive the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}
