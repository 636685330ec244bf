package socket

import (
	"errors"
	"strings"
	"testing"
	"time"

	"netspot/core/config"
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
		{func(c *Config) { c.Backlog = -1 }, "backlog", "want 0 to"},
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
