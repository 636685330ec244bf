package socket

import (
	"time"
	"unicode/utf8"

	"netspot/core/config"
)

// Config is the [exporter.socket] section.
type Config struct {
	Data    string          `toml:"data" comment:"Where a data record goes each period: unix:///path, unixgram:///path, tcp://host:port or udp://host:port; empty: none"`
	Alarm   string          `toml:"alarm" comment:"Where each alarm goes, in the same form; may be the data address (json only); empty: none"`
	Format  string          `toml:"format" comment:"json: one object per line, as on the console · csv: a header line, then one line per record"`
	Tag     string          `toml:"tag" comment:"Added to every message (\"tag\"), to tell apart the boxes that write to one socket; empty: none"`
	Timeout config.Duration `toml:"timeout" comment:"How long connecting or sending may take before the peer counts as unreachable"`
	Backlog int             `toml:"backlog" comment:"Messages kept while the peer is unreachable, sent when it is back; alarms are kept before data. 0: none kept"`
}

// DefaultConfig sends nothing; once an address is set, JSON lines tagged
// "netspot".
func DefaultConfig() Config {
	return Config{
		Format:  "json",
		Tag:     "netspot",
		Timeout: config.Duration(2 * time.Second),
		Backlog: 1000,
	}
}

// Enabled reports whether anything is sent.
func (c Config) Enabled() bool { return c.Data != "" || c.Alarm != "" }

const (
	maxTimeout = time.Minute
	maxBacklog = 1_000_000
	maxTagLen  = 256
)

// Validate checks the addresses, the format and the limits.
func (c Config) Validate() error {
	for _, f := range []struct{ key, addr string }{{"data", c.Data}, {"alarm", c.Alarm}} {
		if f.addr == "" {
			continue
		}
		if _, err := ParseAddress(f.addr); err != nil {
			return config.Errorf(f.key, "%v", err)
		}
	}
	switch c.Format {
	case "json", "csv":
	case "gob":
		return config.Errorf("format", "gob is not supported: only Go programs can read it, and only with netspot's types; use json (one object per line) or csv")
	default:
		return config.Errorf("format", "unknown format %q (json or csv)", c.Format)
	}
	if c.Format == "csv" && c.Data != "" && c.Data == c.Alarm {
		return config.Errorf("alarm", "csv needs an alarm address other than the data address: their columns differ (or use json)")
	}
	if len(c.Tag) > maxTagLen {
		return config.Errorf("tag", "longer than %d bytes", maxTagLen)
	}
	if !utf8.ValidString(c.Tag) {
		return config.Errorf("tag", "%q is not valid UTF-8", c.Tag)
	}
	for _, r := range c.Tag {
		if r < 0x20 || r == 0x7f {
			return config.Errorf("tag", "%q contains a control character", c.Tag)
		}
	}
	if d := c.Timeout.D(); d <= 0 || d > maxTimeout {
		return config.Errorf("timeout", "%v: want a duration above 0 and at most %v", d, maxTimeout)
	}
	if c.Backlog < 0 || c.Backlog > maxBacklog {
		return config.Errorf("backlog", "%d: want 0 to %d messages", c.Backlog, maxBacklog)
	}
	return nil
}
