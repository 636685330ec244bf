// Package stats turns the counters of one capture window into the
// statistics netspot watches. Every statistic is a pure function of an
// event.Snapshot, listed once in a table with its name, its unit and a one-line
// description, so that `netspot ls`, the analyzer, the exporters and Home
// Assistant discovery all read the same list.
//
// A statistic that is undefined in a window (a ratio with nothing to divide
// by, a rate over an empty interval) is NaN: it is exported as null and never
// fed to a detector. netspot's ten original statistics keep their names and
// meaning, except that TRAFFIC is really per second and IPv6 counts as IP.
package stats

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"netspot/core/event"
)

// Stat is one statistic: a name (upper case, as in netspot's config), a unit,
// a description, and how to compute it from a window's counters.
type Stat struct {
	Name    string
	Unit    string // "" for a dimensionless ratio or count
	Help    string
	Kind    Kind
	Compute func(s *event.Snapshot) float64
	// Informational statistics measure this machine rather than the
	// network: they are reported but never judged by a detector.
	Informational bool
}

// Kind says what a statistic's values are made of, and so how finely they
// can differ.
type Kind int8

const (
	// Ratio: a share of the window's packets (or addresses, or ports),
	// between 0 and 1 (R_DST_SRC and R_DST_SRC_PORT can exceed 1).
	Ratio Kind = iota
	// Count: a whole number of things seen in the window.
	Count
	// Rate: a whole number of things (packets, bytes) per second of the
	// window.
	Rate
	// Average: a mean over the window's packets (AVG_PKT_SIZE, in bytes).
	Average
	// Machine: a measure of this machine (PERF), never judged.
	Machine
	// Event: a count of events that normal traffic hardly ever produces
	// (an IPv4 address changing hands in ARP, or one host's recent events
	// of a kind from a floor up: the HOST_* statistics). Any value means
	// something: its resolution is an eighth of an event, so that a
	// detector that never saw one judges one far beyond its usual zeros.
	Event
)

// String names the kind: "ratio", "count", "rate", "average", "machine",
// "event" (the API shows it, so that a chart can name values that have no
// unit).
func (k Kind) String() string {
	switch k {
	case Ratio:
		return "ratio"
	case Count:
		return "count"
	case Rate:
		return "rate"
	case Average:
		return "average"
	case Machine:
		return "machine"
	case Event:
		return "event"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// eventResolution is the resolution of an Event statistic. On a detector
// whose calibration saw only zeros, the alarm threshold is half a step
// plus ln(1/((N+1)·q)) steps (see the spot package): 0.53 events for
// N = 2000 and q = 1e-5, 0.84 for N = 200, so that one event is an alarm
// however short the calibration; a statistic whose events do occur in
// normal traffic gets a fitted tail instead.
const eventResolution = 1.0 / 8

// ratioResolution is the resolution of a ratio: shares are compared to
// the percent. A share changes by one packet over the window's packets,
// and finer differences than 1 % are the noise of a window of a few tens
// of packets, not an attack.
const ratioResolution = 0.01

// Resolution is the smallest difference between two values of the
// statistic that means something, for windows of the given period: one
// thing for a count, one thing per window for a rate, one byte for an
// average size, one percent for a ratio (0 for PERF). The detectors take
// values closer than that as equal, which keeps their tail fits sane on
// statistics that take few distinct values (spot.Config.Resolution).
func (s Stat) Resolution(period time.Duration) float64 {
	switch s.Kind {
	case Count, Average:
		return 1
	case Rate:
		if period <= 0 {
			return 0
		}
		return 1 / period.Seconds()
	case Ratio:
		return ratioResolution
	case Event:
		return eventResolution
	}
	return 0
}

// table lists every statistic, sorted by name. It is never modified; All
// and Lookup hand out copies.
//
// The HOST_* statistics look at one host at a time: each is the largest
// count that one source address reached in the window, of its recent
// events of one kind, decayed with a half-life of 30 seconds (see the miner
// package: an event counts 1 when it happens, 1/2 thirty seconds later), so that
// an attack too slow for any window count adds up.
var table = [...]Stat{
	stat("ARP_MAC_MOVE", Event, "packets", "ARP packets in which a MAC address claims an IPv4 address that is neither the first nor one of the last three it claimed within an hour (one machine posing as others: ARP spoofing)",
		func(s *event.Snapshot) float64 { return count(s.ARPMACMove, s) }),
	stat("ARP_RATE", Rate, "packets/s", "ARP packets per second (ARP scans and spoofing)",
		func(s *event.Snapshot) float64 { return rate(s.ARP, s) }),
	stat("ARP_REBIND", Event, "packets", "ARP packets in which an IPv4 address is claimed by a MAC address that is neither the first nor one of the last three that claimed it within 4 hours (ARP spoofing, address conflicts)",
		func(s *event.Snapshot) float64 { return count(s.ARPRebind, s) }),
	stat("ARP_UNSOLICITED", Event, "packets", "ARP replies that answer no request of the last 10 seconds, or one already answered; gratuitous announcements left out (ARP cache poisoning)",
		func(s *event.Snapshot) float64 { return count(s.ARPUnsolicited, s) }),
	stat("AVG_PKT_SIZE", Average, "B", "Average size of IP packets (IP bytes / IP packets)",
		func(s *event.Snapshot) float64 { return ratio(s.IPBytes, s.IP) }),
	stat("BYTES", Rate, "B/s", "Traffic volume on the wire (bytes per second, all frames)",
		func(s *event.Snapshot) float64 { return rate(s.Bytes, s) }),
	stat("DNS_DATA_RATE", Rate, "queries/s", "DNS queries for TXT or NULL records, which carry data, per second (DNS tunnels)",
		func(s *event.Snapshot) float64 { return rate(s.DNSDataQueries, s) }),
	stat("DNS_LABEL_BITS", Count, "bits", "Largest information carried by one label of a DNS query name: its length times the Shannon entropy of its bytes, 0 without queries (data encoded in names: tunnels, exfiltration)",
		func(s *event.Snapshot) float64 { return countF(s.DNSLabelBits, s) }),
	stat("DNS_LABEL_LEN", Count, "characters", "Longest label of a DNS query name, 0 without queries (tunnels and exfiltration fill labels up to their 63 bytes)",
		func(s *event.Snapshot) float64 { return count(s.DNSLabelLen, s) }),
	stat("DNS_NAME_LEN", Count, "characters", "Longest DNS query name, dots included, 0 without queries (tunnels, exfiltration)",
		func(s *event.Snapshot) float64 { return count(s.DNSNameLen, s) }),
	stat("DNS_NXDOMAIN_RATE", Rate, "responses/s", "DNS responses saying that the name does not exist, per second (malware trying generated domain names, tunnels)",
		func(s *event.Snapshot) float64 { return rate(s.DNSNXDomain, s) }),
	stat("DNS_RATE", Rate, "packets/s", "DNS packets (port 53) per second (tunnels, floods, reflection)",
		func(s *event.Snapshot) float64 { return rate(s.DNS, s) }),
	stat("DROPPED", Rate, "packets/s", "Packets the kernel dropped before netspot saw them (per second, live capture)",
		func(s *event.Snapshot) float64 { return rate(s.Dropped, s) }),
	hostStat("HOST_AUTH", "connections", 4, "TCP connection attempts from one source to one port of a password-protected service (FTP, SSH, Telnet, mail, RDP, VNC, WinRM, MQTT, databases)",
		"brute force, also slow", func(s *event.Snapshot) float64 { return s.HostAuth }),
	hostStat("HOST_DNS", "queries", 16, "DNS queries of one source",
		"DNS tunnels and exfiltration, malware trying generated names", func(s *event.Snapshot) float64 { return s.HostDNS }),
	hostStat("HOST_DST_ADDRS", "addresses", 8, "destination addresses one source contacted (TCP connection attempts, UDP requests, pings) that it had not in the last 10 minutes",
		"host sweeps, worms", func(s *event.Snapshot) float64 { return s.HostDstAddrs }),
	hostStat("HOST_DST_PORTS", "ports", 4, "TCP and UDP destination ports one source contacted that it had not in the last 10 minutes",
		"port scans, also slow", func(s *event.Snapshot) float64 { return s.HostDstPorts }),
	hostStat("HOST_FAILED", "attempts", 4, "failed connection attempts of one source: SYNs answered by a RST or by nothing within 5 s, and the ICMP unreachables it received",
		"scans of closed or filtered ports, of a few ports on many hosts, of IP protocols, also slow", func(s *event.Snapshot) float64 { return s.HostFailed }),
	hostStat("HOST_STRAY_SYNACK", "segments", 4, "SYN-ACKs one host received for connections it never opened",
		"SYN-ACK reflection, also slow; backscatter of floods spoofing its address", func(s *event.Snapshot) float64 { return s.HostStraySYNACK }),
	stat("ICMP_ECHO_SIZE", Count, "B", fmt.Sprintf("Largest payload of an ICMP echo request or reply beyond the %d bytes of ordinary pings (32 on Windows, 56 on Linux and macOS), 0 without any (ICMP tunnels carry data in pings)", echoFloor),
		func(s *event.Snapshot) float64 {
			v := count(s.ICMPEchoSize, s)
			if v <= echoFloor {
				return 0 // NaN, undefined, is not <= and stays
			}
			return v
		}),
	stat("ICMP_RATE", Rate, "packets/s", "ICMP messages per second, IPv6 neighbour discovery excluded (ping sweeps, ICMP floods)",
		func(s *event.Snapshot) float64 { return rate(s.ICMP, s) }),
	stat("NB_DST_ADDR", Count, "", "Distinct IP destination addresses in the window (host sweeps, spreading malware)",
		func(s *event.Snapshot) float64 { return count(s.DistinctDstAddr, s) }),
	stat("NB_DST_PORT", Count, "", "Distinct TCP/UDP destination ports in the window (port scans)",
		func(s *event.Snapshot) float64 { return count(s.DistinctDstPort, s) }),
	stat("NB_SRC_ADDR", Count, "", "Distinct IP source addresses in the window (floods from spoofed sources)",
		func(s *event.Snapshot) float64 { return count(s.DistinctSrcAddr, s) }),
	{Name: "PERF", Unit: "packets/s", Help: "Packet processing rate of this machine (packets / time spent decoding them); reported, never judged",
		Kind: Machine, Compute: perf, Informational: true},
	stat("RST_RATE", Rate, "packets/s", "TCP segments with RST set per second (scans of closed ports, reflection)",
		func(s *event.Snapshot) float64 { return rate(s.RST, s) }),
	stat("R_ACK", Ratio, "", "Ratio of TCP segments with ACK set to IP packets (ACK/IP)",
		func(s *event.Snapshot) float64 { return ratio(s.ACK, s.IP) }),
	stat("R_ARP", Ratio, "", "Ratio of ARP packets to all packets (ARP/ALL)",
		func(s *event.Snapshot) float64 { return ratio(s.ARP, s.Packets) }),
	stat("R_DNS", Ratio, "", "Ratio of DNS packets (port 53) to IP packets (DNS/IP)",
		func(s *event.Snapshot) float64 { return ratio(s.DNS, s.IP) }),
	stat("R_DST_SRC", Ratio, "", "Ratio of distinct destination addresses to distinct source addresses",
		func(s *event.Snapshot) float64 { return ratio(s.DistinctDstAddr, s.DistinctSrcAddr) }),
	stat("R_DST_SRC_PORT", Ratio, "", "Ratio of distinct destination ports to distinct source ports",
		func(s *event.Snapshot) float64 { return ratio(s.DistinctDstPort, s.DistinctSrcPort) }),
	stat("R_FIN", Ratio, "", "Ratio of TCP segments with FIN set to IP packets (FIN/IP)",
		func(s *event.Snapshot) float64 { return ratio(s.FIN, s.IP) }),
	stat("R_ICMP", Ratio, "", "Ratio of ICMP messages to IP packets (ICMP/IP)",
		func(s *event.Snapshot) float64 { return ratio(s.ICMP, s.IP) }),
	stat("R_ICMP_UNREACH", Ratio, "", "Ratio of ICMP destination-unreachable messages to IP packets (UDP scans, blocked sweeps)",
		func(s *event.Snapshot) float64 { return ratio(s.ICMPUnreach, s.IP) }),
	stat("R_IP", Ratio, "", "Ratio of IP packets to all packets (IP/ALL)",
		func(s *event.Snapshot) float64 { return ratio(s.IP, s.Packets) }),
	stat("R_IPV6", Ratio, "", "Ratio of IPv6 packets to IP packets (IPv6/IP)",
		func(s *event.Snapshot) float64 { return ratio(s.IPv6, s.IP) }),
	stat("R_RST", Ratio, "", "Ratio of TCP segments with RST set to IP packets (RST/IP)",
		func(s *event.Snapshot) float64 { return ratio(s.RST, s.IP) }),
	stat("R_SYN", Ratio, "", "Ratio of TCP segments with SYN set to IP packets (SYN/IP)",
		func(s *event.Snapshot) float64 { return ratio(s.SYN, s.IP) }),
	stat("R_TCP_NOACK", Ratio, "", "Ratio of TCP segments without ACK that are not a plain SYN to IP packets (FIN, NULL, XMAS scans)",
		func(s *event.Snapshot) float64 { return ratio(s.NoACK, s.IP) }),
	stat("R_UDP", Ratio, "", "Ratio of UDP packets to IP packets (UDP/IP)",
		func(s *event.Snapshot) float64 { return ratio(s.UDP, s.IP) }),
	stat("SYN_RATE", Rate, "packets/s", "TCP segments with SYN set per second (SYN floods, scans)",
		func(s *event.Snapshot) float64 { return rate(s.SYN, s) }),
	stat("TRAFFIC", Rate, "packets/s", "IP packet rate (IP packets per second)",
		func(s *event.Snapshot) float64 { return rate(s.IP, s) }),
}

// defaultNames lists the statistics `netspot run` watches when the config
// names none, chosen on labelled replays (docs/evaluation.md): counts and
// rates, which stay meaningful in windows of a few packets, where ratios such
// as R_ACK or R_IP swing between 0 and 1 and raise tens of false alarms an
// hour; the per-host counts of brute force, failed connections and stray
// SYN-ACKs, the longest DNS label, the ARP changes of hands and unsolicited
// replies, and the largest ping, which catch the slow and targeted attacks
// that no count of the whole window shows. PERF is reported, never judged.
var defaultNames = [...]string{
	"ARP_MAC_MOVE", "ARP_RATE", "ARP_REBIND", "ARP_UNSOLICITED", "DNS_LABEL_LEN",
	"DNS_RATE", "HOST_AUTH", "HOST_FAILED", "HOST_STRAY_SYNACK", "ICMP_ECHO_SIZE",
	"ICMP_RATE", "NB_DST_ADDR", "NB_DST_PORT", "NB_SRC_ADDR", "PERF", "RST_RATE",
	"R_ICMP_UNREACH", "R_TCP_NOACK", "SYN_RATE", "TRAFFIC",
}

// echoFloor is the largest echo payload that ordinary pings carry: 32
// bytes from Windows, 56 from Linux and macOS, 64 from some monitoring
// tools. Reported as they are, these sizes raised alarms on every network
// whose calibration saw no ping (a device pinging after days without any):
// sizes up to the floor are reported as 0, and a tunnel, which fills its
// pings with data, stands out from a quiet zero.
const echoFloor = 64

// All returns every statistic, sorted by name.
func All() []Stat { return slices.Clone(table[:]) }

// Lookup returns the statistic called name (exact, upper case).
func Lookup(name string) (Stat, bool) {
	i, ok := slices.BinarySearchFunc(table[:], name, func(s Stat, n string) int {
		switch {
		case s.Name < n:
			return -1
		case s.Name > n:
			return 1
		}
		return 0
	})
	if !ok {
		return Stat{}, false
	}
	return table[i], true
}

// Default returns the names of the statistics watched when the config names
// none.
func Default() []string { return slices.Clone(defaultNames[:]) }

// Names returns the names of every statistic, sorted.
func Names() []string {
	names := make([]string, len(table))
	for i, s := range table {
		names[i] = s.Name
	}
	return names
}

// hostStat is a table entry of a HOST_* statistic: the largest count that
// one host reached in the window, of its events of one kind decayed with a
// half-life of 30 seconds, reported from floor up (0 below it).
//
// The floor is what every host does (a couple of connections to a login
// service, a few new ports): below it a host's activity is not reported.
// It keeps the detector from learning the start of a slow attack. Such an
// attack's count climbs by a few events a window, and each step, just
// above the last, would be learnt as a normal extreme and raise the
// threshold with it, so that a password guesser at a connection every
// three seconds was never flagged. Counted from the floor up, its count
// appears at once far above the zeros of a quiet network, and the
// statistic's fine resolution (Event) makes that first value an alarm
// however short the calibration; where hosts do reach the floor in normal
// traffic, the detector learns them and judges the values beyond them.
func hostStat(name, unit string, floor float64, what, catches string, get func(*event.Snapshot) float64) Stat {
	help := fmt.Sprintf("Largest number of recent %s, decayed with a half-life of 30 s, 0 below %g (%s)", what, floor, catches)
	return Stat{Name: name, Kind: Event, Unit: unit, Help: help, Compute: func(s *event.Snapshot) float64 {
		n := get(s)
		if n < floor {
			n = 0
		}
		return countF(n, s)
	}}
}

// stat is a table entry of a statistic judged by detectors.
func stat(name string, kind Kind, unit, help string, compute func(*event.Snapshot) float64) Stat {
	return Stat{Name: name, Kind: kind, Unit: unit, Help: help, Compute: compute}
}

// ratio is n/d, NaN when d is zero (0/0 included: nothing to compare).
func ratio(n, d uint64) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(n) / float64(d)
}

// seconds is the length of the window; zero for an empty partial window.
func seconds(s *event.Snapshot) float64 {
	return s.End.Sub(s.Start).Seconds()
}

// rate is n per second over the window, NaN for an empty interval.
func rate(n uint64, s *event.Snapshot) float64 {
	d := seconds(s)
	if d <= 0 {
		return math.NaN()
	}
	return float64(n) / d
}

// count is a per-window count. It is undefined only for an empty interval;
// a quiet window has zero distinct destinations, which is information.
func count(n uint64, s *event.Snapshot) float64 {
	if seconds(s) <= 0 {
		return math.NaN()
	}
	return float64(n)
}

// countF is count for a fractional (decayed) count.
func countF(n float64, s *event.Snapshot) float64 {
	if seconds(s) <= 0 {
		return math.NaN()
	}
	return n
}

// perf is packets per second of decoding time; NaN when nothing was decoded.
func perf(s *event.Snapshot) float64 {
	if s.Packets == 0 || s.Busy <= 0 {
		return math.NaN()
	}
	return float64(s.Packets) / s.Busy.Seconds()
}
