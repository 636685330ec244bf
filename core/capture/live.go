package capture

import "time"

// LiveConfig says how to open a live interface.
type LiveConfig struct {
	// Device is an interface name, or "any" for all interfaces.
	Device string
	// Promiscuous asks the interface for frames not addressed to it (a
	// mirrored switch port needs it). Ignored on "any".
	Promiscuous bool
	// SnapLen is how many bytes of each frame are kept.
	SnapLen int
	// Filter is a filter expression (see package filter), "" for none.
	Filter string
	// RingBytes is the size of the ring shared with the kernel. Frames that
	// arrive while it is full are dropped by the kernel and counted.
	RingBytes int
	// BlockTimeout is the longest a frame waits in a partly filled ring
	// block before it is handed over.
	BlockTimeout time.Duration
	// PollTimeout is the longest Next waits before it returns ErrTimeout.
	PollTimeout time.Duration
	// FanoutGroup, when not 0, joins the socket to this PACKET_FANOUT group
	// (hash of the flow, IP fragments reassembled), so that several sockets
	// opened with the same group share the traffic, each flow on one socket.
	FanoutGroup uint16
}

// LiveStats are the counters a live source reads from the kernel.
type LiveStats struct {
	// Drops is the number of frames the kernel dropped since the previous
	// call because the ring was full.
	Drops uint64
	// Idle is how long Next waited for frames since the previous call.
	Idle time.Duration
}

// AnyDevice is the device name that captures on every interface.
const AnyDevice = "any"
