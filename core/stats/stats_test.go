package stats

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"netspot/core/event"
)

func window(d time.Duration, c event.Counters) *event.Snapshot {
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	return &event.Snapshot{Start: start, End: start.Add(d), Counters: c}
}

func TestTableIsSortedUniqueAndDocumented(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	all := All()
	if !slices.IsSortedFunc(all, func(a, b Stat) int { return compare(a.Name, b.Name) }) {
		t.Fatal("table is not sorted by name: Lookup's binary search would miss entries")
	}
	for i, s := range all {
		if i > 0 && all[i-1].Name == s.Name {
			t.Errorf("duplicate statistic %s", s.Name)
		}
		if !valid.MatchString(s.Name) {
			t.Errorf("name %q is not an upper-case identifier", s.Name)
		}
		if s.Help == "" || s.Compute == nil {
			t.Errorf("%s: missing help or compute function", s.Name)
		}
		got, ok := Lookup(s.Name)
		if !ok || got.Name != s.Name {
			t.Errorf("Lookup(%q) = %v, %v", s.Name, got.Name, ok)
		}
	}
	if _, ok := Lookup("R_syn"); ok {
		t.Error("Lookup must be exact (upper case)")
	}
	for _, name := range Default() {
		if _, ok := Lookup(name); !ok {
			t.Errorf("default statistic %s is not in the table", name)
		}
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestNetspotTenAreAllThere(t *testing.T) {
	for _, name := range []string{"AVG_PKT_SIZE", "PERF", "R_ACK", "R_ARP", "R_DST_SRC",
		"R_DST_SRC_PORT", "R_ICMP", "R_IP", "R_SYN", "TRAFFIC"} {
		if _, ok := Lookup(name); !ok {
			t.Errorf("netspot statistic %s is missing", name)
		}
	}
}

func TestValues(t *testing.T) {
	c := event.Counters{
		Packets: 200, Bytes: 100000,
		IP: 160, IPv4: 120, IPv6: 40, IPBytes: 80000,
		ARP: 20, ICMP: 8, ICMPUnreach: 2, TCP: 100, UDP: 50, DNS: 10,
		SYN: 40, SYNACK: 10, ACK: 60, FIN: 4, RST: 16, NoACK: 8,
		DistinctSrcAddr: 5, DistinctDstAddr: 50, DistinctSrcPort: 10, DistinctDstPort: 1000,
		HostDstPorts: 120.5, HostDstAddrs: 33.25, HostFailed: 90.75, HostStraySYNACK: 4.5, HostAuth: 17.125, HostDNS: 41,
		DNSQueries: 30, DNSDataQueries: 6, DNSNXDomain: 4, DNSNameLen: 77, DNSLabelLen: 63, DNSLabelBits: 280.5,
		ARPRebind: 2, ARPMACMove: 3, ARPUnsolicited: 5, ICMPEchoSize: 1024,
	}
	s := window(2*time.Second, c)
	s.Busy = 100 * time.Microsecond
	s.Dropped = 6
	want := map[string]float64{
		"ARP_MAC_MOVE":      3,
		"ARP_REBIND":        2,
		"ARP_UNSOLICITED":   5,
		"DNS_DATA_RATE":     3,
		"DNS_LABEL_BITS":    280.5,
		"DNS_LABEL_LEN":     63,
		"DNS_NAME_LEN":      77,
		"DNS_NXDOMAIN_RATE": 2,
		"HOST_AUTH":         17.125,
		"HOST_DNS":          41,
		"HOST_DST_ADDRS":    33.25,
		"HOST_DST_PORTS":    120.5,
		"HOST_FAILED":       90.75,
		"HOST_STRAY_SYNACK": 4.5,
		"ICMP_ECHO_SIZE":    1024,
		"ARP_RATE":          10,
		"DNS_RATE":          5,
		"ICMP_RATE":         4,
		"RST_RATE":          8,
		"SYN_RATE":          20,
		"AVG_PKT_SIZE":      500,
		"BYTES":             50000,
		"DROPPED":           3,
		"NB_DST_ADDR":       50,
		"NB_DST_PORT":       1000,
		"NB_SRC_ADDR":       5,
		"PERF":              2e6,
		"R_ACK":             60.0 / 160,
		"R_ARP":             0.1,
		"R_DNS":             10.0 / 160,
		"R_DST_SRC":         10,
		"R_DST_SRC_PORT":    100,
		"R_FIN":             4.0 / 160,
		"R_ICMP":            8.0 / 160,
		"R_ICMP_UNREACH":    2.0 / 160,
		"R_IP":              0.8,
		"R_IPV6":            0.25,
		"R_RST":             0.1,
		"R_SYN":             0.25,
		"R_TCP_NOACK":       0.05,
		"R_UDP":             50.0 / 160,
		"TRAFFIC":           80,
	}
	for _, st := range All() {
		w, ok := want[st.Name]
		if !ok {
			t.Errorf("%s: no expected value in this test", st.Name)
			continue
		}
		if got := st.Compute(s); math.Abs(got-w) > 1e-12*math.Abs(w) {
			t.Errorf("%s = %v, want %v", st.Name, got, w)
		}
	}
}

// An empty window is information for rates and counts (zero) but leaves
// every ratio undefined.
func TestEmptyWindow(t *testing.T) {
	s := window(time.Second, event.Counters{})
	zero := map[string]bool{"BYTES": true, "DROPPED": true, "NB_DST_ADDR": true, "NB_DST_PORT": true,
		"NB_SRC_ADDR": true, "TRAFFIC": true, "ARP_RATE": true, "DNS_RATE": true, "ICMP_RATE": true, "RST_RATE": true, "SYN_RATE": true,
		"ARP_MAC_MOVE": true, "ARP_REBIND": true, "ARP_UNSOLICITED": true, "DNS_DATA_RATE": true, "DNS_LABEL_BITS": true,
		"DNS_LABEL_LEN": true, "DNS_NAME_LEN": true, "DNS_NXDOMAIN_RATE": true, "HOST_AUTH": true, "HOST_DNS": true,
		"HOST_DST_ADDRS": true, "HOST_DST_PORTS": true, "HOST_FAILED": true, "HOST_STRAY_SYNACK": true, "ICMP_ECHO_SIZE": true}
	for _, st := range All() {
		got := st.Compute(s)
		if zero[st.Name] {
			if got != 0 {
				t.Errorf("%s of an empty window = %v, want 0", st.Name, got)
			}
		} else if !math.IsNaN(got) {
			t.Errorf("%s of an empty window = %v, want NaN (undefined)", st.Name, got)
		}
	}
}

// A window of zero length (a partial window cut at its start) defines no rate.
func TestZeroLengthWindow(t *testing.T) {
	s := window(0, event.Counters{Packets: 3, IP: 3, Bytes: 180})
	for _, name := range []string{"BYTES", "TRAFFIC", "DROPPED", "NB_DST_ADDR", "SYN_RATE", "ARP_RATE"} {
		st, _ := Lookup(name)
		if got := st.Compute(s); !math.IsNaN(got) {
			t.Errorf("%s over an empty interval = %v, want NaN", name, got)
		}
	}
}

// Ratios with a zero numerator are 0, not NaN, when the denominator is set.
func TestZeroNumerator(t *testing.T) {
	s := window(time.Second, event.Counters{Packets: 10, IP: 10})
	for _, name := range []string{"R_SYN", "R_ARP", "R_ICMP", "R_ACK"} {
		st, _ := Lookup(name)
		if got := st.Compute(s); got != 0 {
			t.Errorf("%s = %v, want 0", name, got)
		}
	}
}

func BenchmarkComputeAll(b *testing.B) {
	s := window(time.Second, event.Counters{Packets: 100, IP: 90, SYN: 3, DistinctDstAddr: 4, DistinctSrcAddr: 2})
	all := All()
	b.ReportAllocs()
	for b.Loop() {
		for _, st := range all {
			_ = st.Compute(s)
		}
	}
}

// Every judged statistic has a resolution that fits its kind: one thing
// per window for a rate, one for a count, one byte for an average or a
// size, a percent for a ratio, an eighth of an event for rare events; the
// machine's own PERF has none.
func TestResolution(t *testing.T) {
	for _, s := range All() {
		got := s.Resolution(10 * time.Second)
		var want float64
		switch {
		case s.Informational:
			want = 0
		case strings.HasSuffix(s.Unit, "/s"):
			want = 0.1
		case strings.HasPrefix(s.Name, "NB_") || s.Name == "AVG_PKT_SIZE" ||
			s.Name == "ICMP_ECHO_SIZE" || strings.HasPrefix(s.Name, "DNS_") && !strings.HasSuffix(s.Name, "_RATE"):
			want = 1
		case s.Name == "ARP_REBIND" || s.Name == "ARP_MAC_MOVE" || s.Name == "ARP_UNSOLICITED" || strings.HasPrefix(s.Name, "HOST_"):
			want = 0.125
		case strings.HasPrefix(s.Name, "R_"):
			want = 0.01
		default:
			t.Errorf("%s: kind %d not covered by this test", s.Name, s.Kind)
			continue
		}
		if got != want {
			t.Errorf("%s (kind %d): resolution %v at 10 s, want %v", s.Name, s.Kind, got, want)
		}
	}
	traffic, _ := Lookup("TRAFFIC")
	if got := traffic.Resolution(250 * time.Millisecond); got != 4 {
		t.Errorf("TRAFFIC at 250 ms: %v, want 4 packets/s", got)
	}
	if got := traffic.Resolution(0); got != 0 {
		t.Errorf("TRAFFIC at no period: %v", got)
	}
}

// A HOST_* statistic is 0 below its floor and the count itself from the
// floor up, and says so in its help.
func TestHostFloors(t *testing.T) {
	floors := map[string]float64{"HOST_AUTH": 4, "HOST_DNS": 16, "HOST_DST_ADDRS": 8, "HOST_DST_PORTS": 4, "HOST_FAILED": 4, "HOST_STRAY_SYNACK": 4}
	set := func(name string, v float64) event.Counters {
		var c event.Counters
		switch name {
		case "HOST_AUTH":
			c.HostAuth = v
		case "HOST_DNS":
			c.HostDNS = v
		case "HOST_DST_ADDRS":
			c.HostDstAddrs = v
		case "HOST_DST_PORTS":
			c.HostDstPorts = v
		case "HOST_FAILED":
			c.HostFailed = v
		case "HOST_STRAY_SYNACK":
			c.HostStraySYNACK = v
		}
		return c
	}
	for _, st := range All() {
		if !strings.HasPrefix(st.Name, "HOST_") {
			continue
		}
		f, ok := floors[st.Name]
		if !ok {
			t.Errorf("%s: no floor in this test", st.Name)
			continue
		}
		for _, c := range []struct{ in, want float64 }{{0, 0}, {f - 0.01, 0}, {f, f}, {f + 7.5, f + 7.5}} {
			if got := st.Compute(window(time.Second, set(st.Name, c.in))); got != c.want {
				t.Errorf("%s of %v = %v, want %v", st.Name, c.in, got, c.want)
			}
		}
		if !strings.Contains(st.Help, fmt.Sprintf("0 below %g (", f)) {
			t.Errorf("%s: help %q does not give the floor %g", st.Name, st.Help, f)
		}
	}
}
