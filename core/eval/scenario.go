package eval

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"netspot/core/capture/filter"
	"netspot/core/config"
)

// Limits of a scenario file. They bound what a mistaken or hostile file can
// make the evaluation open, hold or compute.
const (
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

// problem locates a mistake in a scenario at its entry's line, named by
// the entry (`attack "syn-scan"`, `background[1]`) and, when one key is
// concerned, the key: "office.toml:14: attack "syn-scan": at: 7h is past
// the end".
func problem(s *Scenario, line int, entry, key string, err error) *config.Problem {
	if key != "" {
		entry += ": " + key
	}
	return &config.Problem{File: s.Path, Line: line, Key: entry, Err: err}
}

// Load reads and validates a scenario file. Relative capture paths are
// resolved against the file's directory. Problems are config.Problems,
// each at its key and line.
func Load(path string) (*Scenario, error) {
	doc, err := config.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := decode(doc, filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	s.Path = path
	return s, nil
}

// Parse reads a scenario from TOML; dir is where relative capture paths
// are resolved.
func Parse(data []byte, dir string) (*Scenario, error) {
	doc, err := config.Parse("", data)
	if err != nil {
		return nil, err
	}
	return decode(doc, dir)
}

func decode(doc *config.Document, dir string) (*Scenario, error) {
	s := &Scenario{GracePeriods: DefaultGracePeriods, Dir: dir}
	if err := doc.Decode(config.Section{Value: s}); err != nil {
		return nil, err
	}
	for i := range s.Background {
		s.Background[i].line = doc.Line(entryKey("background", i))
	}
	for i := range s.Attack {
		s.Attack[i].line = doc.Line(entryKey("attack", i))
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

// Validate checks the scenario; errors are config.FieldErrors naming the
// key ("attack[2].at"), all of them.
func (s *Scenario) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, config.Errorf(key, format, args...))
	}
	switch {
	case s.Duration == 0:
		bad("duration", "missing or zero: give the length of the timeline, e.g. duration = \"3h\"")
	case s.Duration < 0:
		bad("duration", "must be positive, got %s", s.Duration)
	case s.Duration.D() > MaxDuration:
		bad("duration", "%s is longer than the maximum of %s", s.Duration, MaxDuration)
	}
	switch {
	case s.Period < 0:
		bad("period", "must be positive, got %s", s.Period)
	case s.Period > 0 && s.Period.D() < time.Millisecond:
		bad("period", "must be at least 1ms, got %s", s.Period)
	case s.Duration > 0 && s.Period.D() > s.Duration.D():
		bad("period", "%s is longer than the whole timeline (%s)", s.Period, s.Duration)
	}
	if s.GracePeriods < 0 || s.GracePeriods > MaxGracePeriods {
		bad("grace_periods", "must be between 0 and %d, got %d", MaxGracePeriods, s.GracePeriods)
	}
	switch {
	case len(s.Background) == 0:
		bad("background", "no [[background]] capture: a timeline needs benign traffic to learn from")
	case len(s.Background) > MaxBackgrounds:
		bad("background", "%d backgrounds, at most %d", len(s.Background), MaxBackgrounds)
	}
	if len(s.Attack) > MaxAttacks {
		bad("attack", "%d attacks, at most %d", len(s.Attack), MaxAttacks)
		return errors.Join(errs...)
	}
	for i := range s.Background {
		errs = append(errs, config.Within(entryKey("background", i), s.Background[i].Source.validate()))
	}
	labels := make(map[string]int)
	for i := range s.Attack {
		a := &s.Attack[i]
		key := entryKey("attack", i)
		at := func(k, format string, args ...any) { bad(key+"."+k, format, args...) }
		if a.Label == "" {
			base := filepath.Base(a.File)
			a.Label = strings.TrimSuffix(base, filepath.Ext(base))
		}
		errs = append(errs, config.Within(key, a.Source.validate()))
		if j, dup := labels[a.Label]; dup {
			at("label", "%q is also the label of attack[%d]: labels name attacks in the report and must differ", a.Label, j)
		}
		labels[a.Label] = i
		if strings.ContainsAny(a.Label, "\x00\n\r\t") {
			at("label", "contains control characters")
		}
		switch {
		case a.At == 0:
			at("at", "missing: give its offset from the timeline's start, e.g. at = \"2h10m\"")
		case a.At < 0:
			at("at", "must not be negative, got %s", a.At)
		case s.Duration > 0 && a.At >= s.Duration:
			at("at", "%s is not inside the %s timeline", a.At, s.Duration)
		case a.End != 0 && a.End <= a.At:
			at("end", "%s must come after at = %s", a.End, a.At)
		case s.Duration > 0 && a.End > s.Duration:
			at("end", "%s is past the end of the %s timeline", a.End, s.Duration)
		}
	}
	return errors.Join(errs...)
}

func (src *Source) validate() error {
	at := func(k, format string, args ...any) error { return config.Errorf(k, format, args...) }
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

func entryKey(table string, i int) string { return table + "[" + strconv.Itoa(i) + "]" }
