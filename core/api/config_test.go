package api

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"netspot/core/config"
)

func TestDefaultConfigIsValidAndLoopback(t *testing.T) {
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	network, addr, err := ParseEndpoint(c.Endpoint)
	if err != nil || network != "tcp" || !Loopback(addr) {
		t.Errorf("default endpoint %s -> %s %s %v, want loopback TCP", c.Endpoint, network, addr, err)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, c := range []struct {
		change  func(*Config)
		key     string
		message string
	}{
		{func(c *Config) { c.Endpoint = "localhost:11000" }, "endpoint", "want tcp://HOST:PORT"},
		{func(c *Config) { c.Endpoint = "http://localhost:11000" }, "endpoint", `unknown scheme "http"`},
		{func(c *Config) { c.Endpoint = "tcp://localhost:99999" }, "endpoint", "not a number from 0 to 65535"},
		{func(c *Config) { c.Endpoint = "tcp://localhost" }, "endpoint", "want tcp://HOST:PORT"},
		{func(c *Config) { c.Endpoint = "unix://run/api.sock" }, "endpoint", "must be absolute"},
		{func(c *Config) { c.Endpoint = "unix:///" + strings.Repeat("a", 120) }, "endpoint", "longer than 107"},
		{func(c *Config) { c.Token = "short" }, "token", "fewer than 16"},
		{func(c *Config) { c.Token = "0123456789abcdef 0123" }, "token", "not printable ASCII"},
		{func(c *Config) { c.Token, c.TokenFile = "0123456789abcdef", "/x" }, "token_file", "not both"},
		{func(c *Config) { c.History = 0 }, "history", "out of range"},
		{func(c *Config) { c.AlarmHistory = maxAlarmHistory + 1 }, "alarm_history", "out of range"},
		{func(c *Config) { c.MaxClients = -1 }, "max_clients", "out of range"},
		{func(c *Config) { c.StreamBuffer = 1 }, "stream_buffer", "out of range"},
	} {
		cfg := DefaultConfig()
		c.change(&cfg)
		err := cfg.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != c.key || !strings.Contains(err.Error(), c.message) {
			t.Errorf("%+v: got %v, want key %s and %q", cfg, err, c.key, c.message)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	for _, c := range []struct{ in, network, addr string }{
		{"tcp://localhost:11000", "tcp", "localhost:11000"},
		{"tcp://0.0.0.0:11000", "tcp", "0.0.0.0:11000"},
		{"tcp://:11000", "tcp", ":11000"},
		{"tcp6://[::1]:80", "tcp6", "[::1]:80"},
		{"tcp4://127.0.0.1:0", "tcp4", "127.0.0.1:0"},
		{"tcp://localhost:011000", "tcp", "localhost:11000"},
		{"unix:///run/netspot/api.sock", "unix", "/run/netspot/api.sock"},
	} {
		n, a, err := ParseEndpoint(c.in)
		if err != nil || n != c.network || a != c.addr {
			t.Errorf("%s -> %s %s %v, want %s %s", c.in, n, a, err, c.network, c.addr)
		}
	}
	for _, in := range []string{"", "tcp://", "tcp://a:b", "tcp://a b:1", "tcp://u@h:1", "tcp://h:1/x", "udp://h:1", "unix://", "unix://\x00"} {
		if _, _, err := ParseEndpoint(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"localhost:1": true, "LOCALHOST:1": true, "127.0.0.1:1": true, "127.8.9.1:1": true, "[::1]:1": true,
		":1": false, "0.0.0.0:1": false, "[::]:1": false, "192.168.1.2:1": false, "box.lan:1": false, "nonsense": false,
	} {
		if got := Loopback(addr); got != want {
			t.Errorf("Loopback(%s) = %v", addr, got)
		}
	}
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	if err := os.WriteFile(good, []byte("  0123456789abcdef0123  \nsecond line ignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.TokenFile = good
	if tok, err := c.LoadToken(); err != nil || tok != "0123456789abcdef0123" {
		t.Errorf("token file: %q, %v", tok, err)
	}
	c.TokenFile = filepath.Join(dir, "missing")
	if _, err := c.LoadToken(); err == nil || !strings.HasPrefix(err.Error(), "token_file: ") {
		t.Errorf("missing file: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.TokenFile = empty
	if _, err := c.LoadToken(); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty file: %v", err)
	}
	c = DefaultConfig()
	c.Token = "abcdefghijklmnopq"
	if tok, err := c.LoadToken(); err != nil || tok != c.Token {
		t.Errorf("inline token: %q %v", tok, err)
	}
}
