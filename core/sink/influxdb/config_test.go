package influxdb

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"netspot/core/config"
	"netspot/core/sink"
)

func TestDefaultConfigIsValidAndDisabled(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Enabled() || c.V2() {
		t.Errorf("default %+v: want disabled, InfluxDB 1", c)
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		key  string
		msg  string
	}{
		{func(c *Config) { c.Address = "" }, "address", "empty"},
		{func(c *Config) { c.Address = "127.0.0.1:8086" }, "address", "http://"},
		{func(c *Config) { c.Address = "udp://127.0.0.1:8089" }, "address", "http://"},
		{func(c *Config) { c.Address = "http://:8086" }, "address", "missing host"},
		{func(c *Config) { c.Address = "http://]:8086" }, "address", "not an IP address or a host name"},
		{func(c *Config) { c.Address = "http://in!flux:8086" }, "address", "not an IP address or a host name"},
		{func(c *Config) { c.Address = "http://u:p@db:8086" }, "address", "credentials"},
		{func(c *Config) { c.Address = "http://db:8086/?db=x" }, "address", "query"},
		{func(c *Config) { c.Address = "http://db:99999" }, "address", "port"},
		{func(c *Config) { c.Address = "http://db:8086/%zz" }, "address", "not a URL"},
		{func(c *Config) { c.Database = "" }, "database", "empty"},
		{func(c *Config) { c.Database = "a\nb" }, "database", "control character"},
		{func(c *Config) { c.Password = "x" }, "username", "password is set"},
		{func(c *Config) { c.Token = "t" }, "token", "InfluxDB 2"},
		{func(c *Config) { c.Org = "o" }, "org", "set bucket"},
		{func(c *Config) { c.Bucket = "b\x00" }, "bucket", "control character"},
		{func(c *Config) { c.AgentName = "\xff" }, "agent_name", "UTF-8"},
		{func(c *Config) { c.BatchSize = 0 }, "batch_size", "want 1 to 5000 records"},
		{func(c *Config) { c.BatchSize = 5001 }, "batch_size", "want 1 to 5000 records"},
		{func(c *Config) { c.BufferLimit = 5 }, "buffer_limit", "batch_size (10) to 100000 records"},
		{func(c *Config) { c.BufferLimit = 100_001 }, "buffer_limit", "batch_size (10) to 100000 records"},
		{func(c *Config) { c.Timeout = 0 }, "timeout", "above 0"},
		{func(c *Config) { c.Timeout = config.Duration(time.Hour) }, "timeout", "at most"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != c.key || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: Validate() = %v; want key %q and %q", cfg, err, c.key, c.msg)
		}
	}
	v2 := DefaultConfig()
	v2.Org, v2.Bucket, v2.Token, v2.Address = "lab", "netspot", "abc==", "https://influx.lan:8086/prefix/"
	if err := v2.Validate(); err != nil || !v2.V2() {
		t.Errorf("InfluxDB 2 config: %v", err)
	}
}

func TestFactory(t *testing.T) {
	f := Factory()
	if f.Name != "influxdb" || f.Section != "exporter.influxdb" || f.Comment == "" {
		t.Errorf("factory %+v", f)
	}
	c := f.Config()
	if *c.(*Config) != DefaultConfig() || c.Enabled() || c.Validate() != nil {
		t.Errorf("Config() = %+v, want the defaults, disabled and valid", c)
	}
	c.(*Config).Data = true
	s, err := c.New(sink.Env{Series: "x"})
	if err != nil {
		t.Fatalf("New does not contact the server: %v", err)
	}
	if b, ok := s.(sink.BatchWriter); !ok || b.MaxBatch() != 10 {
		t.Errorf("the sink is not a BatchWriter of batch_size records")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	c.(*Config).BatchSize = 0
	if _, err := c.New(sink.Env{}); err == nil {
		t.Error("New accepted an invalid config")
	}
}

// buffer_limit is the length of the sink's queue in the fan-out, in
// records.
func TestQueue(t *testing.T) {
	c := DefaultConfig()
	c.BufferLimit = 300
	var q sink.Queued = c
	if got := q.Queue(); got != (sink.QueueOptions{Len: 300}) {
		t.Errorf("Queue() = %+v, want Len 300 and the default retries", got)
	}
}

// FuzzParseAddress: no URL makes the check panic, and an accepted one is
// an http(s) URL with a host.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:8086", "https://db/x/", "http://[::1]:1", "ftp://x", "http://%", "http://a:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseAddress(s)
		if err != nil {
			return
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || u.RawQuery != "" {
			t.Fatalf("%q accepted as %+v", s, u)
		}
		if _, err := http.NewRequest(http.MethodPost, u.String()+"/write", nil); err != nil {
			t.Fatalf("%q accepted, but gives no request: %v", s, err)
		}
		h := u.Hostname()
		if _, err := netip.ParseAddr(h); err != nil && strings.Trim(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			t.Fatalf("%q accepted with host %q, neither an IP address nor a name", s, h)
		}
	})
}
