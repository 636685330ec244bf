// Package capture reads packets from capture files (pcap, pcapng) and, on
// Linux, from live interfaces through an AF_PACKET TPACKET_V3 ring, without
// cgo or libpcap. Sources hand out packets one at a time with no allocation:
// the bytes of a packet are valid until the next call.
//
// Errors that a user can act on are typed so that the command line can map
// them to distinct exit codes: ErrNotFound (no such file or device),
// *PermissionError (missing capability), ErrFormat (empty, truncated or
// corrupt capture file, unsupported link type).
package capture

import (
	"errors"
	"fmt"
	"strings"
)

// Link says how to find the network layer in a packet's bytes.
type Link uint8

// Link types. A file declares one (pcapng: one per interface); live capture
// uses LinkEthernet on Ethernet-like interfaces and LinkNetwork elsewhere.
const (
	LinkUnknown  Link = iota // not decodable; the packet is only counted
	LinkEthernet             // Ethernet II / 802.3, possibly with 802.1Q or QinQ tags
	LinkSLL                  // Linux cooked capture v1 (DLT_LINUX_SLL, 113)
	LinkSLL2                 // Linux cooked capture v2 (DLT_LINUX_SLL2, 276)
	LinkRaw                  // raw IP, IPv4 or IPv6 told apart by the version nibble
	LinkIPv4                 // raw IPv4 only (LINKTYPE_IPV4, 228)
	LinkIPv6                 // raw IPv6 only (LINKTYPE_IPV6, 229)
	LinkNull                 // BSD loopback: a 4-byte address family, then raw IP
	// LinkNetwork means the kernel removed the link header: the bytes start
	// at the network header and Packet.Proto holds the EtherType.
	LinkNetwork
)

var linkNames = [...]string{"unknown", "Ethernet", "Linux SLL", "Linux SLL2", "raw IP", "raw IPv4", "raw IPv6", "BSD loopback", "network (cooked)"}

func (l Link) String() string {
	if int(l) < len(linkNames) {
		return linkNames[l]
	}
	return fmt.Sprintf("link(%d)", uint8(l))
}

// linkFromDLT maps a pcap/pcapng link-type number to a Link.
func linkFromDLT(dlt uint32) (Link, bool) {
	switch dlt {
	case 1:
		return LinkEthernet, true
	case 113:
		return LinkSLL, true
	case 276:
		return LinkSLL2, true
	case 101, 12, 14: // LINKTYPE_RAW, and the historical DLT_RAW values
		return LinkRaw, true
	case 228:
		return LinkIPv4, true
	case 229:
		return LinkIPv6, true
	case 0, 108: // DLT_NULL, DLT_LOOP
		return LinkNull, true
	}
	return LinkUnknown, false
}

// SupportedLinkTypes lists the file link types this package decodes, for
// error messages and documentation.
const SupportedLinkTypes = "Ethernet (1), Linux SLL (113), Linux SLL2 (276), raw IP (101, 12, 14), raw IPv4 (228), raw IPv6 (229), BSD loopback (0, 108)"

// Packet is one captured frame. Data belongs to the source and is valid only
// until the next call to its Next method.
type Packet struct {
	Data   []byte // captured bytes (at most the snapshot length)
	Length int    // length of the frame on the wire
	Time   int64  // capture time, Unix nanoseconds
	Link   Link
	Proto  uint16 // EtherType, set when Link is LinkNetwork
}

// Source hands out packets one by one.
type Source interface {
	// Next fills p with the next packet. It returns io.EOF at the end of a
	// file and ErrTimeout when a live source saw nothing within its poll
	// timeout; any other error means the source is broken.
	Next(p *Packet) error
	Close() error
}

// ErrNotFound says that the capture file or the device does not exist.
var ErrNotFound = errors.New("not found")

// ErrFormat says that a capture file cannot be read: empty, not a capture
// file, corrupt, or of an unsupported link type. The wrapping error says what.
var ErrFormat = errors.New("unreadable capture file")

// ErrTimeout is returned by a live source's Next when no packet arrived
// within the poll timeout. It is not a failure.
var ErrTimeout = errors.New("no packet before the poll timeout")

// ErrUnsupported is returned where live capture is not available (not Linux).
var ErrUnsupported = errors.New("live capture is only supported on Linux")

// PermissionError says that the process may not do what capture needs, and
// which Linux capability would allow it (empty for plain file permissions).
type PermissionError struct {
	Op         string // what was attempted, e.g. "open packet socket on eth0"
	Capability string // e.g. "CAP_NET_RAW"; empty when not a capability matter
	Err        error
}

func (e *PermissionError) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": permission denied")
	if e.Capability != "" {
		b.WriteString(" (needs ")
		b.WriteString(e.Capability)
		b.WriteString(": run as root or grant it, e.g. setcap cap_net_raw,cap_net_admin=eip on the binary)")
	}
	return b.String()
}

func (e *PermissionError) Unwrap() error { return e.Err }
