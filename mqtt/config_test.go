package mqtt

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"netspot/core/config"
)

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cfg.Enable = true
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults, enabled: %v", err)
	}
	if cfg.QoSStats != 0 || cfg.QoSAlarms != 1 || cfg.TopicPrefix != "netspot" || cfg.DiscoveryPrefix != "homeassistant" || !cfg.HomeAssistant || cfg.NodeID != "" {
		t.Errorf("defaults differ from the documented ones: %+v", cfg)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	notPEM := write("notpem", "hello")
	emptyPW := write("emptypw", "\n")
	twoLines := write("twolines", "a\nb\n")
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name   string
		mod    func(c *Config)
		key    string
		substr string
	}{
		{"empty broker", func(c *Config) { c.Broker = "" }, "broker", "empty"},
		{"no scheme", func(c *Config) { c.Broker = "192.168.1.10:1883" }, "broker", ""},
		{"bad scheme", func(c *Config) { c.Broker = "http://host:1883" }, "broker", "not supported"},
		{"bad port", func(c *Config) { c.Broker = "tcp://host:99999" }, "broker", "port"},
		{"not a URL", func(c *Config) { c.Broker = "tcp://[::1" }, "broker", "not a URL"},
		{"host not a name", func(c *Config) { c.Broker = "tcp://]" }, "broker", "not an IP address or a host name"},
		{"host with a !", func(c *Config) { c.Broker = "tcp://bro!ker:1883" }, "broker", "not an IP address or a host name"},
		{"credentials in URL", func(c *Config) { c.Broker = "tcp://u:p@host:1883" }, "broker", "credentials"},
		{"path on tcp", func(c *Config) { c.Broker = "tcp://host:1883/x" }, "broker", "path"},
		{"query", func(c *Config) { c.Broker = "tcp://host:1883?x=1" }, "broker", "query"},
		{"qos stats 3", func(c *Config) { c.QoSStats = 3 }, "qos_stats", "0, 1 or 2"},
		{"qos stats -1", func(c *Config) { c.QoSStats = -1 }, "qos_stats", ""},
		{"qos alarms 0", func(c *Config) { c.QoSAlarms = 0 }, "qos_alarms", "never acknowledged"},
		{"qos alarms 3", func(c *Config) { c.QoSAlarms = 3 }, "qos_alarms", ""},
		{"keepalive fraction", func(c *Config) { c.KeepAlive = config.Duration(1500 * time.Millisecond) }, "keepalive", "whole"},
		{"keepalive too big", func(c *Config) { c.KeepAlive = config.Duration(20 * time.Hour) }, "keepalive", "maximum"},
		{"keepalive negative", func(c *Config) { c.KeepAlive = config.Duration(-time.Second) }, "keepalive", ""},
		{"connect timeout", func(c *Config) { c.ConnectTimeout = 0 }, "connect_timeout", ""},
		{"reconnect max", func(c *Config) { c.ReconnectMax = config.Duration(time.Millisecond) }, "reconnect_max", ""},
		{"close timeout", func(c *Config) { c.CloseTimeout = config.Duration(-time.Second) }, "close_timeout", ""},
		{"prefix wildcard", func(c *Config) { c.TopicPrefix = "net/#" }, "topic_prefix", "wildcard"},
		{"prefix empty", func(c *Config) { c.TopicPrefix = "" }, "topic_prefix", "empty"},
		{"prefix slash", func(c *Config) { c.TopicPrefix = "/netspot" }, "topic_prefix", "empty topic level"},
		{"prefix sys", func(c *Config) { c.TopicPrefix = "$SYS" }, "topic_prefix", "$"},
		{"discovery prefix", func(c *Config) { c.DiscoveryPrefix = "ha/+" }, "discovery_prefix", "wildcard"},
		{"node id", func(c *Config) { c.NodeID = "box 1" }, "node_id", "only letters"},
		{"node id dot", func(c *Config) { c.NodeID = "box.lan" }, "node_id", ""},
		{"store dir", func(c *Config) { c.StoreDir = "" }, "store_dir", "empty"},
		{"store max", func(c *Config) { c.StoreMax = 0 }, "store_max", ""},
		{"stats queue", func(c *Config) { c.StatsQueue = 0 }, "stats_queue", ""},
		{"stats dup", func(c *Config) { c.Stats = []string{"R_SYN", "R_SYN"} }, "stats", "twice"},
		{"stats bad name", func(c *Config) { c.Stats = []string{"R/SYN"} }, "stats", ""},
		{"password both", func(c *Config) { c.Username = "u"; c.Password = "p"; c.PasswordFile = emptyPW }, "password_file", "both"},
		{"password no user", func(c *Config) { c.Password = "p" }, "username", ""},
		{"password file missing", func(c *Config) { c.Username = "u"; c.PasswordFile = missing }, "password_file", "no such file"},
		{"password file empty", func(c *Config) { c.Username = "u"; c.PasswordFile = emptyPW }, "password_file", "empty"},
		{"password file lines", func(c *Config) { c.Username = "u"; c.PasswordFile = twoLines }, "password_file", "more than one line"},
		{"ca on tcp", func(c *Config) { c.CAFile = notPEM }, "ca_file", "not encrypted"},
		{"ca missing", func(c *Config) { c.Broker = "ssl://host"; c.CAFile = missing }, "ca_file", "no such file"},
		{"ca not pem", func(c *Config) { c.Broker = "ssl://host"; c.CAFile = notPEM }, "ca_file", "no PEM"},
		{"cert without key", func(c *Config) { c.Broker = "ssl://host"; c.CertFile = notPEM }, "key_file", "needs both"},
		{"key without cert", func(c *Config) { c.Broker = "ssl://host"; c.KeyFile = notPEM }, "cert_file", "needs both"},
		{"cert missing", func(c *Config) { c.Broker = "ssl://host"; c.CertFile = missing; c.KeyFile = notPEM }, "cert_file", "no such file"},
		{"key missing", func(c *Config) { c.Broker = "ssl://host"; c.CertFile = notPEM; c.KeyFile = missing }, "key_file", "no such file"},
		{"cert not pem", func(c *Config) { c.Broker = "ssl://host"; c.CertFile = notPEM; c.KeyFile = notPEM }, "cert_file", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Enable = true
			tt.mod(&cfg)
			err := cfg.Validate()
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a FieldError on %s", err, tt.key)
			}
			if fe.Key != tt.key {
				t.Errorf("error names %q, want %q (%v)", fe.Key, tt.key, err)
			}
			if !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("error %q does not say %q", err, tt.substr)
			}
			if w := config.Within("exporter.mqtt", err); !strings.HasPrefix(w.Error(), "exporter.mqtt."+tt.key+": ") {
				t.Errorf("Within: %v", w)
			}
		})
	}
}

// Files are read only when the exporter is enabled: a disabled section with
// a stale path does not stop netspot.
func TestDisabledConfigDoesNotReadFiles(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Username = "u"
	cfg.PasswordFile = filepath.Join(t.TempDir(), "missing")
	if err := cfg.Validate(); err != nil {
		t.Errorf("disabled: %v", err)
	}
	cfg.Enable = true
	if err := cfg.Validate(); err == nil {
		t.Error("enabled with a missing password_file: no error")
	}
}

func TestParseBroker(t *testing.T) {
	tests := map[string]string{
		"tcp://host":                 "tcp://host:1883",
		"TCP://host:1884":            "tcp://host:1884",
		"mqtt://host":                "mqtt://host:1883",
		"ssl://host":                 "ssl://host:8883",
		"tls://10.0.0.1:8884":        "tls://10.0.0.1:8884",
		"mqtts://host":               "mqtts://host:8883",
		"ws://host":                  "ws://host:80",
		"ws://host:9001/mqtt":        "ws://host:9001/mqtt",
		"wss://broker.example/mqtt":  "wss://broker.example:443/mqtt",
		"tcp://[fe80::1]":            "tcp://[fe80::1]:1883",
		"tcp://[2001:db8::1]:1883/":  "tcp://[2001:db8::1]:1883",
		"tcp://host.example.lan:123": "tcp://host.example.lan:123",
		"tcp://host.example.lan.":    "tcp://host.example.lan.:1883",
		"tcp://[fe80::1%25eth0]":     "tcp://[fe80::1%25eth0]:1883",
	}
	for in, want := range tests {
		u, err := parseBroker(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if u.String() != want {
			t.Errorf("%s → %s, want %s", in, u, want)
		}
	}
}

// FuzzParseBroker: any broker setting gives an error or a URL that paho can
// dial: a supported scheme, a host and a port in 1..65535, written so that
// it reads back to itself.
func FuzzParseBroker(f *testing.F) {
	for _, s := range []string{
		"tcp://host", "TCP://host:1884", "ssl://10.0.0.1:8884", "ws://host:9001/mqtt",
		"wss://broker.example/mqtt", "tcp://[fe80::1%eth0]", "tcp://[2001:db8::1]:1883/",
		"tcp://user:pw@host", "tcp://host:0", "tcp://host:65536", "tcp://:1883", "http://host",
		"tcp://host/path", "tcp://host?x=1", "tcp://host#f", "host:1883", "", "tcp://%zz",
		"tcp://[::1", "ws://h:1/%2F", "tcp://h:+1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseBroker(s)
		if err != nil {
			return
		}
		if _, ok := defaultPort(u.Scheme); !ok {
			t.Fatalf("%q: accepted with scheme %q", s, u.Scheme)
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" {
			t.Fatalf("%q: accepted with host %q: %v", s, u.Host, err)
		}
		if _, err := netip.ParseAddr(host); err != nil && strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			t.Fatalf("%q: accepted with host %q, neither an IP address nor a name", s, host)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			t.Fatalf("%q: accepted with port %q", s, port)
		}
		again, err := parseBroker(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("%q gives %q, which reads back as %v, %v", s, u, again, err)
		}
	})
}

func TestNodeIDFromHostname(t *testing.T) {
	tests := map[string]string{
		"netspot-pi":              "netspot-pi",
		"netspot-pi.home.lan":     "netspot-pi",
		"Box_2":                   "Box_2",
		"bôx":                     "b_x",
		"":                        "netspot",
		"...":                     "netspot",
		strings.Repeat("a", 100):  strings.Repeat("a", 64),
		"weird name with spaces ": "weird_name_with_spaces_",
	}
	for in, want := range tests {
		got := NodeIDFromHostname(in)
		if got != want {
			t.Errorf("NodeIDFromHostname(%q) = %q, want %q", in, got, want)
		}
		if err := checkNodeID(got); err != nil {
			t.Errorf("NodeIDFromHostname(%q) = %q is not a valid node id: %v", in, got, err)
		}
	}
}
