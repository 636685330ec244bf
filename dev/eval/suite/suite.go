// Package suite runs netspot's detection suites: the labelled scenarios of
// dev/eval, the generated ones (whose captures it writes with the project's
// traffic generator) and the ones built from real captures, each split into
// a tuning part, used to choose netspot's defaults, and a held-out part,
// reported separately.
package suite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"netspot/core/analyzer"
	"netspot/core/capture"
	"netspot/core/config"
	"netspot/core/eval"
	"netspot/core/miner"
	"netspot/core/pipeline"
	"netspot/dev/trafficgen"
)

// Capture is one generated capture of the suite: a traffic generator
// scenario, written whole (a background) or with only the attacks' packets
// (an attack capture, as real attack captures are).
type Capture struct {
	File        string `toml:"file"`
	AttacksOnly bool   `toml:"attacks_only"`
	trafficgen.Config
}

// LoadCaptures reads the manifest of generated captures.
func LoadCaptures(path string) ([]Capture, error) {
	var doc struct {
		Capture []Capture `toml:"capture"`
	}
	f, err := config.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := f.Decode(config.Section{Value: &doc}); err != nil {
		return nil, err
	}
	def := trafficgen.DefaultConfig()
	for i := range doc.Capture {
		c := &doc.Capture[i]
		if c.File == "" || strings.ContainsAny(c.File, `/\`) {
			return nil, fmt.Errorf("%s: capture[%d]: file must be a plain file name, got %q", path, i, c.File)
		}
		if c.Start.IsZero() {
			c.Start = def.Start
		}
		if c.Output.Format == "" {
			c.Output.Format = "pcapng"
		}
		if c.Output.LinkType == "" {
			c.Output.LinkType = "ether"
		}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("%s: capture %s: %w", path, c.File, err)
		}
	}
	return doc.Capture, nil
}

// Write generates the capture into dir.
func (c *Capture) Write(dir string) error {
	g, err := trafficgen.New(c.Config)
	if err != nil {
		return fmt.Errorf("%s: %w", c.File, err)
	}
	path := filepath.Join(dir, c.File)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := trafficgen.NewWriter(f, c.Output, c.Start, c.Comment())
	if err != nil {
		f.Close()
		return err
	}
	var p trafficgen.Packet
	for g.Next(&p) {
		if c.AttacksOnly && p.Attack < 0 {
			continue
		}
		if err := w.Write(&p); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// Generate writes every capture of the manifest into dir.
func Generate(manifest, dir string) error {
	caps, err := LoadCaptures(manifest)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := range caps {
		if err := caps[i].Write(dir); err != nil {
			return err
		}
	}
	return nil
}

// Scenarios lists the scenario files under dir, sorted: dir/tuning/*.toml
// and dir/held-out/*.toml.
func Scenarios(dir string) (tuning, heldOut []string, err error) {
	for _, part := range []struct {
		sub  string
		list *[]string
	}{{"tuning", &tuning}, {"held-out", &heldOut}} {
		m, err := filepath.Glob(filepath.Join(dir, part.sub, "*.toml"))
		if err != nil {
			return nil, nil, err
		}
		slices.Sort(m)
		*part.list = m
	}
	if len(tuning)+len(heldOut) == 0 {
		return nil, nil, fmt.Errorf("%s: no scenario in tuning/ or held-out/", dir)
	}
	return tuning, heldOut, nil
}

// Settings are the detection settings a suite is run with.
type Settings struct {
	Miner    miner.Config
	Analyzer analyzer.Config
	Spot     analyzer.SpotConfig
}

// Defaults are netspot's built-in settings.
func Defaults() Settings {
	return Settings{Miner: miner.DefaultConfig(), Analyzer: analyzer.DefaultConfig(), Spot: analyzer.DefaultSpotConfig()}
}

// ErrMissingCapture says that a scenario's captures are not on this
// machine (the real captures live beside the repository, not in it).
var ErrMissingCapture = errors.New("capture not found")

// Run evaluates one scenario with st, at the scenario's own period if it
// sets one.
func Run(ctx context.Context, path string, st Settings) (*eval.Report, error) {
	s, err := eval.Load(path)
	if err != nil {
		return nil, err
	}
	cfg := pipeline.New()
	cfg.Miner, cfg.Analyzer, cfg.Spot = st.Miner, st.Analyzer, st.Spot
	cfg.Analyzer.Period = config.Duration(s.PeriodOr(st.Analyzer.Period.D()))
	r, err := eval.Run(ctx, s, eval.Options{Config: cfg})
	return r, missing(err)
}

// Build loads a scenario and builds its timeline, for the studies that
// replay it with other settings or another detector.
func Build(path string) (*eval.Scenario, *eval.Timeline, error) {
	s, err := eval.Load(path)
	if err != nil {
		return nil, nil, err
	}
	tl, err := eval.Build(s, "")
	if err != nil {
		return nil, nil, missing(err)
	}
	return s, tl, nil
}

// missing wraps ErrMissingCapture around an error about a capture that
// is not on this machine.
func missing(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, capture.ErrNotFound) {
		return fmt.Errorf("%w: %v", ErrMissingCapture, err)
	}
	return err
}

// Totals sums the reports of a suite: attacks, detections, delays, false
// alarms and benign time.
type Totals struct {
	Attacks          int
	Detected         int
	Volumetric       int
	VolumetricOnTime int
	FalseAlarms      int
	BenignHours      float64
	Delays           []float64 // in periods
}

// Add counts one report.
func (t *Totals) Add(r *eval.Report) {
	t.Attacks += r.AttackCount
	t.Detected += r.Detected
	t.Volumetric += r.Volumetric
	t.VolumetricOnTime += r.VolumetricOnTime
	t.FalseAlarms += r.FalseAlarms
	t.BenignHours += r.BenignHours
	for _, a := range r.Attacks {
		if a.DelayS != nil {
			t.Delays = append(t.Delays, *a.DelayS/r.PeriodS)
		}
	}
}

// FalsePerHour is the false alarms per hour of benign time.
func (t *Totals) FalsePerHour() float64 {
	if t.BenignHours == 0 {
		return 0
	}
	return float64(t.FalseAlarms) / t.BenignHours
}

// MedianDelay is the median delay in periods (0 without detections).
func (t *Totals) MedianDelay() float64 {
	return median(t.Delays)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Hours formats a number of hours.
func Hours(h float64) string {
	return (time.Duration(h * float64(time.Hour))).Round(time.Minute).String()
}
