package eval

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"netspot/core/capture/filter"
	"netspot/core/config"
	"netspot/core/config/tomlkeys"
)

// Limits of a scenario file. They bound what a mistaken or hostile file can
// make the evaluation open, hold or compute.
const (
	MaxScenarioSize = 1 << 20
	MaxDuration     = 366 * 24 * time.Hour
	MaxBackgrounds  = 64
	MaxAttacks      = 1024
	MaxGracePeriods = 1000
	// DefaultGracePeriods is how many periods after an attack's window an
	// alarm is still put down to the attack rather than counted as false:
	// the window that holds its last packets is judged one period later,
	// and replies or retransmissions trail for a little longer.
	DefaultGracePeriods = 3
)

// Scenario is a labelled timeline: benign captures looped to fill the
// duration, and attack captures injected at offsets from its start.
type Scenario struct {
	Description string          `toml:"description"`
	Duration    config.Duration `toml:"duration"`
	// Period, when set, is the period this timeline is meant to be judged
	// at (sparse traffic needs longer windows); it replaces the config's.
	Period       config.Duration `toml:"period"`
	GracePeriods int             `toml:"grace_periods"`
	Background   []Background    `toml:"background"`
	Attack       []Attack        `toml:"attack"`

	// Path is the file the scenario was read from ("" when parsed from
	// memory); relative capture paths are resolved against Dir.
	Path string `toml:"-"`
	Dir  string `toml:"-"`
}

// Source is what the background and attack entries share: a capture file
// and the part of it to use.
type Source struct {
	File   string `toml:"file"`
	Filter string `toml:"filter"`
	// From and To clip the capture: only packets between From and To after
	// its first packet are used (To 0: up to the end).
	From config.Duration `toml:"from"`
	To   config.Duration `toml:"to"`

	line int // of the entry's [[...]] header, for errors
}

// Background is a benign capture, looped with shifted timestamps to fill
// the timeline.
type Background struct {
	Source
}

// Attack is a capture injected at an offset from the timeline's start. Its
// window runs from its first to its last packet after shifting, or to End.
type Attack struct {
	Source
	At    config.Duration `toml:"at"`
	End   config.Duration `toml:"end"`
	Label string          `toml:"label"`
	// Volumetric marks attacks that change traffic volumes or proportions
	// at the scale of one period (floods, scans, sweeps): netspot aims to
	// flag them within two periods of their start.
	Volumetric bool `toml:"volumetric"`
}

// Error is a problem with a scenario, located at the entry and line that
// hold it: "office.toml:14: attack "syn-scan": at: 7h is past the end".
type Error struct {
	File  string // scenario file; "" when parsed from memory
	Line  int    // 0 when unknown
	Entry string // `attack "syn-scan"`, `background[1]`, or "" for the top level
	Key   string // key within the entry, "" when the whole entry is concerned
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Entry != "" {
		b.WriteString(e.Entry)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads and validates a scenario file. Relative capture paths are
// resolved against the file's directory.
func Load(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxScenarioSize+1))
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	if len(data) > MaxScenarioSize {
		return nil, &Error{File: path, Err: fmt.Errorf("larger than %d bytes: not a scenario", MaxScenarioSize)}
	}
	s, err := Parse(data, filepath.Dir(path))
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			se.File = path
		}
		return nil, err
	}
	s.Path = path
	return s, nil
}

// Parse reads a scenario from TOML. Unknown keys, wrong types and bad values
// are errors that name the entry, the key and the line. dir is where
// relative capture paths are resolved.
func Parse(data []byte, dir string) (*Scenario, error) {
	lines, err := tomlkeys.Lines(data)
	if err != nil {
		var se *tomlkeys.SyntaxError
		if errors.As(err, &se) {
			return nil, &Error{Line: se.Line, Err: errors.New(se.Message)}
		}
		return nil, &Error{Err: err}
	}
	pos := &positionMap{lines: lines}
	if err := pos.checkDurations(); err != nil {
		return nil, err
	}
	// Unknown keys are found here, in one pass: the decoder's strict mode
	// would find them too, but rescans the document for each.
	if unknown := tomlkeys.Unknown(lines, reflect.TypeFor[Scenario]()); len(unknown) > 0 {
		return nil, &Error{Line: lines[unknown[0]].Line, Key: withoutIndexes(unknown[0]), Err: errUnknownKey}
	}
	s := &Scenario{GracePeriods: DefaultGracePeriods, Dir: dir}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(s); err != nil {
		return nil, pos.decodeError(err)
	}
	for i := range s.Background {
		s.Background[i].line = pos.lines[entryKey("background", i)].Line
	}
	for i := range s.Attack {
		s.Attack[i].line = pos.lines[entryKey("attack", i)].Line
	}
	if err := s.validate(pos); err != nil {
		return nil, err
	}
	return s, nil
}

// Grace is how long after an attack's window its alarms still count as
// detections at the given period.
func (s *Scenario) Grace(period time.Duration) time.Duration {
	return time.Duration(s.GracePeriods) * period
}

// PeriodOr returns the scenario's period, or def when it sets none.
func (s *Scenario) PeriodOr(def time.Duration) time.Duration {
	if s.Period > 0 {
		return s.Period.D()
	}
	return def
}

// Name is the scenario's file name without extension, or "scenario".
func (s *Scenario) Name() string {
	if s.Path == "" {
		return "scenario"
	}
	base := filepath.Base(s.Path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// path resolves a capture path against the scenario's directory.
func (s *Scenario) path(file string) string {
	if filepath.IsAbs(file) || s.Dir == "" {
		return file
	}
	return filepath.Join(s.Dir, file)
}

// backgroundName and attackName name entries in errors and reports.
func backgroundName(i int) string { return fmt.Sprintf("background[%d]", i) }
func attackName(a *Attack) string { return fmt.Sprintf("attack %q", a.Label) }

func (s *Scenario) validate(pos *positionMap) error {
	top := func(key, format string, args ...any) error {
		return &Error{Line: pos.lines[key].Line, Key: key, Err: fmt.Errorf(format, args...)}
	}
	switch {
	case s.Duration <= 0:
		if _, ok := pos.lines["duration"]; !ok {
			return top("duration", "missing: give the length of the timeline, e.g. duration = \"3h\"")
		}
		return top("duration", "must be positive, got %s", s.Duration)
	case s.Duration.D() > MaxDuration:
		return top("duration", "%s is longer than the maximum of %s", s.Duration, MaxDuration)
	case s.Period < 0:
		return top("period", "must be positive, got %s", s.Period)
	case s.Period > 0 && s.Period.D() < time.Millisecond:
		return top("period", "must be at least 1ms, got %s", s.Period)
	case s.Period.D() > s.Duration.D():
		return top("period", "%s is longer than the whole timeline (%s)", s.Period, s.Duration)
	case s.GracePeriods < 0 || s.GracePeriods > MaxGracePeriods:
		return top("grace_periods", "must be between 0 and %d, got %d", MaxGracePeriods, s.GracePeriods)
	case len(s.Background) == 0:
		return top("background", "no [[background]] capture: a timeline needs benign traffic to learn from")
	case len(s.Background) > MaxBackgrounds:
		return top("background", "%d backgrounds, at most %d", len(s.Background), MaxBackgrounds)
	case len(s.Attack) > MaxAttacks:
		return top("attack", "%d attacks, at most %d", len(s.Attack), MaxAttacks)
	}
	for i := range s.Background {
		b := &s.Background[i]
		if err := b.Source.validate(pos, entryKey("background", i)); err != nil {
			return withEntry(err, backgroundName(i))
		}
	}
	labels := make(map[string]int)
	for i := range s.Attack {
		a := &s.Attack[i]
		key := entryKey("attack", i)
		if a.Label == "" {
			if _, ok := pos.lines[key+".label"]; ok {
				return &Error{Line: a.line, Entry: fmt.Sprintf("attack[%d]", i), Key: "label", Err: errors.New("empty")}
			}
			base := filepath.Base(a.File)
			a.Label = strings.TrimSuffix(base, filepath.Ext(base))
		}
		entry := attackName(a)
		if err := a.Source.validate(pos, key); err != nil {
			return withEntry(err, entry)
		}
		at := func(k, format string, args ...any) error {
			return &Error{Line: pos.line(key, k), Entry: entry, Key: k, Err: fmt.Errorf(format, args...)}
		}
		if j, dup := labels[a.Label]; dup {
			return at("label", "also the label of attack[%d] (line %d): labels name attacks in the report and must differ", j, s.Attack[j].line)
		}
		labels[a.Label] = i
		if strings.ContainsAny(a.Label, "\x00\n\r\t") {
			return at("label", "contains control characters")
		}
		if _, ok := pos.lines[key+".at"]; !ok {
			return at("at", "missing: give its offset from the timeline's start, e.g. at = \"2h10m\"")
		}
		switch {
		case a.At < 0:
			return at("at", "must not be negative, got %s", a.At)
		case a.At >= s.Duration:
			return at("at", "%s is not inside the %s timeline", a.At, s.Duration)
		case a.End != 0 && a.End <= a.At:
			return at("end", "%s must come after at = %s", a.End, a.At)
		case a.End > s.Duration:
			return at("end", "%s is past the end of the %s timeline", a.End, s.Duration)
		}
	}
	return nil
}

func (src *Source) validate(pos *positionMap, key string) error {
	at := func(k, format string, args ...any) error {
		return &Error{Line: pos.line(key, k), Key: k, Err: fmt.Errorf(format, args...)}
	}
	switch {
	case strings.TrimSpace(src.File) == "":
		return at("file", "missing: give the path of a pcap or pcapng capture (relative to the scenario file)")
	case strings.ContainsRune(src.File, 0):
		return at("file", "contains a NUL byte")
	case src.From < 0:
		return at("from", "must not be negative, got %s", src.From)
	case src.To < 0:
		return at("to", "must not be negative, got %s", src.To)
	case src.To != 0 && src.To <= src.From:
		return at("to", "%s must come after from = %s", src.To, src.From)
	}
	if _, err := filter.Parse(src.Filter); err != nil {
		return at("filter", "%v", err)
	}
	return nil
}

// withEntry names the entry in an *Error that lacks it.
func withEntry(err error, entry string) error {
	var e *Error
	if errors.As(err, &e) && e.Entry == "" {
		e.Entry = entry
	}
	return err
}

func entryKey(table string, i int) string { return table + "[" + strconv.Itoa(i) + "]" }

// positionMap locates the keys of a document: "duration", "attack[2]" (the
// [[attack]] header) and "attack[2].at".
type positionMap struct {
	lines map[string]tomlkeys.Key
}

// line returns the line of key within entry, or the entry's own line.
func (p *positionMap) line(entry, key string) int {
	if l, ok := p.lines[entry+"."+key]; ok {
		return l.Line
	}
	return p.lines[entry].Line
}

// withoutIndexes writes an entry's key as the decoder does:
// "attack[2].at" is "attack.at".
func withoutIndexes(key string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(key, '[')
		j := strings.IndexByte(key, ']')
		if i < 0 || j < i {
			b.WriteString(key)
			return b.String()
		}
		b.WriteString(key[:i])
		key = key[j+1:]
	}
}

var errUnknownKey = errors.New("unknown key (known: description, duration, period, grace_periods, [[background]] file/filter/from/to, [[attack]] file/filter/from/to/at/end/label/volumetric)")

// isDurationKey reports whether a key (the last part of a dotted one)
// holds a duration, which must be a string with a unit: a bare number
// would be read as nanoseconds, which no one means.
func isDurationKey(key string) bool {
	switch key {
	case "duration", "period", "at", "end", "from", "to":
		return true
	}
	return false
}

// checkDurations reports the first duration (in the file's order) written
// as something else than a string.
func (p *positionMap) checkDurations() error {
	var bad *Error
	for key, kp := range p.lines {
		entry, k := "", key
		if i := strings.LastIndexByte(key, '.'); i >= 0 {
			entry, k = key[:i], key[i+1:]
		}
		if !isDurationKey(k) || kp.Kind == unstable.String || kp.Kind == unstable.Table || kp.Kind == unstable.ArrayTable {
			continue
		}
		if bad == nil || kp.Line < bad.Line {
			bad = &Error{Line: kp.Line, Entry: entry, Key: k, Err: errors.New(`expected a duration string with a unit, such as "90s" or "2h10m"`)}
		}
	}
	if bad == nil {
		return nil
	}
	return bad
}

// decodeError locates a go-toml decoding error.
func (p *positionMap) decodeError(err error) error {
	var (
		strict *toml.StrictMissingError
		dec    *toml.DecodeError
	)
	switch {
	case errors.As(err, &strict) && len(strict.Errors) > 0:
		e := &strict.Errors[0]
		row, _ := e.Position()
		return &Error{Line: row, Key: strings.Join(e.Key(), "."), Err: errUnknownKey}
	case errors.As(err, &dec):
		row, _ := dec.Position()
		msg := strings.TrimPrefix(dec.Error(), "toml: ")
		if i := strings.Index(msg, " into struct field "); i >= 0 {
			msg = msg[:i]
		}
		return &Error{Line: row, Key: strings.Join(dec.Key(), "."), Err: errors.New(msg)}
	}
	return &Error{Err: err}
}
