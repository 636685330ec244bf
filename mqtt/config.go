package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"netspot/core/config"
	"netspot/core/sink"
)

// Config is the [exporter.mqtt] section. Keys that name a file, a
// credential or the broker cannot be changed through the HTTP API.
type Config struct {
	Enable   bool   `toml:"enabled" comment:"publish statistics and alarms to an MQTT broker"`
	Broker   string `toml:"broker" api:"endpoint" comment:"broker URL: tcp://host:1883, ssl://host:8883 (or tls://), ws://host:9001/mqtt, wss://host:443/mqtt; the port defaults to the scheme's usual one"`
	ClientID string `toml:"client_id" comment:"MQTT client id; empty means netspot-<node_id>. Two clients with the same id keep kicking each other off the broker"`

	Username     string `toml:"username" api:"credential" comment:"user name for the broker, empty for anonymous"`
	Password     string `toml:"password" api:"secret" comment:"password for the broker (prefer password_file)"`
	PasswordFile string `toml:"password_file" api:"path" comment:"file holding the password (trailing newline ignored); exclusive with password"`

	CAFile   string `toml:"ca_file" api:"path" comment:"PEM file of the CA certificates that sign the broker's certificate (ssl://, tls://, wss://); empty means the system's CAs"`
	CertFile string `toml:"cert_file" api:"path" comment:"PEM client certificate, for brokers that require one (with key_file)"`
	KeyFile  string `toml:"key_file" api:"path" comment:"PEM private key of cert_file"`

	TopicPrefix string `toml:"topic_prefix" comment:"first level of every topic: <topic_prefix>/<node_id>/..."`
	NodeID      string `toml:"node_id" comment:"name of this box in topics and in Home Assistant, [a-zA-Z0-9_-]; empty means the host name reduced to those characters"`

	QoSStats  int `toml:"qos_stats" comment:"QoS of statistics messages (0, 1 or 2)"`
	QoSAlarms int `toml:"qos_alarms" comment:"QoS of alarm messages (1 or 2: with 0 the broker would never acknowledge them and an alarm could be lost unnoticed)"`

	KeepAlive      config.Duration `toml:"keepalive" comment:"MQTT keep-alive: a silent connection is declared dead after 1.5 times this"`
	ConnectTimeout config.Duration `toml:"connect_timeout" comment:"how long one connection attempt (TCP, TLS, CONNECT), or handing one message to a stalled connection, may take"`
	ReconnectMax   config.Duration `toml:"reconnect_max" comment:"longest wait between two delivery attempts while the broker is unreachable: the wait doubles from 1s up to this, with 20% jitter, and starts again from 1s once a period has been delivered"`
	CloseTimeout   config.Duration `toml:"close_timeout" comment:"at shutdown, how long netspot may take to hand over waiting alarms, say offline and disconnect; alarms not delivered stay in store_dir for the next start"`

	StoreDir   string `toml:"store_dir" api:"path" comment:"directory where alarms wait until the broker acknowledges them; they survive restarts and power cuts"`
	StoreMax   int    `toml:"store_max" comment:"most alarms kept waiting in store_dir; beyond it the oldest waiting alarm is dropped, logged and counted"`
	StatsQueue int    `toml:"stats_queue" comment:"periods kept in memory while the broker is unreachable or slow; beyond, the oldest periods are dropped and counted (their alarms wait in store_dir). A replay waits instead"`

	HomeAssistant   bool     `toml:"homeassistant" comment:"publish Home Assistant MQTT discovery configs (one sensor per statistic and an alarm binary sensor)"`
	DiscoveryPrefix string   `toml:"discovery_prefix" comment:"Home Assistant discovery prefix"`
	Stats           []string `toml:"stats" comment:"statistics to publish (names from netspot ls); empty means every watched statistic"`
}

// DefaultConfig returns the defaults: disabled, a local broker, QoS 0 for
// statistics and 1 for alarms, Home Assistant discovery on.
func DefaultConfig() Config {
	return Config{
		Enable:          false,
		Broker:          "tcp://localhost:1883",
		TopicPrefix:     "netspot",
		QoSStats:        0,
		QoSAlarms:       1,
		KeepAlive:       config.Duration(30 * time.Second),
		ConnectTimeout:  config.Duration(10 * time.Second),
		ReconnectMax:    config.Duration(time.Minute),
		CloseTimeout:    config.Duration(5 * time.Second),
		StoreDir:        "/var/lib/netspot/mqtt",
		StoreMax:        10000,
		StatsQueue:      300,
		HomeAssistant:   true,
		DiscoveryPrefix: "homeassistant",
		Stats:           []string{},
	}
}

// Factory returns the factory of the MQTT sink, for the command's list of
// sinks.
func Factory() sink.Factory {
	return sink.Factory{
		Name:    "mqtt",
		Section: "exporter.mqtt",
		Comment: "MQTT broker: statistics, alarms (kept in store_dir until the broker acknowledges them) and Home Assistant discovery",
		Config: func() sink.Config {
			c := DefaultConfig()
			return &c
		},
	}
}

// The pipeline makes the sink and shapes its queue from the section.
var (
	_ sink.Config = (*Config)(nil)
	_ sink.Queued = (*Config)(nil)
)

// Enabled reports whether the section asks for the sink.
func (c *Config) Enabled() bool { return c.Enable }

// retryMin is the first wait before another delivery attempt to an
// unreachable broker; it doubles up to reconnect_max.
const retryMin = time.Second

// Queue sizes the sink's queue in the fan-out: stats_queue periods, and
// waits between delivery attempts from 1s up to reconnect_max.
func (c *Config) Queue() sink.QueueOptions {
	return sink.QueueOptions{Len: c.StatsQueue, RetryMin: retryMin, RetryMax: max(retryMin, c.ReconnectMax.D())}
}

// New opens the sink: it reads the password and certificate files and
// opens store_dir, whose alarms from a previous run go out at the first
// Write. It does not wait for the broker.
func (c *Config) New(env sink.Env) (sink.Sink, error) {
	s, err := newSink(*c, env, defaultOptions())
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Limits of the values Validate accepts.
const (
	maxKeepAlive  = 65535 * time.Second // the CONNECT packet's 16-bit field
	maxStoreMax   = 1_000_000
	maxStatsQueue = 100_000
	maxTopicLevel = 256
)

// Validate checks every value without touching the network. When the
// exporter is enabled it also reads the password, CA and key files, so that
// a typo in a path is reported at start rather than at the first connection.
func (c *Config) Validate() error {
	broker, err := c.check()
	if err != nil || !c.Enable {
		return err
	}
	if _, err := c.password(); err != nil {
		return err
	}
	_, err = c.tlsConfig(broker)
	return err
}

// check checks every value that needs no file, and returns the broker URL
// with its port filled in.
func (c *Config) check() (*url.URL, error) {
	broker, err := parseBroker(c.Broker)
	if err != nil {
		return nil, config.Errorf("broker", "%v", err)
	}
	if c.ClientID != "" && !utf8.ValidString(c.ClientID) {
		return nil, config.Errorf("client_id", "not valid UTF-8")
	}
	if len(c.ClientID) > 65535 {
		return nil, config.Errorf("client_id", "longer than 65535 bytes")
	}
	if c.Password != "" && c.PasswordFile != "" {
		return nil, config.Errorf("password_file", "set both password and password_file; keep one")
	}
	if (c.Password != "" || c.PasswordFile != "") && c.Username == "" {
		return nil, config.Errorf("username", "a password is set but username is empty")
	}
	if err := checkTopicPrefix(c.TopicPrefix); err != nil {
		return nil, config.Errorf("topic_prefix", "%v", err)
	}
	if c.NodeID != "" {
		if err := checkNodeID(c.NodeID); err != nil {
			return nil, config.Errorf("node_id", "%v", err)
		}
	}
	if c.QoSStats < 0 || c.QoSStats > 2 {
		return nil, config.Errorf("qos_stats", "%d is not a QoS level (0, 1 or 2)", c.QoSStats)
	}
	switch c.QoSAlarms {
	case 1, 2:
	case 0:
		return nil, config.Errorf("qos_alarms", "0 is not allowed: a QoS 0 alarm is never acknowledged, so it could be lost unnoticed (use 1 or 2)")
	default:
		return nil, config.Errorf("qos_alarms", "%d is not a QoS level (1 or 2)", c.QoSAlarms)
	}
	k := c.KeepAlive.D()
	switch {
	case k < 0:
		return nil, config.Errorf("keepalive", "negative")
	case k > 0 && k < time.Second:
		return nil, config.Errorf("keepalive", "%s is below the protocol's 1s resolution (0 disables keep-alive)", k)
	case k > maxKeepAlive:
		return nil, config.Errorf("keepalive", "%s is above the protocol's maximum of %s", k, maxKeepAlive)
	case k%time.Second != 0:
		return nil, config.Errorf("keepalive", "%s is not a whole number of seconds", k)
	}
	if d := c.ConnectTimeout.D(); d < 100*time.Millisecond || d > 10*time.Minute {
		return nil, config.Errorf("connect_timeout", "%s is outside 100ms..10m", d)
	}
	if d := c.ReconnectMax.D(); d < time.Second || d > 24*time.Hour {
		return nil, config.Errorf("reconnect_max", "%s is outside 1s..24h", d)
	}
	if d := c.CloseTimeout.D(); d < 0 || d > 10*time.Minute {
		return nil, config.Errorf("close_timeout", "%s is outside 0s..10m", d)
	}
	if c.StoreDir == "" {
		return nil, config.Errorf("store_dir", "empty: alarms need a directory to wait in until the broker acknowledges them")
	}
	if c.StoreMax < 1 || c.StoreMax > maxStoreMax {
		return nil, config.Errorf("store_max", "%d is outside 1..%d", c.StoreMax, maxStoreMax)
	}
	if c.StatsQueue < 1 || c.StatsQueue > maxStatsQueue {
		return nil, config.Errorf("stats_queue", "%d is outside 1..%d", c.StatsQueue, maxStatsQueue)
	}
	if err := checkTopicPrefix(c.DiscoveryPrefix); err != nil {
		return nil, config.Errorf("discovery_prefix", "%v", err)
	}
	seen := make(map[string]bool, len(c.Stats))
	for _, s := range c.Stats {
		if err := checkStatName(s); err != nil {
			return nil, config.Errorf("stats", "%v", err)
		}
		if seen[s] {
			return nil, config.Errorf("stats", "%q is listed twice", s)
		}
		seen[s] = true
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		if c.CertFile == "" {
			return nil, config.Errorf("cert_file", "key_file is set but cert_file is empty: a client certificate needs both")
		}
		return nil, config.Errorf("key_file", "cert_file is set but key_file is empty: a client certificate needs both")
	}
	if !isTLS(broker.Scheme) {
		for _, f := range []struct{ key, val string }{{"ca_file", c.CAFile}, {"cert_file", c.CertFile}} {
			if f.val != "" {
				return nil, config.Errorf(f.key, "set, but broker %s is not encrypted (use ssl://, tls:// or wss://)", c.Broker)
			}
		}
	}
	return broker, nil
}

// password returns the password, read from password_file if set.
func (c *Config) password() (string, error) {
	if c.PasswordFile == "" {
		return c.Password, nil
	}
	b, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return "", config.Errorf("password_file", "%v", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", config.Errorf("password_file", "%s is empty", c.PasswordFile)
	}
	if strings.ContainsAny(p, "\r\n") {
		return "", config.Errorf("password_file", "%s holds more than one line", c.PasswordFile)
	}
	return p, nil
}

// tlsConfig builds the TLS settings for broker (as parseBroker returns it)
// from ca_file, cert_file and key_file; nil for a plain-text broker.
func (c *Config) tlsConfig(broker *url.URL) (*tls.Config, error) {
	if !isTLS(broker.Scheme) {
		return nil, nil
	}
	tc := &tls.Config{ServerName: broker.Hostname(), MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, config.Errorf("ca_file", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, config.Errorf("ca_file", "%s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		if _, err := os.Stat(c.CertFile); err != nil {
			return nil, config.Errorf("cert_file", "%v", err)
		}
		if _, err := os.Stat(c.KeyFile); err != nil {
			return nil, config.Errorf("key_file", "%v", err)
		}
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, config.Errorf("cert_file", "with key_file: %v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// defaultPort returns the usual port of an accepted scheme.
func defaultPort(scheme string) (string, bool) {
	switch scheme {
	case "tcp", "mqtt":
		return "1883", true
	case "ssl", "tls", "mqtts":
		return "8883", true
	case "ws":
		return "80", true
	case "wss":
		return "443", true
	}
	return "", false
}

func isTLS(scheme string) bool {
	return scheme == "ssl" || scheme == "tls" || scheme == "mqtts" || scheme == "wss"
}

// parseBroker checks the broker URL and returns it with the port filled in.
func parseBroker(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("empty (example: tcp://192.168.1.10:1883)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL (example: tcp://192.168.1.10:1883)", s)
	}
	if u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("%q lacks a scheme or a host (example: tcp://192.168.1.10:1883)", s)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	port, ok := defaultPort(u.Scheme)
	if !ok {
		return nil, fmt.Errorf("scheme %q is not supported (use tcp, ssl, tls, ws or wss)", u.Scheme)
	}
	if u.User != nil {
		return nil, errors.New("credentials in the URL are not supported: use username and password_file")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q: a query or fragment is not expected", s)
	}
	if (u.Scheme != "ws" && u.Scheme != "wss") && u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("%q: a path is only meaningful for ws:// and wss://", s)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("%q has no host", s)
	}
	if !config.ValidHost(host) {
		return nil, fmt.Errorf("%q: host %q is not an IP address or a host name", s, host)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q is not in 1..65535", p)
		}
		port = p
	}
	u.Host = net.JoinHostPort(host, port)
	if u.Scheme != "ws" && u.Scheme != "wss" {
		u.Path = ""
	}
	return u, nil
}

// checkTopicPrefix accepts one or more plain topic levels.
func checkTopicPrefix(p string) error {
	if p == "" {
		return errors.New("empty")
	}
	if !utf8.ValidString(p) {
		return errors.New("not valid UTF-8")
	}
	if len(p) > maxTopicLevel {
		return fmt.Errorf("longer than %d bytes", maxTopicLevel)
	}
	if strings.ContainsAny(p, "+#\x00") {
		return fmt.Errorf("%q holds a wildcard (+ or #) or a NUL", p)
	}
	if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		return fmt.Errorf("%q has an empty topic level (leading, trailing or doubled /)", p)
	}
	if strings.HasPrefix(p, "$") {
		return fmt.Errorf("%q starts with $, which brokers reserve for themselves", p)
	}
	return nil
}

func isIDChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

// checkNodeID accepts what Home Assistant accepts in discovery topics.
func checkNodeID(id string) error {
	if len(id) > 64 {
		return fmt.Errorf("%q is longer than 64 characters", id)
	}
	for _, r := range id {
		if !isIDChar(r) {
			return fmt.Errorf("%q holds %q: only letters, digits, _ and - are allowed", id, r)
		}
	}
	return nil
}

// checkStatName accepts names that are safe as a topic level and as part of
// a Home Assistant object id.
func checkStatName(s string) error {
	if s == "" {
		return errors.New("empty statistic name")
	}
	if err := checkNodeID(s); err != nil {
		return fmt.Errorf("statistic name %v", err)
	}
	return nil
}

// NodeIDFromHostname reduces a host name to the characters a node id may
// hold: the domain part is cut, other characters become '_'. An empty
// result gives "netspot".
func NodeIDFromHostname(h string) string {
	h, _, _ = strings.Cut(h, ".")
	var b strings.Builder
	for _, r := range h {
		if isIDChar(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	if strings.Trim(b.String(), "_") == "" {
		return "netspot"
	}
	return b.String()
}
