// Package event holds the plain data types passed along the pipeline: the
// counters of one capture window (Snapshot), and what the analyzer makes of
// them (Record, with its statistics and alarms).
//
// It imports only the standard library so that every stage and every sink can
// share these types without depending on each other.
package event

import (
	"fmt"
	"time"
)

// Counters are the raw per-window counts the miner keeps while decoding
// packets. Rates and ratios are derived from them by the stats package.
//
// Most fields are plain counts that can be summed across capture workers;
// the Distinct* fields are estimates of distinct values that the miner merges
// itself before it emits a Snapshot, and the Host* fields and the other
// maxima merge by their maximum.
type Counters struct {
	Packets uint64 // frames seen (every link type, decoded or not)
	Bytes   uint64 // wire length of those frames (original length, not the captured part)

	IP      uint64 // IPv4 and IPv6 packets (the outermost IP header)
	IPv4    uint64
	IPv6    uint64
	IPBytes uint64 // total length of IP packets, from the IP headers

	ARP         uint64 // ARP packets
	ICMP        uint64 // ICMPv4 and ICMPv6 messages, excluding IPv6 neighbour discovery
	ICMPUnreach uint64 // ICMP destination unreachable (v4 type 3, v6 type 1)
	// NDP counts ICMPv6 neighbour discovery messages (router and neighbour
	// solicitations and advertisements, redirects: types 133 to 137), the
	// IPv6 counterpart of ARP, kept out of ICMP so that R_ICMP means the same
	// on IPv4 and IPv6 networks.
	NDP uint64
	TCP uint64
	UDP uint64
	DNS uint64 // UDP or TCP packets to or from port 53

	SYN    uint64 // TCP segments with SYN set (with or without ACK)
	SYNACK uint64 // TCP segments with SYN and ACK set
	ACK    uint64 // TCP segments with ACK set
	FIN    uint64 // TCP segments with FIN set
	RST    uint64 // TCP segments with RST set
	NoACK  uint64 // TCP segments without ACK that are not a plain SYN (FIN, NULL, XMAS scans)

	Malformed uint64 // frames that could not be decoded (truncated, bad header)

	// Distinct counts over the window: exact up to the miner's cap, then an
	// estimate (see the miner's documentation).
	DistinctSrcAddr uint64 // distinct IP source addresses
	DistinctDstAddr uint64 // distinct IP destination addresses
	DistinctSrcPort uint64 // distinct TCP/UDP source ports
	DistinctDstPort uint64 // distinct TCP/UDP destination ports

	// What single hosts did: each is the largest value that one source
	// address reached during the window, of a count of its recent events
	// that decays with a half-life of 30 seconds (an event counts 1 when it
	// happens, 1/2 half a minute later), kept by the miner in fixed-size
	// sketches (see its documentation for their error bounds). Decay lets one
	// window see an attack too slow for any window count: two connections a
	// second add up to about 87. A host that was silent in the window does
	// not count. Not additive: capture workers' values merge by their
	// maximum.
	HostDstPorts    float64 `merge:"max"` // new destination ports of one source (TCP connection attempts, UDP to a lower port than its own)
	HostDstAddrs    float64 `merge:"max"` // new destination addresses of one source (TCP connection attempts, UDP as above, ICMP echo requests)
	HostFailed      float64 `merge:"max"` // failed connection attempts of one source: SYNs answered by a RST or by nothing, and the ICMP unreachables it received
	HostStraySYNACK float64 `merge:"max"` // SYN-ACKs one host received for connections it never opened (reflection, backscatter of spoofed floods)
	HostAuth        float64 `merge:"max"` // TCP connection attempts from one source to one authentication port (FTP, SSH, Telnet, mail, RDP, VNC, WinRM, MQTT, databases)
	HostDNS         float64 `merge:"max"` // DNS queries of one source

	// DNS queries and responses (UDP port 53), ARP and ICMP in detail.
	DNSQueries     uint64  // standard DNS queries with a question
	DNSDataQueries uint64  // of which for TXT or NULL records, which carry data
	DNSNXDomain    uint64  // DNS responses saying the name does not exist
	DNSNameLen     uint64  `merge:"max"` // longest query name, in characters with the dots (the captured part of a cut packet); a maximum
	DNSLabelLen    uint64  `merge:"max"` // longest label of a query name; a maximum
	DNSLabelBits   float64 `merge:"max"` // largest information of one label of a query name: its length times the Shannon entropy of its bytes, in bits; a maximum
	ARPRebind      uint64  // ARP packets binding an IPv4 address to a MAC address that was neither its first nor one of its last three
	ARPMACMove     uint64  // ARP packets in which a MAC address claims an IPv4 address that was neither its first nor one of its last three
	ARPUnsolicited uint64  // ARP replies that answer no request seen (gratuitous announcements left out)
	ICMPEchoSize   uint64  `merge:"max"` // largest payload of an ICMP echo request or reply, in bytes (from the IP header); a maximum
}

// Add sums the additive counters of o into c and keeps the larger of the
// maxima (the fields tagged merge:"max": the Host* fields, the longest DNS
// names, the largest echo). Distinct
// counts are not additive and are left untouched: the miner merges them from
// its sets.
func (c *Counters) Add(o *Counters) {
	c.Packets += o.Packets
	c.Bytes += o.Bytes
	c.IP += o.IP
	c.IPv4 += o.IPv4
	c.IPv6 += o.IPv6
	c.IPBytes += o.IPBytes
	c.ARP += o.ARP
	c.ICMP += o.ICMP
	c.ICMPUnreach += o.ICMPUnreach
	c.NDP += o.NDP
	c.TCP += o.TCP
	c.UDP += o.UDP
	c.DNS += o.DNS
	c.SYN += o.SYN
	c.SYNACK += o.SYNACK
	c.ACK += o.ACK
	c.FIN += o.FIN
	c.RST += o.RST
	c.NoACK += o.NoACK
	c.Malformed += o.Malformed
	c.DNSQueries += o.DNSQueries
	c.DNSDataQueries += o.DNSDataQueries
	c.DNSNXDomain += o.DNSNXDomain
	c.ARPRebind += o.ARPRebind
	c.ARPMACMove += o.ARPMACMove
	c.ARPUnsolicited += o.ARPUnsolicited
	c.HostDstPorts = max(c.HostDstPorts, o.HostDstPorts)
	c.HostDstAddrs = max(c.HostDstAddrs, o.HostDstAddrs)
	c.HostFailed = max(c.HostFailed, o.HostFailed)
	c.HostStraySYNACK = max(c.HostStraySYNACK, o.HostStraySYNACK)
	c.HostAuth = max(c.HostAuth, o.HostAuth)
	c.HostDNS = max(c.HostDNS, o.HostDNS)
	c.DNSNameLen = max(c.DNSNameLen, o.DNSNameLen)
	c.DNSLabelLen = max(c.DNSLabelLen, o.DNSLabelLen)
	c.DNSLabelBits = max(c.DNSLabelBits, o.DNSLabelBits)
	c.ICMPEchoSize = max(c.ICMPEchoSize, o.ICMPEchoSize)
}

// Snapshot is what the miner emits at each period boundary: the counters of
// the window [Start, End).
type Snapshot struct {
	Start, End time.Time
	// Partial is set on the last window of a capture file when the file ends
	// before the window does.
	Partial bool
	Counters
	// Dropped counts packets the kernel dropped during the window (live
	// capture only): they were never counted above.
	Dropped uint64
	// Busy is how long the miner spent decoding this window's packets; the
	// PERF statistic divides the packets by it.
	Busy time.Duration
	// CaptureErr is non-empty when the source reported an error during the
	// window (interface down, permission lost). The window is still emitted.
	CaptureErr string
}

// Side says which tail of a statistic's distribution a threshold or an alarm
// belongs to.
type Side uint8

const (
	Up   Side = iota // unusually high values
	Down             // unusually low values
)

func (s Side) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("side(%d)", uint8(s))
}

// MarshalText writes "up" or "down".
func (s Side) MarshalText() ([]byte, error) {
	if s > Down {
		return nil, fmt.Errorf("event: invalid side %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText reads "up" or "down".
func (s *Side) UnmarshalText(b []byte) error {
	switch string(b) {
	case "up":
		*s = Up
	case "down":
		*s = Down
	default:
		return fmt.Errorf("event: invalid side %q (want up or down)", b)
	}
	return nil
}

// Stat is the value of one statistic in one window, with the thresholds its
// detectors will judge the next value against.
type Stat struct {
	Name  string
	Value float64 // NaN when the statistic is undefined in the window (0/0)
	// Up and Down are the alarm thresholds after this window; NaN when the
	// side is not watched or its detector is still learning.
	Up, Down float64
	// Learning is true while a detector of this statistic is still calibrating.
	Learning bool
	// AlarmID is the id of this statistic's active alarm, empty when none.
	AlarmID string
}

// Alarm is raised when a statistic leaves the range its detector considers
// normal. One Alarm is emitted when the excursion starts; while it lasts the
// statistic's AlarmID in each Record says it is still active, and it is
// cleared when the statistic returns to normal.
type Alarm struct {
	// ID identifies the alarm uniquely, also across restarts and replays, so
	// that consumers can deduplicate deliveries.
	ID          string
	Stat        string
	Side        Side
	Value       float64
	Threshold   float64
	Probability float64 // of a value at least this extreme under the fitted tail; NaN if unknown
	Start, End  time.Time
}

// Record is what the analyzer produces for one window: every watched
// statistic, the alarms raised in this window, and the health of capture.
// A Record is shared by all sinks and must not be modified once published.
type Record struct {
	Start, End time.Time
	Partial    bool
	Stats      []Stat
	Alarms     []Alarm
	// LearningLeft is the number of windows until every detector watches;
	// 0 once all are calibrated.
	LearningLeft int
	Packets      uint64 // frames seen in the window
	Dropped      uint64 // frames the kernel dropped in the window
	Malformed    uint64 // frames that could not be decoded
	CaptureErr   string // non-empty when capture failed during the window
}

// ActiveAlarms reports whether any statistic has an active alarm.
func (r *Record) ActiveAlarms() bool {
	for i := range r.Stats {
		if r.Stats[i].AlarmID != "" {
			return true
		}
	}
	return false
}
