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
	StateFile  string          `toml:"state_file" comment:"File where the detectors are saved (at exit and every save_every) and restored from at start, so that a restart resumes watching instead of learning again; empty: never saved"`
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
	Depth     int     `toml:"depth" comment:"Drift window: values are judged against the mean of the last depth normal values (0: no drift correction)"`
	Q         float64 `toml:"q" comment:"Risk: probability of a value that normal traffic would produce so rarely that it is an alarm"`
	NInit     int     `toml:"n_init" comment:"Number of periods of calibration before watching (after depth periods filling the drift window)"`
	Level     float64 `toml:"level" comment:"Quantile above which values are extremes used to fit the tail"`
	Up        bool    `toml:"up" comment:"Raise alarms on unusually high values"`
	Down      bool    `toml:"down" comment:"Raise alarms on unusually low values"`
	Alert     bool    `toml:"alert" comment:"Raise alarms (false: compute thresholds only)"`
	Bounded   bool    `toml:"bounded" comment:"Keep at most max_excess extremes to fit the tail (always on: an unbounded store grows without limit on a box that runs for months)"`
	MaxExcess int     `toml:"max_excess" comment:"Number of extremes kept to fit the tail"`
}

// SpotOverride is a [spot.<STAT>] table: parameters that replace the
// [spot] ones for one statistic. Absent keys keep the global value.
type SpotOverride struct {
	Depth     *int     `toml:"depth"`
	Q         *float64 `toml:"q"`
	NInit     *int     `toml:"n_init"`
	Level     *float64 `toml:"level"`
	Up        *bool    `toml:"up"`
	Down      *bool    `toml:"down"`
	Alert     *bool    `toml:"alert"`
	Bounded   *bool    `toml:"bounded"`
	MaxExcess *int     `toml:"max_excess"`
}

// SpotConfig is the whole [spot] section: global parameters and per-statistic
// overrides ([spot.R_SYN] …).
type SpotConfig struct {
	SpotParams
	PerStat map[string]SpotOverride `toml:"-"`
}

// The detector settings of netspot's statistics, chosen on labelled replays
// of generated and real traffic (docs/evaluation.md): with them every
// volumetric attack of the tuning scenarios is flagged within two periods,
// with under one false alarm per hour of benign traffic at a 1 s period.
const (
	// defaultDepth is the drift window: traffic drifts over the day, so
	// values are judged against the mean of the last 100 normal ones (50
	// followed short bursts of benign traffic too closely).
	defaultDepth = 100
	// defaultQ is the risk. Window statistics are not the independent
	// values the spot package's calibration assumes: bursts make their
	// tails heavier than a fit on 2000 values sees, and at 1e-4 benign
	// traffic crossed the threshold several times an hour.
	defaultQ = 1e-5
	// defaultLevel puts the tail at the top 1 %: at 0.98 the excesses of
	// count statistics include the common small bursts, and the fitted
	// tail is too light.
	defaultLevel = 0.99
)

// DefaultSpotConfig takes the spot package's calibration length and memory
// of excesses, with the risk, level and drift window chosen for window
// statistics (see the constants above), and raises alarms on high values.
func DefaultSpotConfig() SpotConfig {
	d := spot.DefaultConfig()
	return SpotConfig{SpotParams: SpotParams{
		Depth: defaultDepth, Q: defaultQ, NInit: d.NInit, Level: defaultLevel,
		Up: d.Up, Down: d.Down, Alert: true, Bounded: true, MaxExcess: d.MaxExcess,
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
	if math.IsNaN(p.Q) || math.IsNaN(p.Level) {
		return config.Errorf("q", "must be a number")
	}
	if err := p.Spot().Validate(); err != nil {
		return asFieldError(err)
	}
	return nil
}

// Spot maps the parameters onto the detector's configuration.
func (p SpotParams) Spot() spot.Config {
	c := spot.DefaultConfig()
	c.Q, c.Level, c.NInit, c.MaxExcess, c.Depth = p.Q, p.Level, p.NInit, p.MaxExcess, p.Depth
	c.Up, c.Down = p.Up, p.Down
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
