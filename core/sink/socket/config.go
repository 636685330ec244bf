package socket

import (
	"time"
	"unicode/utf8"

	"netspot/core/config"
	"netspot/core/sink"
)

// Config is the [exporter.socket] section.
type Config struct {
	Data    string          `toml:"data" api:"endpoint" comment:"Where a data record goes each period: unix:///path, unixgram:///path, tcp://host:port or udp://host:port; empty: none"`
	Alarm   string          `toml:"alarm" api:"endpoint" comment:"Where each alarm goes, in the same form; may be the data address (json only); empty: none"`
	Format  string          `toml:"format" comment:"json: one object per line, as on the console · csv: a header line, then one line per record"`
	Tag     string          `toml:"tag" comment:"Added to every message (\"tag\"), to tell apart the boxes that write to one socket; empty: none"`
	Timeout config.Duration `toml:"timeout" comment:"How long connecting and sending one record may take before the peer counts as unreachable (the record is kept and sent again later)"`
	Backlog int             `toml:"backlog" comment:"Records kept while a peer is unreachable, sent in order once it is back; when full, the oldest records without alarms go first. 0: only the newest record is kept. A replay waits for the peer instead"`
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

// Factory makes the socket sink from [exporter.socket].
func Factory() sink.Factory {
	return sink.Factory{
		Name:    "socket",
		Section: "exporter.socket",
		Comment: "Unix or network socket: JSON lines (the console's format, with series and tag) or CSV, for a local program or a collector",
		Config:  func() sink.Config { c := DefaultConfig(); return &c },
	}
}

var (
	_ sink.Config = (*Config)(nil)
	_ sink.Queued = (*Config)(nil)
)

// Enabled reports whether anything is sent.
func (c Config) Enabled() bool { return c.Data != "" || c.Alarm != "" }

// New returns the sink; it does not connect: the first Write does.
func (c Config) New(env sink.Env) (sink.Sink, error) { return New(c, env) }

// Queue sizes the sink's queue in the fan-out from backlog: the Records it
// holds while a peer is unreachable. Retries wait from one second, doubling
// up to a minute (the fan-out's defaults); a peer that hangs up is called
// back at the next Record.
func (c Config) Queue() sink.QueueOptions {
	return sink.QueueOptions{Len: max(1, c.Backlog)}
}

// maxBacklog bounds the queue's memory: a Record of 20 statistics takes
// about 1.5 KiB, so 100,000 of them about 150 MiB.
const (
	maxTimeout = time.Minute
	maxBacklog = 100_000
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
		return config.Errorf("backlog", "%d: want 0 to %d records", c.Backlog, maxBacklog)
	}
	return nil
}
