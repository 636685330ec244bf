package pipeline

import (
	"netspot/core/analyzer"
	"netspot/core/config"
	"netspot/core/miner"
	"netspot/core/sink"
)

// Config is everything a pipeline runs with: where packets come from, what
// is computed and judged, and where the results go. It is typed: the file,
// the command line and the API change it through the config loader, and
// the pipeline never sees TOML.
type Config struct {
	Miner    miner.Config
	Analyzer analyzer.Config
	Spot     analyzer.SpotConfig
	// Sinks are the sections of the sinks netspot knows, in the order of
	// their factories; those enabled are opened.
	Sinks []SinkConfig
}

// SinkConfig is one sink's factory and its configuration.
type SinkConfig struct {
	Factory sink.Factory
	Config  sink.Config
}

// New returns the default configuration with a section for each factory.
func New(factories ...sink.Factory) *Config {
	c := &Config{
		Miner:    miner.DefaultConfig(),
		Analyzer: analyzer.DefaultConfig(),
		Spot:     analyzer.DefaultSpotConfig(),
	}
	for _, f := range factories {
		c.Sinks = append(c.Sinks, SinkConfig{Factory: f, Config: f.Config()})
	}
	return c
}

// Sections are the parts of the configuration file the pipeline owns, for
// the config loader: [miner], [analyzer], [spot] (with its [spot.<STAT>]
// tables), then each sink's.
func (c *Config) Sections() []config.Section {
	s := []config.Section{
		{Key: "miner", Value: &c.Miner, Comment: "Capture: where packets come from"},
		{Key: "analyzer", Value: &c.Analyzer, Comment: "Statistics: what is computed every period"},
		{Key: "spot", Value: &c.Spot, Comment: "SPOT detectors. Any key can be set for one statistic only in a [spot.<STAT>] table,\ne.g. [spot.R_SYN] with q = 1e-5"},
	}
	for _, sc := range c.Sinks {
		s = append(s, config.Section{Key: sc.Factory.Section, Value: sc.Config, Comment: sc.Factory.Comment})
	}
	return s
}

// Validate checks every section, as the loader does after decoding.
func (c *Config) Validate() error { return config.Validate(c.Sections()...) }

// Clone returns a deep copy, to edit without touching a running pipeline's.
func (c *Config) Clone() *Config {
	out := config.Clone(*c)
	return &out
}

// Sink returns the configuration of the sink called name, or nil.
func (c *Config) Sink(name string) sink.Config {
	for _, sc := range c.Sinks {
		if sc.Factory.Name == name {
			return sc.Config
		}
	}
	return nil
}
