//go:build !linux

package capture

import "fmt"

// Live is a live capture source; it only exists on Linux.
type Live struct{}

// OpenLive fails on this system: live capture needs Linux's AF_PACKET.
func OpenLive(c LiveConfig) (*Live, error) {
	return nil, fmt.Errorf("capture: %s: %w", c.Device, ErrUnsupported)
}

// IsDevice reports whether name is a network interface; never on this system.
func IsDevice(name string) bool { return false }

// Next is never reached: OpenLive fails.
func (l *Live) Next(p *Packet) error { return ErrUnsupported }

// Stats is never reached: OpenLive fails.
func (l *Live) Stats() (LiveStats, error) { return LiveStats{}, ErrUnsupported }

// Close does nothing.
func (l *Live) Close() error { return nil }
