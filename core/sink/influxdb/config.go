package influxdb

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"netspot/core/config"
	"netspot/core/sink"
)

// Config is the [exporter.influxdb] section. The keys of the original
// netspot's [exporter.influxdb1] section keep their meaning (batch_size
// counts records, which is points when only data is written); setting
// bucket switches to the InfluxDB 2 write API (also served by InfluxDB 3
// and Cloud).
type Config struct {
	Data            bool            `toml:"data" comment:"Write every statistic each period (measurement \"netspot\")"`
	Alarm           bool            `toml:"alarm" comment:"Write each alarm (measurement \"netspot_alarm\")"`
	Address         string          `toml:"address" api:"endpoint" comment:"URL of the InfluxDB server"`
	Database        string          `toml:"database" comment:"InfluxDB 1: database, created if missing (which needs admin rights when authentication is on)"`
	RetentionPolicy string          `toml:"retention_policy" comment:"InfluxDB 1: retention policy; empty: the database's default"`
	Username        string          `toml:"username" api:"credential" comment:"InfluxDB 1: user name when authentication is on; empty: none"`
	Password        string          `toml:"password" api:"secret" comment:"InfluxDB 1: password of username"`
	Org             string          `toml:"org" comment:"InfluxDB 2: organization (name)"`
	Bucket          string          `toml:"bucket" comment:"InfluxDB 2: bucket; setting it selects the InfluxDB 2 API (database, retention_policy, username and password are then unused)"`
	Token           string          `toml:"token" api:"secret" comment:"InfluxDB 2: API token with write access to the bucket"`
	AgentName       string          `toml:"agent_name" comment:"Value of the \"agent\" tag of every point, to tell apart the boxes writing to one database; empty: no tag"`
	BatchSize       int             `toml:"batch_size" comment:"Most records written in one request (a data point each, and a point per alarm). Each record is written as soon as it comes; those that queued meanwhile (during a slow request, or while InfluxDB was unreachable) go together, up to this many"`
	BufferLimit     int             `toml:"buffer_limit" comment:"Records kept while InfluxDB is unreachable, written in order once it is back; when full, the oldest records without alarms go first. A replay waits for InfluxDB instead"`
	Timeout         config.Duration `toml:"timeout" comment:"Longest time InfluxDB may take to answer one request; then the records are kept and written again later"`
}

// DefaultConfig writes nothing; once data or alarm is set, to the database
// "netspot" of a local InfluxDB 1, with netspot's batch size and agent name.
func DefaultConfig() Config {
	return Config{
		Address:     "http://127.0.0.1:8086",
		Database:    "netspot",
		AgentName:   "local",
		BatchSize:   10,
		BufferLimit: 5000,
		Timeout:     config.Duration(5 * time.Second),
	}
}

var (
	_ sink.Config = (*Config)(nil)
	_ sink.Queued = (*Config)(nil)
)

// Factory makes the InfluxDB sink from [exporter.influxdb].
func Factory() sink.Factory {
	return sink.Factory{
		Name:    "influxdb",
		Section: "exporter.influxdb",
		Comment: "InfluxDB 1 (database) or 2 and 3 (bucket): statistics and alarms in line protocol over HTTP",
		Config:  func() sink.Config { c := DefaultConfig(); return &c },
	}
}

// Enabled reports whether anything is written.
func (c Config) Enabled() bool { return c.Data || c.Alarm }

// New returns the sink; it does not contact the server: the first write
// does.
func (c Config) New(env sink.Env) (sink.Sink, error) { return New(c, env) }

// Queue sizes the sink's queue in the fan-out from buffer_limit. Retries
// wait from one second, doubling up to a minute (the fan-out's defaults),
// or what the server's Retry-After asks.
func (c Config) Queue() sink.QueueOptions { return sink.QueueOptions{Len: c.BufferLimit} }

// V2 reports whether the InfluxDB 2 API is used.
func (c Config) V2() bool { return c.Bucket != "" }

// maxBufferLimit bounds the queue's memory: a Record of 20 statistics
// takes about 1.5 KiB, so 100,000 of them about 150 MiB.
const (
	maxBatch       = 5000 // records: InfluxData advises at most 5000 points per request
	maxBufferLimit = 100_000
	maxTimeout     = time.Minute
)

// Validate checks every key; the messages name what to change.
func (c Config) Validate() error {
	if _, err := parseAddress(c.Address); err != nil {
		return config.Errorf("address", "%v", err)
	}
	if c.V2() {
		if err := checkText(c.Bucket); err != nil {
			return config.Errorf("bucket", "%v", err)
		}
		if err := checkText(c.Org); err != nil {
			return config.Errorf("org", "%v", err)
		}
		if err := checkText(c.Token); err != nil {
			return config.Errorf("token", "%v", err)
		}
	} else {
		switch {
		case c.Org != "":
			return config.Errorf("org", "org is for InfluxDB 2: set bucket too (or remove org for InfluxDB 1)")
		case c.Token != "":
			return config.Errorf("token", "token is for InfluxDB 2: set org and bucket too (InfluxDB 1 uses username and password)")
		case c.Database == "":
			return config.Errorf("database", "empty: name the InfluxDB 1 database (or set bucket for InfluxDB 2)")
		}
		if err := checkText(c.Database); err != nil {
			return config.Errorf("database", "%v", err)
		}
		if err := checkText(c.RetentionPolicy); err != nil {
			return config.Errorf("retention_policy", "%v", err)
		}
		if c.Password != "" && c.Username == "" {
			return config.Errorf("username", "empty while password is set")
		}
		if err := checkText(c.Username); err != nil {
			return config.Errorf("username", "%v", err)
		}
	}
	if err := checkText(c.AgentName); err != nil {
		return config.Errorf("agent_name", "%v", err)
	}
	if c.BatchSize < 1 || c.BatchSize > maxBatch {
		return config.Errorf("batch_size", "%d: want 1 to %d records", c.BatchSize, maxBatch)
	}
	if c.BufferLimit < c.BatchSize || c.BufferLimit > maxBufferLimit {
		return config.Errorf("buffer_limit", "%d: want batch_size (%d) to %d records", c.BufferLimit, c.BatchSize, maxBufferLimit)
	}
	if d := c.Timeout.D(); d <= 0 || d > maxTimeout {
		return config.Errorf("timeout", "%v: want a duration above 0 and at most %v", d, maxTimeout)
	}
	return nil
}

// parseAddress accepts an http or https URL with a host, and possibly a
// path prefix (InfluxDB behind a reverse proxy).
func parseAddress(s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("empty: want the server's URL, e.g. \"http://127.0.0.1:8086\"")
	}
	if !strings.Contains(s, "://") {
		return nil, fmt.Errorf("%q: want an http:// or https:// URL, e.g. \"http://127.0.0.1:8086\"", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %v", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: want an http:// or https:// URL, e.g. \"http://127.0.0.1:8086\"", s)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q: missing host", s)
	case !config.ValidHost(u.Hostname()):
		return nil, fmt.Errorf("%q: host %q is not an IP address or a host name", s, u.Hostname())
	case u.User != nil:
		return nil, fmt.Errorf("%q: put credentials in username and password (or token), not in the URL", s)
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		return nil, fmt.Errorf("%q: the URL must not have a query or fragment", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%q: port %q: want a number from 1 to 65535", s, p)
		}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// checkText rejects what no InfluxDB name or credential holds: control
// characters and invalid UTF-8.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8", s)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%q contains a control character", s)
		}
	}
	return nil
}
