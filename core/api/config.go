package api

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"netspot/core/config"
)

// Config is the [api] section: where `netspot serve` listens and who may
// use it. It applies when netspot serve starts: no key of it can change
// through the API itself.
type Config struct {
	Endpoint  string `toml:"endpoint" api:"serve" comment:"Where the API and dashboard listen: tcp://HOST:PORT or unix:///PATH. The default answers this machine only; tcp://0.0.0.0:11000 opens it to the network (set a token then)"`
	Token     string `toml:"token" api:"secret" comment:"Bearer token every API request must carry (Authorization: Bearer TOKEN), at least 16 characters; empty: no authentication"`
	TokenFile string `toml:"token_file" api:"path" comment:"File holding the token (first line), instead of token, so that the config file can be readable by others"`
	// SocketMode and SocketGroup set who may use a Unix socket endpoint:
	// its permissions are then the API's access control, as for
	// docker.sock or mosquitto's socket.
	SocketMode  string `toml:"socket_mode" api:"serve" comment:"Permissions of a unix:// endpoint's socket, in octal: 0600 lets only netspot's own user in, 0660 its group too. Whoever may connect may change the configuration (no token needed on a socket)"`
	SocketGroup string `toml:"socket_group" api:"serve" comment:"Group of a unix:// endpoint's socket (with socket_mode 0660); empty: netspot's own group"`
	// CaptureDir is where the API may point the capture at files: without
	// it, the capture device chosen through the API is an interface.
	CaptureDir string `toml:"capture_dir" api:"path" comment:"Directory whose capture files the API may replay (miner.device); empty: through the API the device is a network interface only"`
	Autostart  bool   `toml:"autostart" api:"serve" comment:"Start capturing when netspot serve starts, as after a reboot of the box, instead of waiting for a start request"`
	// History bounds the memory kept for the dashboard: one Record per
	// period.
	History      int `toml:"history" api:"serve" comment:"Recent records kept for the dashboard's charts and GET /api/v1/records (one per period)"`
	AlarmHistory int `toml:"alarm_history" api:"serve" comment:"Alarms kept in the alarm history (GET /api/v1/alarms)"`
	MaxClients   int `toml:"max_clients" api:"serve" comment:"Live stream clients (dashboards, scripts) served at once; more are refused with 503"`
	// StreamBuffer is how far a stream client may fall behind before it
	// is disconnected (it reconnects and resumes from the recent records):
	// a slow client never blocks the pipeline.
	StreamBuffer int `toml:"stream_buffer" api:"serve" comment:"Events a live stream client may fall behind by before it is disconnected (it then reconnects and resumes)"`
}

// DefaultEndpoint is the original netspot's address, loopback only.
const DefaultEndpoint = "tcp://localhost:11000"

// DefaultConfig listens on loopback without a token and keeps ten minutes
// of records at the default one-second period.
func DefaultConfig() Config {
	return Config{
		Endpoint:     DefaultEndpoint,
		SocketMode:   "0600",
		History:      600,
		AlarmHistory: 500,
		MaxClients:   16,
		StreamBuffer: 256,
	}
}

// Limits of the section's sizes: enough for a day of one-second records,
// small enough that a typo cannot exhaust a small board's memory.
const (
	maxHistory      = 86400
	maxAlarmHistory = 100000
	maxClients      = 1024
	maxStreamBuffer = 65536
	minTokenLen     = 16
)

// Validate checks every key; errors name the key.
func (c Config) Validate() error {
	if _, _, err := ParseEndpoint(c.Endpoint); err != nil {
		return config.Errorf("endpoint", "%v", err)
	}
	if _, err := c.socketMode(); err != nil {
		return config.Errorf("socket_mode", "%v", err)
	}
	if c.SocketGroup != "" && strings.ContainsAny(c.SocketGroup, " :/\x00") {
		return config.Errorf("socket_group", "%q is not a group name", c.SocketGroup)
	}
	if c.CaptureDir != "" && !filepath.IsAbs(c.CaptureDir) {
		return config.Errorf("capture_dir", "%q is not an absolute path", c.CaptureDir)
	}
	if c.Token != "" && c.TokenFile != "" {
		return config.Errorf("token_file", "set token or token_file, not both")
	}
	if c.Token != "" {
		if err := checkToken(c.Token); err != nil {
			return config.Errorf("token", "%v", err)
		}
	}
	for _, k := range []struct {
		key      string
		v, lo, h int
	}{
		{"history", c.History, 1, maxHistory},
		{"alarm_history", c.AlarmHistory, 1, maxAlarmHistory},
		{"max_clients", c.MaxClients, 1, maxClients},
		{"stream_buffer", c.StreamBuffer, 16, maxStreamBuffer},
	} {
		if k.v < k.lo || k.v > k.h {
			return config.Errorf(k.key, "%d is out of range %d..%d", k.v, k.lo, k.h)
		}
	}
	return nil
}

// socketMode parses socket_mode.
func (c Config) socketMode() (os.FileMode, error) {
	m, err := strconv.ParseUint(c.SocketMode, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("%q: want octal permissions such as 0600 or 0660", c.SocketMode)
	}
	if m&0o002 != 0 {
		return 0, fmt.Errorf("%q lets every user of the machine write to the socket, and so change netspot's configuration: use 0600 or 0660", c.SocketMode)
	}
	return os.FileMode(m), nil
}

// LoadToken returns the token the server requires: token, or the first line
// of token_file; "" means no authentication. Errors name the key.
func (c Config) LoadToken() (string, error) {
	if c.TokenFile == "" {
		return c.Token, nil
	}
	b, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", config.Errorf("token_file", "%v", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	tok := strings.TrimSpace(line)
	if tok == "" {
		return "", config.Errorf("token_file", "%s: empty: write the token on its first line", c.TokenFile)
	}
	if err := checkToken(tok); err != nil {
		return "", config.Errorf("token_file", "%s: %v", c.TokenFile, err)
	}
	return tok, nil
}

// checkToken accepts printable ASCII without spaces, as a bearer token in
// a header must be, long enough not to be guessed.
func checkToken(tok string) error {
	if len(tok) < minTokenLen {
		return fmt.Errorf("%d characters, fewer than %d: too easy to guess (openssl rand -hex 16 makes a good one)", len(tok), minTokenLen)
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] <= ' ' || tok[i] > '~' {
			return fmt.Errorf("character %d is not printable ASCII (spaces are not allowed either)", i+1)
		}
	}
	return nil
}

// maxUnixPath is the room for a socket path in sockaddr_un, less the NUL.
const maxUnixPath = 107

// ParseEndpoint splits an endpoint "tcp://HOST:PORT" (also tcp4, tcp6) or
// "unix:///PATH" into the network and address of net.Listen.
func ParseEndpoint(endpoint string) (network, address string, err error) {
	scheme, rest, ok := strings.Cut(endpoint, "://")
	if !ok {
		return "", "", fmt.Errorf("%q: want tcp://HOST:PORT or unix:///PATH", endpoint)
	}
	switch scheme {
	case "tcp", "tcp4", "tcp6":
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return "", "", fmt.Errorf("%q: want tcp://HOST:PORT (%v)", endpoint, errors.Unwrap(err))
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return "", "", fmt.Errorf("%q: port %q is not a number from 0 to 65535", endpoint, port)
		}
		if strings.ContainsAny(host, "/?#@ ") {
			return "", "", fmt.Errorf("%q: %q is not a host name or address", endpoint, host)
		}
		return scheme, net.JoinHostPort(host, strconv.FormatUint(n, 10)), nil
	case "unix":
		switch {
		case !strings.HasPrefix(rest, "/"):
			return "", "", fmt.Errorf("%q: the socket path must be absolute (unix:///run/netspot/api.sock)", endpoint)
		case len(rest) > maxUnixPath:
			return "", "", fmt.Errorf("%q: socket path longer than %d bytes", endpoint, maxUnixPath)
		case strings.IndexByte(rest, 0) >= 0:
			return "", "", fmt.Errorf("%q: NUL byte in the socket path", endpoint)
		}
		return "unix", rest, nil
	}
	return "", "", fmt.Errorf("%q: unknown scheme %q (want tcp://HOST:PORT or unix:///PATH)", endpoint, scheme)
}

// Loopback reports whether a TCP listen address only answers this machine:
// "localhost" or a loopback IP. An empty host (every interface) is not.
func Loopback(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
