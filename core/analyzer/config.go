package analyzer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"netspot/core/config"
	"netspot/core/stats"
	"netspot/spot"
)

// Config is the [analyzer] section.
type Config struct {
	Period config.Duration `toml:"period" comment:"Length of a window: statistics are computed, and judged, once per period"`
	Stats  []string        `toml:"stats" comment:"Statistics to watch (netspot ls lists them); empty: the default set"`
	// ClearAfter is the alarm hysteresis: an excursion that dips back to
	// normal for a window and then goes on is one alarm, not several.
	ClearAfter int             `toml:"clear_after" comment:"Consecutive normal periods after which an active alarm is cleared"`
	StateFile  string          `toml:"state_file" api:"path" comment:"File where the detectors are saved (at exit and every save_every) and restored from at start, so that a restart resumes watching instead of learning again; empty: never saved"`
	SaveEvery  config.Duration `toml:"save_every" comment:"How often the detectors are saved to state_file while running"`
}

// DefaultConfig watches the default statistics every second.
func DefaultConfig() Config {
	return Config{
		Period:     config.Duration(time.Second),
		Stats:      []string{},
		ClearAfter: 3,
		SaveEvery:  config.Duration(10 * time.Minute),
	}
}

// Validate checks the section; statistic names must exist.
func (c Config) Validate() error {
	if c.Period.D() < time.Millisecond {
		return config.Errorf("period", "must be at least 1ms, got %s", c.Period)
	}
	if c.Period.D() > 24*time.Hour {
		return config.Errorf("period", "must be at most 24h, got %s", c.Period)
	}
	seen := make(map[string]bool)
	for _, name := range c.Stats {
		if _, ok := stats.Lookup(name); !ok {
			return config.Errorf("stats", "unknown statistic %q (netspot ls lists them)", name)
		}
		if seen[name] {
			return config.Errorf("stats", "statistic %s is listed twice", name)
		}
		seen[name] = true
	}
	if c.ClearAfter < 1 {
		return config.Errorf("clear_after", "must be at least 1, got %d", c.ClearAfter)
	}
	if c.StateFile != "" && c.SaveEvery.D() < time.Second {
		return config.Errorf("save_every", "must be at least 1s, got %s", c.SaveEvery)
	}
	return nil
}

// Watched returns the statistics to watch: the configured ones, or the
// default set when none is configured.
func (c Config) Watched() []string {
	if len(c.Stats) == 0 {
		return stats.Default()
	}
	return slices.Clone(c.Stats)
}

// SpotParams are the detector parameters of the [spot] section, with the
// names netspot's config uses.
type SpotParams struct {
	Depth      int     `toml:"depth" comment:"Drift window: values are judged against the mean of the last depth normal values (0: no drift correction)"`
	Q          float64 `toml:"q" comment:"Risk: probability of a value that normal traffic would produce so rarely that it is an alarm"`
	NInit      int     `toml:"n_init" comment:"Number of periods the complete model of a detector is calibrated on (after depth periods filling the drift window); detectors judge before, from watch_after"`
	Level      float64 `toml:"level" comment:"Quantile above which values are extremes used to fit the tail"`
	Up         bool    `toml:"up" comment:"Raise alarms on unusually high values"`
	Down       bool    `toml:"down" comment:"Raise alarms on unusually low values"`
	Alert      bool    `toml:"alert" comment:"Raise alarms (false: compute thresholds only)"`
	Bounded    bool    `toml:"bounded" comment:"Keep at most max_excess extremes to fit the tail (always on: an unbounded store grows without limit on a box that runs for months)"`
	MaxExcess  int     `toml:"max_excess" comment:"Number of extremes kept to fit the tail"`
	MinShape   float64 `toml:"min_shape" comment:"Lightest tail the fit may choose, between -1 and 0 (0: exponential); a bounded tail (below 0) puts the threshold right above the largest value seen, and traffic that grows then raises false alarms"`
	WatchAfter int     `toml:"watch_after" comment:"Periods learnt before the detectors judge (at most depth + n_init, 0: depth + n_init); until depth + n_init periods they judge with provisional tails and cautious thresholds"`
	Confidence float64 `toml:"confidence" comment:"Confidence of the cautious thresholds of provisional tails: 0 (the plain estimate), or from 0.5 up to 1 (excluded): higher gives fewer false alarms in the first hour, and misses more"`
}

// SpotOverride is a [spot.<STAT>] table: parameters that replace the
// [spot] ones for one statistic. Absent keys keep the global value.
type SpotOverride struct {
	Depth      *int     `toml:"depth"`
	Q          *float64 `toml:"q"`
	NInit      *int     `toml:"n_init"`
	Level      *float64 `toml:"level"`
	Up         *bool    `toml:"up"`
	Down       *bool    `toml:"down"`
	Alert      *bool    `toml:"alert"`
	Bounded    *bool    `toml:"bounded"`
	MaxExcess  *int     `toml:"max_excess"`
	MinShape   *float64 `toml:"min_shape"`
	WatchAfter *int     `toml:"watch_after"`
	Confidence *float64 `toml:"confidence"`
}

// SpotConfig is the whole [spot] section: global parameters and per-statistic
// overrides ([spot.R_SYN] …).
type SpotConfig struct {
	SpotParams
	PerStat map[string]SpotOverride `toml:"-" config:"rest"`
}

// The detector settings of netspot's statistics, chosen on the tuning
// scenarios of docs/evaluation.md (an office day at 1 s, an office night
// and morning at 1 s, a workstation at 10 s): with them every volumetric
// attack there is flagged within two periods, with under one false alarm
// per hour of benign traffic on each scenario at 1 s.
const (
	// defaultDepth is the drift window: 300 periods (5 minutes at 1 s).
	// A sustained low-rate attack (a DNS tunnel over a minute) pulls the
	// mean of a shorter window up as it goes and hides in it: with 100,
	// the tunnel of the night-and-morning scenario was missed.
	defaultDepth = 300
	// defaultQ is the risk. Window statistics are not the independent
	// values the spot package's calibration assumes: bursts make their
	// tails heavier than a fit on 2000 values sees. At 2e-5 the
	// night-and-morning scenario had 1.1 false alarms per hour; at 5e-6
	// the workstation's NULL scan went unseen.
	defaultQ = 1e-5
	// defaultLevel puts the tail at the top 1 %: at 0.98 the
	// workstation's brute force was flagged late at most depths, at 0.995
	// the night-and-morning scenario lost its DNS tunnel.
	defaultLevel = 0.99
	// defaultMinShape allows no tail lighter than the exponential one. A
	// bounded tail fitted at night ends just above the night's largest
	// values, and the morning's traffic crosses it: the night-and-morning
	// scenario had 0.82 false alarms per hour with 0, 6.45 with −0.25 and
	// 46 with −0.5 (the spot package's default).
	defaultMinShape = 0
	// defaultWatchAfter: the detectors judge after 300 periods (5 minutes
	// at 1 s), the length of the drift window, instead of the
	// depth + n_init = 2300 of their complete model (38 minutes at 1 s,
	// 6.4 hours at 10 s, 38 hours at 1 minute). Until then they judge with
	// provisional tails fitted on what they have seen (spot's
	// Config.WatchAfter); from then on they are the detectors that would
	// have waited. The first-hour scenarios of docs/evaluation.md (attacks
	// from minute 10) lost no detection at 1 s, with the spot package's
	// confidence of 0.95 for the provisional thresholds: restarted 102
	// times over the tuning offices' traffic, detectors judging after 300
	// periods raised 0.11 false alarms per provisional hour at 0.95,
	// against 0.18 at 0.9, 0.035 at 0.99 and 0.72 with the plain estimate
	// (0.55 for the complete models in the hour after their
	// calibration); at 0.99 the office morning lost its DNS tunnel.
	defaultWatchAfter = 300
)

// DefaultSpotConfig takes the spot package's calibration length and memory
// of excesses, with the risk, level, drift window and early judging chosen
// for window statistics (see the constants above), and raises alarms on
// high values.
func DefaultSpotConfig() SpotConfig {
	d := spot.DefaultConfig()
	return SpotConfig{SpotParams: SpotParams{
		Depth: defaultDepth, Q: defaultQ, NInit: d.NInit, Level: defaultLevel,
		Up: d.Up, Down: d.Down, Alert: true, Bounded: true, MaxExcess: d.MaxExcess,
		MinShape: defaultMinShape, WatchAfter: defaultWatchAfter, Confidence: d.Confidence,
	}}
}

// For returns the parameters of one statistic: the global ones with its
// overrides applied.
func (c SpotConfig) For(stat string) SpotParams {
	p := c.SpotParams
	o, ok := c.PerStat[stat]
	if !ok {
		return p
	}
	set(&p.Depth, o.Depth)
	set(&p.Q, o.Q)
	set(&p.NInit, o.NInit)
	set(&p.Level, o.Level)
	set(&p.Up, o.Up)
	set(&p.Down, o.Down)
	set(&p.Alert, o.Alert)
	set(&p.Bounded, o.Bounded)
	set(&p.MaxExcess, o.MaxExcess)
	set(&p.MinShape, o.MinShape)
	set(&p.WatchAfter, o.WatchAfter)
	set(&p.Confidence, o.Confidence)
	return p
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}

// Validate checks the global parameters and every override; errors name
// the key ("q", "R_SYN.level").
func (c SpotConfig) Validate() error {
	if err := c.SpotParams.Validate(); err != nil {
		return err
	}
	for name := range c.PerStat {
		if _, ok := stats.Lookup(name); !ok {
			return config.Errorf(name, "unknown statistic (netspot ls lists them)")
		}
		if err := c.For(name).Validate(); err != nil {
			return config.Within(name, err)
		}
	}
	return nil
}

// Validate checks the parameters with the detector's own rules.
func (p SpotParams) Validate() error {
	for _, f := range []struct {
		key string
		v   float64
	}{{"q", p.Q}, {"level", p.Level}, {"min_shape", p.MinShape}, {"confidence", p.Confidence}} {
		if math.IsNaN(f.v) {
			return config.Errorf(f.key, "must be a number, got nan")
		}
	}
	if err := p.Spot().Validate(); err != nil {
		return asFieldError(err)
	}
	return nil
}

// Spot maps the parameters onto the detector's configuration.
func (p SpotParams) Spot() spot.Config {
	c := spot.DefaultConfig()
	c.Q, c.Level, c.NInit, c.MaxExcess, c.Depth, c.MinShape = p.Q, p.Level, p.NInit, p.MaxExcess, p.Depth, p.MinShape
	c.Up, c.Down = p.Up, p.Down
	// A calibration shorter than watch_after is complete before it: the
	// detector judges then.
	c.WatchAfter, c.Confidence = min(p.WatchAfter, p.Depth+p.NInit), p.Confidence
	return c
}

// asFieldError turns the detector's parameter errors, which name the
// parameter with the same snake_case key as the config, into FieldErrors.
func asFieldError(err error) error {
	var pe *spot.ParamError
	if errors.As(err, &pe) {
		return config.Errorf(pe.Param, "%v", pe.Err)
	}
	return fmt.Errorf("spot: %w", err)
}
