package socket

import (
	"errors"
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
	if c.Enabled() {
		t.Error("the default config sends to a socket")
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		key  string
		msg  string
	}{
		{func(c *Config) { c.Data = "tcp://host" }, "data", "host:port"},
		{func(c *Config) { c.Alarm = "unix://relative" }, "alarm", "not absolute"},
		{func(c *Config) { c.Format = "gob" }, "format", "gob is not supported"},
		{func(c *Config) { c.Format = "xml" }, "format", `unknown format "xml"`},
		{func(c *Config) { c.Format = "csv"; c.Data = "unix:///x"; c.Alarm = "unix:///x" }, "alarm", "csv needs an alarm address"},
		{func(c *Config) { c.Tag = "a\tb" }, "tag", "control character"},
		{func(c *Config) { c.Tag = "\xff" }, "tag", "UTF-8"},
		{func(c *Config) { c.Tag = strings.Repeat("t", 257) }, "tag", "longer than"},
		{func(c *Config) { c.Timeout = 0 }, "timeout", "above 0"},
		{func(c *Config) { c.Timeout = config.Duration(2 * time.Minute) }, "timeout", "at most"},
		{func(c *Config) { c.Backlog = -1 }, "backlog", "want 0 to 100000 records"},
		{func(c *Config) { c.Backlog = 100_001 }, "backlog", "want 0 to 100000 records"},
	} {
		cfg := DefaultConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != c.key || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: Validate() = %v; want key %q and %q", cfg, err, c.key, c.msg)
		}
	}
	ok := DefaultConfig()
	ok.Data, ok.Alarm = "unix:///x", "unix:///x" // json may share one address
	if err := ok.Validate(); err != nil {
		t.Errorf("shared json address: %v", err)
	}
}

func TestFactory(t *testing.T) {
	f := Factory()
	if f.Name != "socket" || f.Section != "exporter.socket" || f.Comment == "" {
		t.Errorf("factory %+v", f)
	}
	c := f.Config()
	if *c.(*Config) != DefaultConfig() || c.Enabled() || c.Validate() != nil {
		t.Errorf("Config() = %+v, want the defaults, disabled and valid", c)
	}
	c.(*Config).Data = "unix:///nonexistent/netspot.sock"
	s, err := c.New(sink.Env{Series: "x"})
	if err != nil {
		t.Fatalf("New does not wait for the peer: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
	c.(*Config).Format = "xml"
	if _, err := c.New(sink.Env{}); err == nil {
		t.Error("New accepted an invalid config")
	}
}

// backlog is the length of the sink's queue in the fan-out, in records.
func TestQueue(t *testing.T) {
	for backlog, want := range map[int]int{0: 1, 1: 1, 1000: 1000} {
		c := DefaultConfig()
		c.Backlog = backlog
		var q sink.Queued = c
		if got := q.Queue(); got.Len != want || got.RetryMin != 0 || got.RetryMax != 0 {
			t.Errorf("backlog %d: Queue() = %+v, want Len %d and the default retries", backlog, got, want)
		}
	}
}
