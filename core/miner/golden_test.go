package miner

import (
	"encoding/hex"
	"math"
	"strings"
	"testing"

	"netspot/core/capture"
	"netspot/core/event"
)

// golden is a packet written out byte by byte and the counters it must give.
type golden struct {
	name string
	link capture.Link
	hex  string
	want event.Counters
}

func goldenPackets() []golden {
	return []golden{
		{
			name: "syn", // IPv4 TCP SYN 10.0.0.1:40000 -> 10.0.0.2:80: a new port and a new address for 10.0.0.1
			hex: "02000000000202000000000108004500002800010000400666cd0a0000010a00" +
				"00029c400050000000640000000050020200fceb0000000000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 40, TCP: 1, SYN: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1,
				HostDstPorts: 1, HostDstAddrs: 1},
		},
		{
			name: "synack", // IPv4 TCP SYN+ACK back; alone, it answers no SYN
			hex: "02000000000202000000000108004500002800010000400666cd0a0000020a00" +
				"000100509c40000000640000000050120200fcdb0000000000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 40, TCP: 1, SYN: 1, SYNACK: 1, ACK: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1,
				HostStraySYNACK: 1},
		},
		{
			name: "ack", // IPv4 TCP ACK with an HTTP request
			hex: "02000000000202000000000108004500003a00010000400666bb0a0000010a00" +
				"00029c4000500000006400000000501002001e2c0000474554202f2048545450" +
				"2f312e300d0a0d0a",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 58, TCP: 1, ACK: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1},
		},
		{
			name: "finack", // IPv4 TCP FIN+ACK
			hex: "02000000000202000000000108004500002800010000400666cd0a0000010a00" +
				"00029c400050000000640000000050110200fcdc0000000000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 40, TCP: 1, ACK: 1, FIN: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1},
		},
		{
			name: "rst", // IPv4 TCP RST without ACK
			hex: "02000000000202000000000108004500002800010000400666cd0a0000010a00" +
				"00029c400050000000640000000050040200fce90000000000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 40, TCP: 1, RST: 1, NoACK: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1},
		},
		{
			name: "null", // IPv4 TCP NULL scan (no flags)
			hex: "02000000000202000000000108004500002800010000400666cd0a0000010a00" +
				"00029c410051000000640000000050000200fceb0000000000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 40, TCP: 1, NoACK: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1},
		},
		{
			name: "xmas", // IPv4 TCP XMAS scan (FIN PSH URG)
			hex: "02000000000202000000000108004500002800010000400666cd0a0000010a00" +
				"00029c420052000000640000000050290200fcc00000000000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 40, TCP: 1, FIN: 1, NoACK: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1},
		},
		{
			name: "dns_vlan", // 802.1Q VLAN 10, IPv4 UDP DNS query to 8.8.8.8:53 whose header announces a question that is not there: malformed DNS
			hex: "0200000000020200000000018100000a08004500002800010000401160b40a00" +
				"00010808080814e900350014bd621234010000010000000000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 40, UDP: 1, DNS: 1, Malformed: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1,
				HostDstPorts: 1, HostDstAddrs: 1},
		},
		{
			name: "qinq_udp6", // QinQ (802.1ad 100, 802.1Q 20), IPv6 UDP
			hex: "02000000000202000000000188a800648100001486dd60000000000911402001" +
				"0db800000000000000000000000120010db800000000000000000000000204d2" +
				"162e0009116778",
			want: event.Counters{IP: 1, IPv6: 1, IPBytes: 49, UDP: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1},
		},
		{
			name: "ns6", // IPv6 ICMPv6 neighbour solicitation
			hex: "02000000000202000000000186dd6000000000183a40fe800000000000000000" +
				"000000000001ff0200000000000000000001ff00000287007c24000000000000" +
				"0000000000000000000000000000",
			want: event.Counters{IP: 1, IPv6: 1, IPBytes: 64, NDP: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 0, DistinctDstPort: 0},
		},
		{
			name: "echo6", // IPv6 ICMPv6 echo request with 4 bytes of data
			hex: "02000000000202000000000186dd60000000000c3a4020010db8000000000000" +
				"00000000000120010db800000000000000000000000280002444000000000000" +
				"0000",
			want: event.Counters{IP: 1, IPv6: 1, IPBytes: 52, ICMP: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 0, DistinctDstPort: 0,
				HostDstAddrs: 1, ICMPEchoSize: 4},
		},
		{
			name: "unreach6", // IPv6 ICMPv6 destination unreachable quoting 4 zero bytes instead of a datagram: malformed, a failure of its receiver
			hex: "02000000000202000000000186dd60000000000c3a4020010db8000000000000" +
				"00000000000120010db80000000000000000000000020104a340000000000000" +
				"0000",
			want: event.Counters{IP: 1, IPv6: 1, IPBytes: 52, ICMP: 1, ICMPUnreach: 1, Malformed: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 0, DistinctDstPort: 0,
				HostFailed: 1},
		},
		{
			name: "unreach4", // IPv4 ICMP port unreachable quoting 28 zero bytes instead of a datagram: malformed, a failure of its receiver
			hex: "02000000000202000000000108004500003800010000400166c20a0000020a00" +
				"00010303fcfc0000000000000000000000000000000000000000000000000000" +
				"000000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 56, ICMP: 1, ICMPUnreach: 1, Malformed: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 0, DistinctDstPort: 0,
				HostFailed: 1},
		},
		{
			name: "echo4", // IPv4 ICMP echo request without data (padded to 60 bytes)
			hex: "02000000000202000000000108004500001c00010000400166de0a0000020a00" +
				"00010800f7fd00010001000000000000000000000000000000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 28, ICMP: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 0, DistinctDstPort: 0,
				HostDstAddrs: 1},
		},
		{
			name: "arp", // ARP request, broadcast
			hex: "ffffffffffff020000000001080600010800060400010200000000010a000001" +
				"0000000000000a000002000000000000000000000000000000000000",
			want: event.Counters{ARP: 1, DistinctSrcAddr: 0, DistinctDstAddr: 0, DistinctSrcPort: 0, DistinctDstPort: 0},
		},
		{
			name: "frag4", // IPv4 later fragment of a TCP packet: no TCP header
			hex: "020000000002020000000001080045000024000100b9400666110a0000010a00" +
				"00090000000000000000000000000000000000000000000000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 36, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 0, DistinctDstPort: 0},
		},
		{
			name: "ipip", // IPv4 in IPv4: counted by its outer header
			hex: "02000000000202000000000108004500003c0001000040042653c6336401c633" +
				"64024500002800010000400655ae0a0909090a08080800010002000000640000" +
				"000050020200885a0000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 60, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 0, DistinctDstPort: 0},
		},
		{
			name: "dns_tcp", // IPv4 TCP SYN to port 53
			hex: "020000000002020000000001080045000028000100004006669a0a0000010a00" +
				"00359c430035000000640000000050020200fcd00000000000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 40, TCP: 1, SYN: 1, DNS: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1,
				HostDstPorts: 1, HostDstAddrs: 1},
		},
		{
			name: "ipv6_ext", // IPv6 with hop-by-hop and destination options headers, then TCP SYN 8080 -> 80
			hex: "020000000002020000000001" + "86dd" +
				"6000000000240040" + "20010db8000000000000000000000001" + "20010db8000000000000000000000002" +
				"3c00010400000000" + // hop-by-hop: next 60, PadN
				"0600010400000000" + // destination options: next 6 (TCP), PadN
				"1f90005000000000000000005002020000000000",
			want: event.Counters{IP: 1, IPv6: 1, IPBytes: 76, TCP: 1, SYN: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1,
				HostDstPorts: 1, HostDstAddrs: 1},
		},
		{
			name: "ipv6_frag", // IPv6 fragment header, offset 8: not the first fragment
			hex: "020000000002020000000001" + "86dd" +
				"6000000000102c40" + "20010db8000000000000000000000001" + "20010db8000000000000000000000002" +
				"0600000800000001" + "0050005000000000",
			want: event.Counters{IP: 1, IPv6: 1, IPBytes: 56, DistinctSrcAddr: 1, DistinctDstAddr: 1},
		},
		{
			name: "ipv6_ext_overrun", // hop-by-hop header claims 2048 bytes in a 16-byte payload
			hex: "020000000002020000000001" + "86dd" +
				"6000000000100040" + "20010db8000000000000000000000001" + "20010db8000000000000000000000002" +
				"06ff000000000000" + "0000000000000000",
			want: event.Counters{Malformed: 1},
		},
		{
			name: "tcp_truncated", // IPv4 says 30 bytes: a 10-byte TCP header cannot be
			hex: "020000000002020000000001" + "0800" +
				"4500001e000100004006" + "0000" + "0a000001" + "0a000002" +
				"9c400050000000640000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 30, Malformed: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1},
		},
		{
			name: "ipv4_bad_ihl", // IPv4 header length 4 words: invalid
			hex: "020000000002020000000001" + "0800" +
				"4400001400010000400600000a0000010a000002",
			want: event.Counters{Malformed: 1},
		},
		{
			name: "runt", // 10 bytes: not even an Ethernet header
			hex:  "02000000000202000000",
			want: event.Counters{Malformed: 1},
		},
		{
			name: "stp", // 802.3 length field with LLC (spanning tree): counted, not decoded
			hex:  "0180c2000000" + "020000000001" + "0026" + "424203" + "0000000000000000000000000000000000000000000000000000000000000000000000",
			want: event.Counters{},
		},
		{
			name: "dns_txt", // IPv4 UDP 10.0.0.1:40000 -> 10.0.0.53:53, query abc.example TXT
			hex: "020000000002020000000001080045000039000100004011667e0a0000010a00" +
				"00359c4000350025000012340100000100000000000003616263076578616d70" +
				"6c650000100001",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 57, UDP: 1, DNS: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1,
				HostDstPorts: 1, HostDstAddrs: 1, HostDNS: 1, DNSQueries: 1, DNSDataQueries: 1, DNSNameLen: 11, DNSLabelLen: 7,
				DNSLabelBits: 7*math.Log2(7) - 2}, // "example": 7 bytes, e twice
		},
		{
			name: "dns_nxdomain", // the answer: abc.example does not exist
			hex: "020000000002020000000001080045000039000100004011667e0a0000350a00" +
				"000100359c400025000012348183000100000000000003616263076578616d70" +
				"6c650000010001",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 57, UDP: 1, DNS: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1,
				DNSNXDomain: 1},
		},
		{
			name: "dns_pointer", // a query whose name ends in a compression pointer: malformed
			hex: "02000000000202000000000108004500003200010000401166850a0000010a00" +
				"00359c400035001e000012340100000100000000000003616263c00c00010001",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 50, UDP: 1, DNS: 1, Malformed: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1,
				HostDstPorts: 1, HostDstAddrs: 1},
		},
		{
			name: "dns_too_long", // a query name of five 63-byte labels, 320 bytes: malformed
			hex: "02000000000202000000000108004500016d000100004011654a0a0000010a00" +
				"00359c400035015900001234010000010000000000003f" + strings.Repeat("61", 63) +
				"3f" + strings.Repeat("61", 63) + "3f" + strings.Repeat("61", 63) + "3f" + strings.Repeat("61", 63) +
				"3f" + strings.Repeat("61", 63) + "0000010001",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 365, UDP: 1, DNS: 1, Malformed: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1,
				HostDstPorts: 1, HostDstAddrs: 1},
		},
		{
			name: "raw_ipv4_udp", link: capture.LinkRaw, // raw IP link: IPv4 UDP 53 -> 5353, 4 bytes: too short for DNS
			hex:  "4500002000010000401100000a0000350a000001" + "003514e9000c0000" + "abcd0000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 32, UDP: 1, DNS: 1, Malformed: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1},
		},
		{
			name: "raw_garbage", link: capture.LinkRaw, // raw IP link, version nibble 0
			hex:  "0000000000000000",
			want: event.Counters{Malformed: 1},
		},
		{
			name: "sll_arp", link: capture.LinkSLL, // Linux cooked v1, ARP reply that answers no request
			hex:  "0000000100060200000000010000" + "0806" + "0001080006040002020000000001" + "0a000002" + "020000000002" + "0a000001",
			want: event.Counters{ARP: 1, ARPUnsolicited: 1},
		},
		{
			name: "sll2_tcp", link: capture.LinkSLL2, // Linux cooked v2, IPv4 TCP ACK
			hex: "0800" + "0000" + "00000002" + "0001" + "00" + "06" + "0200000000010000" +
				"4500002800010000400600000a0000010a000002" + "9c40005000000064000000005010020000000000",
			want: event.Counters{IP: 1, IPv4: 1, IPBytes: 40, TCP: 1, ACK: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1},
		},
		{
			name: "null_ipv6", link: capture.LinkNull, // BSD loopback family 30, IPv6 UDP
			hex:  "1e000000" + "6000000000081140" + "00000000000000000000000000000001" + "00000000000000000000000000000001" + "1f401f4000080000",
			want: event.Counters{IP: 1, IPv6: 1, IPBytes: 48, UDP: 1, DistinctSrcAddr: 1, DistinctDstAddr: 1, DistinctSrcPort: 1, DistinctDstPort: 1},
		},
	}
}

func (g golden) packet(t *testing.T) capture.Packet {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(g.hex, " ", ""))
	if err != nil {
		t.Fatalf("%s: %v", g.name, err)
	}
	link := g.link
	if link == capture.LinkUnknown {
		link = capture.LinkEthernet
	}
	return capture.Packet{Data: b, Length: len(b), Link: link}
}

// TestGoldenCounters decodes each packet alone, by a new decoder, and
// checks every counter.
func TestGoldenCounters(t *testing.T) {
	w := newWindow(1)
	for _, g := range goldenPackets() {
		p := g.packet(t)
		w.reset()
		newDecoder().count(&p, w)
		want := g.want
		want.Packets = 1
		want.Bytes = uint64(len(p.Data))
		if got := w.counters(); got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", g.name, got, want)
		}
	}
}

// TestGoldenCountersTogether decodes every packet into one window: the
// additive counters sum, the distinct counts do not.
func TestGoldenCountersTogether(t *testing.T) {
	d := newDecoder()
	w := newWindow(1)
	var want event.Counters
	for _, g := range goldenPackets() {
		p := g.packet(t)
		d.count(&p, w)
		c := g.want
		c.Packets, c.Bytes = 1, uint64(len(p.Data))
		want.Add(&c)
	}
	got := w.counters()
	// Sources: 10.0.0.1, 10.0.0.2, 2001:db8::1, fe80::1, 198.51.100.1, 10.0.0.53, ::1
	// Destinations: 10.0.0.2, 10.0.0.1, 8.8.8.8, 2001:db8::2, ff02::1:ff00:2, 10.0.0.9, 198.51.100.2, 10.0.0.53, ::1
	want.DistinctSrcAddr, want.DistinctDstAddr = 7, 9
	// Source ports: 40000-40003, 80, 5353, 1234, 8080, 53, 8000; destination ports: 80-82, 40000, 53, 5678, 5353, 8000
	want.DistinctSrcPort, want.DistinctDstPort = 10, 8
	// One decoder remembers: 10.0.0.1 opens TCP 80 and 53 and sends UDP to
	// 53, at 10.0.0.2, 8.8.8.8 and 10.0.0.53; the SYN-ACK answers its SYN;
	// the ARP reply answers the request, and the MAC of 10.0.0.1 then
	// claims 10.0.0.2.
	want.HostDstPorts, want.HostDstAddrs, want.HostStraySYNACK = 3, 3, 0
	want.ARPUnsolicited, want.ARPMACMove = 0, 1
	if got != want {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
}

// FuzzDecode feeds arbitrary bytes as a frame of every link type: the
// decoder never panics, counts the packet, and a packet is at most one
// IP packet, one TCP segment, one UDP datagram.
func FuzzDecode(f *testing.F) {
	for _, g := range goldenPackets() {
		b, _ := hex.DecodeString(g.hex)
		f.Add(b, uint8(g.link), uint16(0x0800))
	}
	d := newDecoder()
	w := newWindow(7)
	f.Fuzz(func(t *testing.T, data []byte, link uint8, proto uint16) {
		w.reset()
		p := capture.Packet{Data: data, Length: len(data), Link: capture.Link(link % uint8(capture.LinkNetwork+1)), Proto: proto}
		d.count(&p, w)
		c := w.counters()
		if c.Packets != 1 || c.IP > 1 || c.TCP+c.UDP+c.ICMP+c.NDP > 1 || c.Malformed > 1 || c.IPv4+c.IPv6 != c.IP {
			t.Fatalf("one packet gave %+v", c)
		}
	})
}
