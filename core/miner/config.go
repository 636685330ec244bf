package miner

import (
	"math"
	"strings"
	"time"

	"netspot/core/capture/filter"
	"netspot/core/config"
)

// Config is the [miner] section: where packets come from.
type Config struct {
	Device      string          `toml:"device" comment:"interface to watch (\"any\" for every interface), or path of a pcap/pcapng capture file to replay (\"-\": standard input)"`
	Promiscuous bool            `toml:"promiscuous" comment:"capture frames not addressed to this machine, as a mirrored switch port needs (live capture; not applicable to \"any\")"`
	SnapshotLen int             `toml:"snapshot_len" comment:"bytes kept of each frame (live capture), 96 to 262144"`
	Timeout     config.Duration `toml:"timeout" comment:"longest delay before a captured frame is processed (live capture); 0 picks one from the period"`
	Filter      string          `toml:"filter" comment:"tcpdump-style filter, e.g. \"not port 22\" or \"net 192.168.0.0/16 and (tcp or udp)\"; empty keeps every frame"`
	RingSizeMB  int             `toml:"ring_size_mb" comment:"memory shared with the kernel for live capture, in MiB, split among the workers; when it fills, the kernel drops frames and netspot reports them"`
	Workers     int             `toml:"workers" comment:"decoding workers for live capture, sharing the traffic by flow (kernel fan-out); 1 is enough for about 1 million packets per second per core"`
}

// DefaultConfig returns netspot's defaults: every interface, promiscuous,
// whole frames, no filter, an 8 MiB ring, one worker.
func DefaultConfig() Config {
	return Config{
		Device:      "any",
		Promiscuous: true,
		SnapshotLen: 65535,
		Timeout:     0,
		Filter:      "",
		RingSizeMB:  8,
		Workers:     1,
	}
}

// Limits of the configuration values.
const (
	MinSnapshotLen = 96     // room for link, IPv6 and TCP headers
	MaxSnapshotLen = 262144 // libpcap's maximum
	MaxTimeout     = 10 * time.Second
	MaxRingSizeMB  = 4096
	MaxWorkers     = 64
)

// Validate checks every value and names the key of the first bad one.
func (c *Config) Validate() error {
	switch {
	case strings.TrimSpace(c.Device) == "":
		return config.Errorf("device", "empty: give an interface name, \"any\", or a capture file path")
	case strings.ContainsRune(c.Device, 0):
		return config.Errorf("device", "contains a NUL byte")
	case c.SnapshotLen < MinSnapshotLen || c.SnapshotLen > MaxSnapshotLen:
		return config.Errorf("snapshot_len", "%d is out of range %d to %d (shorter frames lose the headers netspot counts)", c.SnapshotLen, MinSnapshotLen, MaxSnapshotLen)
	case c.Timeout < 0:
		return config.Errorf("timeout", "%s is negative", c.Timeout)
	case c.Timeout.D() > MaxTimeout:
		return config.Errorf("timeout", "%s is longer than %s", c.Timeout, MaxTimeout)
	case c.Timeout > 0 && c.Timeout.D() < time.Millisecond:
		return config.Errorf("timeout", "%s is shorter than the kernel's 1ms resolution (0 picks one from the period)", c.Timeout)
	case c.RingSizeMB < 1 || c.RingSizeMB > MaxRingSizeMB:
		return config.Errorf("ring_size_mb", "%d is out of range 1 to %d", c.RingSizeMB, MaxRingSizeMB)
	case c.RingSizeMB > math.MaxInt>>20:
		// On a 32-bit system the size in bytes would not fit an int (and
		// could not be mapped anyway).
		return config.Errorf("ring_size_mb", "%d is more than this 32-bit system can map (at most %d)", c.RingSizeMB, math.MaxInt>>20)
	case c.Workers < 1 || c.Workers > MaxWorkers:
		return config.Errorf("workers", "%d is out of range 1 to %d", c.Workers, MaxWorkers)
	case c.RingSizeMB < c.Workers:
		return config.Errorf("ring_size_mb", "%d MiB cannot be split among %d workers (at least 1 MiB each)", c.RingSizeMB, c.Workers)
	}
	if _, err := filter.Parse(c.Filter); err != nil {
		return config.Errorf("filter", "%v", err)
	}
	return nil
}
