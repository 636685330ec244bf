package prometheus

import (
	"fmt"
	"net"
	"strconv"

	"netspot/core/config"
	"netspot/core/sink"
)

// DefaultPort is the port of the /metrics endpoint. It is outside the
// ports of the Prometheus server (9090), Pushgateway (9091), Alertmanager
// (9093) and node_exporter (9100), which may run on the same box.
const DefaultPort = 9798

// Config is the [exporter.prometheus] section.
type Config struct {
	Serve  bool   `toml:"enabled" api:"endpoint" comment:"Serve the latest statistics, their thresholds and the alarm counts on /metrics for Prometheus to scrape"`
	Listen string `toml:"listen" api:"endpoint" comment:"Address of the /metrics endpoint, host:port; \":9798\" listens on every interface, \"127.0.0.1:9798\" on this machine only"`
}

// DefaultConfig serves nothing; once enabled, on every interface.
func DefaultConfig() Config {
	return Config{Listen: ":" + strconv.Itoa(DefaultPort)}
}

// Validate checks the listen address.
func (c Config) Validate() error {
	if err := checkListen(c.Listen); err != nil {
		return config.Errorf("listen", "%v", err)
	}
	return nil
}

func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q: want host:port, e.g. \":%d\" or \"127.0.0.1:%d\" (an IPv6 address in brackets)", s, DefaultPort, DefaultPort)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q: want a number from 1 to 65535", s, port)
	}
	if host != "" && !config.ValidHost(host) {
		return fmt.Errorf("%q: host %q is not an IP address or a name", s, host)
	}
	return nil
}

// Factory makes the Prometheus exporter from [exporter.prometheus].
func Factory() sink.Factory {
	return sink.Factory{
		Name:    "prometheus",
		Section: "exporter.prometheus",
		Comment: "Prometheus /metrics endpoint",
		Config:  func() sink.Config { c := DefaultConfig(); return &c },
	}
}

// Enabled reports whether /metrics is served.
func (c Config) Enabled() bool { return c.Serve }

// New starts serving /metrics.
func (c Config) New(env sink.Env) (sink.Sink, error) {
	return New(c, Options{Log: env.Log, SinkStats: env.SinkStats, Version: env.Version})
}
