package filter

import (
	"bufio"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// frame is a test packet: Ethernet bytes and what it is.
type frame struct {
	name string
	eth  []byte // Ethernet frame
	et   uint16 // EtherType
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

var (
	macA  = net.HardwareAddr{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	macB  = net.HardwareAddr{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}
	bcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// corpus builds a varied set of frames: IPv4/IPv6 TCP/UDP/ICMP with a few
// addresses and ports, fragments, ARP, multicast, broadcast.
func corpus(t testing.TB) []frame {
	var fs []frame
	v4 := []string{"10.0.0.1", "10.0.0.2", "192.168.1.7", "172.16.5.4", "224.0.0.251", "8.8.8.8"}
	v6 := []string{"2001:db8::1", "2001:db8::2", "fe80::1", "ff02::fb", "2001:db8:1::99"}
	ports := []uint16{22, 53, 80, 443, 1024, 8080, 65535}
	eth := func(dst net.HardwareAddr, et layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: macA, DstMAC: dst, EthernetType: et}
	}
	for i, src := range v4 {
		dst := v4[(i+1)%len(v4)]
		for j, sp := range ports {
			dp := ports[(j+2)%len(ports)]
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
			tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), SYN: j%2 == 0, ACK: j%3 == 0, Window: 1000}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			fs = append(fs, frame{"tcp4", serialize(t, eth(macB, layers.EthernetTypeIPv4), ip, tcp, gopacket.Payload(make([]byte, j*10))), 0x0800})
			ipu := *ip
			ipu.Protocol = layers.IPProtocolUDP
			udp := &layers.UDP{SrcPort: layers.UDPPort(dp), DstPort: layers.UDPPort(sp)}
			_ = udp.SetNetworkLayerForChecksum(&ipu)
			fs = append(fs, frame{"udp4", serialize(t, eth(macB, layers.EthernetTypeIPv4), &ipu, udp, gopacket.Payload([]byte("hello"))), 0x0800})
		}
		// IP options shift the transport header.
		ipo := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst),
			Options: []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}}}
		tcpo := &layers.TCP{SrcPort: 80, DstPort: 443}
		_ = tcpo.SetNetworkLayerForChecksum(ipo)
		fs = append(fs, frame{"tcp4opt", serialize(t, eth(macB, layers.EthernetTypeIPv4), ipo, tcpo), 0x0800})
		// A later fragment: bytes where ports would be must not match.
		ipf := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst), FragOffset: 100}
		fs = append(fs, frame{"frag4", serialize(t, eth(macB, layers.EthernetTypeIPv4), ipf, gopacket.Payload([]byte{0, 80, 0, 80, 1, 2, 3, 4})), 0x0800})
		icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 1)}
		ipi := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
		fs = append(fs, frame{"icmp4", serialize(t, eth(bcast, layers.EthernetTypeIPv4), ipi, icmp), 0x0800})
		arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
			SourceHwAddress: macA, SourceProtAddress: net.ParseIP(src).To4(), DstHwAddress: make([]byte, 6), DstProtAddress: net.ParseIP(dst).To4()}
		fs = append(fs, frame{"arp", serialize(t, eth(bcast, layers.EthernetTypeARP), arp), 0x0806})
	}
	for i, src := range v6 {
		dst := v6[(i+2)%len(v6)]
		for j, sp := range ports {
			dp := ports[(j+3)%len(ports)]
			ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
			tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), SYN: true}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			fs = append(fs, frame{"tcp6", serialize(t, eth(macB, layers.EthernetTypeIPv6), ip, tcp), 0x86dd})
			ipu := *ip
			ipu.NextHeader = layers.IPProtocolUDP
			udp := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
			_ = udp.SetNetworkLayerForChecksum(&ipu)
			fs = append(fs, frame{"udp6", serialize(t, eth(macB, layers.EthernetTypeIPv6), &ipu, udp), 0x86dd})
		}
		ipi := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
		icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(135, 0)}
		_ = icmp.SetNetworkLayerForChecksum(ipi)
		fs = append(fs, frame{"icmp6", serialize(t, eth(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, layers.EthernetTypeIPv6), ipi, icmp, gopacket.Payload(make([]byte, 20))), 0x86dd})
	}
	// Something else entirely, and a runt.
	fs = append(fs, frame{"lldp", serialize(t, eth(macB, 0x88cc), gopacket.Payload(make([]byte, 46))), 0x88cc})
	fs = append(fs, frame{"runt", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00, 0x45}, 0x0800})
	return fs
}

// as rewrites an Ethernet frame for another target.
func as(f frame, tg Target) []byte {
	if len(f.eth) < 14 {
		return f.eth
	}
	payload := f.eth[14:]
	switch tg {
	case SLL:
		h := make([]byte, 16, 16+len(payload))
		binary.BigEndian.PutUint16(h[0:], 0)
		binary.BigEndian.PutUint16(h[2:], 1)
		binary.BigEndian.PutUint16(h[4:], 6)
		copy(h[6:], f.eth[6:12])
		binary.BigEndian.PutUint16(h[14:], f.et)
		return append(h, payload...)
	case SLL2:
		h := make([]byte, 20, 20+len(payload))
		binary.BigEndian.PutUint16(h[0:], f.et)
		binary.BigEndian.PutUint32(h[4:], 2)
		binary.BigEndian.PutUint16(h[8:], 1)
		h[11] = 6
		copy(h[12:], f.eth[6:12])
		return append(h, payload...)
	case RawIP, Network:
		return payload
	}
	return f.eth
}

func compileT(t *testing.T, expr string, tg Target) *Program {
	t.Helper()
	e, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	code, err := e.Compile(tg)
	if err != nil {
		t.Fatalf("Compile(%q, %s): %v", expr, tg, err)
	}
	p, err := NewProgram(code, false)
	if err != nil {
		t.Fatalf("NewProgram(%q): %v", expr, err)
	}
	return p
}

// TestSemantics checks matches against expectations written by hand.
func TestSemantics(t *testing.T) {
	fs := corpus(t)
	type want func(f frame) bool
	isV4 := func(f frame) bool { return f.et == 0x0800 && len(f.eth) > 20 }
	proto := func(f frame) byte {
		if f.et == 0x0800 && len(f.eth) > 23 {
			return f.eth[23]
		}
		if f.et == 0x86dd && len(f.eth) > 20 {
			return f.eth[20]
		}
		return 0
	}
	ports := func(f frame) (uint16, uint16, bool) {
		p := proto(f)
		if p != 6 && p != 17 {
			return 0, 0, false
		}
		off := 14 + 40
		if f.et == 0x0800 {
			if binary.BigEndian.Uint16(f.eth[20:])&0x1fff != 0 {
				return 0, 0, false
			}
			off = 14 + int(f.eth[14]&0xf)*4
		}
		return binary.BigEndian.Uint16(f.eth[off:]), binary.BigEndian.Uint16(f.eth[off+2:]), true
	}
	src4 := func(f frame) net.IP {
		if isV4(f) && len(f.eth) >= 34 {
			return net.IP(f.eth[26:30])
		}
		return nil
	}
	cases := []struct {
		expr string
		want want
	}{
		{"", func(frame) bool { return true }},
		{"ip", func(f frame) bool { return f.et == 0x0800 }},
		{"ip6", func(f frame) bool { return f.et == 0x86dd }},
		{"arp", func(f frame) bool { return f.et == 0x0806 }},
		{"tcp", func(f frame) bool { return proto(f) == 6 }},
		{"udp", func(f frame) bool { return proto(f) == 17 }},
		{"icmp or icmp6", func(f frame) bool { return (f.et == 0x0800 && proto(f) == 1) || (f.et == 0x86dd && proto(f) == 58) }},
		{"not tcp and not udp", func(f frame) bool { return proto(f) != 6 && proto(f) != 17 }},
		{"port 80", func(f frame) bool { s, d, ok := ports(f); return ok && (s == 80 || d == 80) }},
		{"tcp dst port 443", func(f frame) bool { _, d, ok := ports(f); return ok && proto(f) == 6 && d == 443 }},
		{"src port 53 or 22", func(f frame) bool { s, _, ok := ports(f); return ok && (s == 53 || s == 22) }},
		{"portrange 1000-9000", func(f frame) bool {
			s, d, ok := ports(f)
			return ok && ((s >= 1000 && s <= 9000) || (d >= 1000 && d <= 9000))
		}},
		{"src host 10.0.0.1", func(f frame) bool {
			if f.et == 0x0806 {
				return net.IP(f.eth[28:32]).Equal(net.ParseIP("10.0.0.1"))
			}
			return src4(f).Equal(net.ParseIP("10.0.0.1"))
		}},
		{"ip src net 10.0.0.0/8", func(f frame) bool { s := src4(f); return s != nil && s[0] == 10 }},
		{"net 192.168", func(f frame) bool {
			return isV4(f) && ((f.eth[26] == 192 && f.eth[27] == 168) || (f.eth[30] == 192 && f.eth[31] == 168)) ||
				f.et == 0x0806 && ((f.eth[28] == 192 && f.eth[29] == 168) || (f.eth[38] == 192 && f.eth[39] == 168))
		}},
		{"ip6 host 2001:db8::1", func(f frame) bool {
			a := net.ParseIP("2001:db8::1")
			return f.et == 0x86dd && (net.IP(f.eth[22:38]).Equal(a) || net.IP(f.eth[38:54]).Equal(a))
		}},
		{"ip6 dst net 2001:db8::/32", func(f frame) bool {
			return f.et == 0x86dd && binary.BigEndian.Uint32(f.eth[38:]) == 0x20010db8
		}},
		{"ether broadcast", func(f frame) bool { return string(f.eth[:6]) == string(bcast) }},
		{"ether multicast", func(f frame) bool { return f.eth[0]&1 == 1 }},
		{"ether src 00:11:22:33:44:55", func(f frame) bool { return string(f.eth[6:12]) == string(macA) }},
		{"ether dst 00:11:22:33:44:55", func(f frame) bool { return string(f.eth[:6]) == string(macA) }},
		{"ip multicast", func(f frame) bool { return isV4(f) && f.eth[30] >= 224 }},
		{"greater 100", func(f frame) bool { return len(f.eth) >= 100 }},
		{"less 60", func(f frame) bool { return len(f.eth) <= 60 }},
		{"ip proto 1", func(f frame) bool { return f.et == 0x0800 && proto(f) == 1 }},
		{"ether proto 0x88cc", func(f frame) bool { return f.et == 0x88cc }},
		{"(tcp or udp) and not (port 22 or port 53)", func(f frame) bool {
			s, d, ok := ports(f)
			return (proto(f) == 6 || proto(f) == 17) && !(ok && (s == 22 || d == 22 || s == 53 || d == 53))
		}},
		{"src and dst net 10.0.0.0/24", func(f frame) bool {
			return isV4(f) && f.eth[26] == 10 && f.eth[27] == 0 && f.eth[28] == 0 && f.eth[30] == 10 && f.eth[31] == 0 && f.eth[32] == 0 ||
				f.et == 0x0806 && f.eth[28] == 10 && f.eth[29] == 0 && f.eth[30] == 0 && f.eth[38] == 10 && f.eth[39] == 0 && f.eth[40] == 0
		}},
	}
	for _, c := range cases {
		p := compileT(t, c.expr, Ethernet)
		matched := 0
		for _, f := range fs {
			want := len(f.eth) >= 20 && c.want(f)
			if f.name == "runt" {
				continue
			}
			if got := p.Match(f.eth, len(f.eth), f.et); got != want {
				t.Errorf("%q on %s % x: got %v, want %v", c.expr, f.name, f.eth[:min(len(f.eth), 40)], got, want)
			}
			if want {
				matched++
			}
		}
		if matched == 0 && c.expr != "ether dst 00:11:22:33:44:55" {
			t.Errorf("%q matches nothing in the corpus: the test proves nothing", c.expr)
		}
	}
}

// TestTargetsAgree checks that a filter means the same on every link type.
func TestTargetsAgree(t *testing.T) {
	fs := corpus(t)
	exprs := []string{"ip", "ip6", "tcp port 80", "udp and src net 10.0.0.0/8", "host 2001:db8::2", "icmp6", "not ip", "portrange 50-100 or arp"}
	for _, expr := range exprs {
		ref := compileT(t, expr, Ethernet)
		for _, tg := range []Target{SLL, SLL2, Network, RawIP} {
			p := compileT(t, expr, tg)
			for _, f := range fs {
				if f.name == "runt" || (tg == RawIP && f.et != 0x0800 && f.et != 0x86dd) {
					continue
				}
				want := ref.Match(f.eth, len(f.eth), f.et)
				b := as(f, tg)
				if got := p.Match(b, len(b), f.et); got != want {
					t.Errorf("%q on %s as %s: got %v, Ethernet says %v", expr, f.name, tg, got, want)
				}
			}
		}
	}
}

func TestVLANTransparent(t *testing.T) {
	fs := corpus(t)
	e, _ := Parse("tcp dst port 443 or arp")
	code, _ := e.Compile(Ethernet)
	plain, _ := NewProgram(code, false)
	skip, _ := NewProgram(code, true)
	n := 0
	for _, f := range fs {
		if f.name == "runt" {
			continue
		}
		// Add an 802.1ad outer and an 802.1Q inner tag.
		tagged := append([]byte(nil), f.eth[:12]...)
		tagged = append(tagged, 0x88, 0xa8, 0x00, 0x10, 0x81, 0x00, 0x00, 0x20)
		tagged = append(tagged, f.eth[12:]...)
		want := plain.Match(f.eth, len(f.eth), 0)
		if got := skip.Match(tagged, len(tagged), 0); got != want {
			t.Errorf("%s tagged: got %v, want %v", f.name, got, want)
		}
		if want {
			n++
		}
	}
	if n == 0 {
		t.Fatal("nothing matched")
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"tcp port", "port needs a value"},
		{"port 99999", "port needs a number"},
		{"host example.com", "host names are not supported"},
		{"foo", "unknown word"},
		{"tcp[13] & 2 != 0", "byte-offset"},
		{"vlan 10", "vlan is not supported"},
		{"(tcp", "missing closing parenthesis"},
		{"tcp)", "unexpected word"},
		{"tcp and", "unexpected end"},
		{"net 10.1.2.3/8", "host bits set"},
		{"net 10.0.0.0 mask 255.0.255.0", "not contiguous"},
		{"ip6 host 10.0.0.1", "ip6 with an IPv4 address"},
		{"ip host ::1", "ip with an IPv6 address"},
		{"icmp port 80", "has no ports"},
		{"len < 100", "arithmetic comparisons"},
		{"ether host 00:11", "MAC address"},
		{"portrange 10", "portrange needs two ports"},
		{"ip broadcast", "ip broadcast"},
		{"tcp proto 6", "proto applies to ether, ip or ip6"},
		{"less abc", "less needs a length"},
	}
	for _, c := range cases {
		_, err := Parse(c.expr)
		if err == nil {
			t.Errorf("Parse(%q): no error, want %q", c.expr, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want it to say %q", c.expr, err, c.want)
		}
	}
	// Link-specific errors come from Compile.
	e, err := Parse("ether host 00:11:22:33:44:55")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Compile(RawIP); err == nil || !strings.Contains(err.Error(), "needs an Ethernet link") {
		t.Errorf("ether host on raw IP: %v", err)
	}
}

func TestNewProgramRejects(t *testing.T) {
	bad := [][]bpf.RawInstruction{
		nil,
		{{Op: opLd | szW | mAbs, K: 0}}, // no return
		{{Op: opJmp | jEq, Jt: 5, K: 1}, {Op: opRet, K: 1}},  // jump past the end
		{{Op: opAlu | 0x30, K: 0}, {Op: opRet, K: 1}},        // division by zero
		{{Op: 0x02, K: 16}, {Op: opRet, K: 1}},               // scratch out of range
		{{Op: opJmp | jA, K: 0xffffffff}, {Op: opRet, K: 1}}, // ja past the end
	}
	for i, code := range bad {
		if _, err := NewProgram(code, false); err == nil {
			t.Errorf("program %d accepted", i)
		}
	}
}

// TestAgainstLibpcap compiles the same filters with tcpdump (libpcap) and
// compares what both programs accept on the corpus, run by Program.
func TestAgainstLibpcap(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tcpdump is not installed; .ci/run must install it")
		}
		t.Skip("tcpdump not installed: no comparison with libpcap")
	}
	dir := t.TempDir()
	empty := func(dlt uint32) string {
		p := filepath.Join(dir, strconv.Itoa(int(dlt))+".pcap")
		b := make([]byte, 24)
		binary.LittleEndian.PutUint32(b[0:], 0xa1b2c3d4)
		binary.LittleEndian.PutUint16(b[4:], 2)
		binary.LittleEndian.PutUint16(b[6:], 4)
		binary.LittleEndian.PutUint32(b[16:], 65535)
		binary.LittleEndian.PutUint32(b[20:], dlt)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	targets := []struct {
		tg   Target
		file string
	}{{Ethernet, empty(1)}, {SLL, empty(113)}, {RawIP, empty(101)}}
	exprs := []string{
		"ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "port 80", "tcp port 443", "udp src port 53",
		"dst port 22 or 8080", "portrange 1000-9000", "host 10.0.0.1", "src host 192.168.1.7", "dst host 8.8.8.8",
		"net 10.0.0.0/8", "net 192.168", "src net 172.16.0.0 mask 255.240.0.0", "host 2001:db8::1", "ip6 net 2001:db8::/32",
		"ip6 dst net fe80::/10", "not port 22", "tcp and not (port 80 or port 443)", "ether broadcast", "ether multicast",
		"ip multicast", "ip6 multicast", "ether src 00:11:22:33:44:55", "ether host 66:77:88:99:aa:bb",
		"greater 100", "less 80", "ip proto 17", "ip6 proto 58", "proto 6", "ether proto 0x0806",
		"src and dst net 10.0.0.0/24", "udp or (tcp and dst port 65535)", "arp host 10.0.0.2", "icmp or arp",
		"tcp src portrange 0-1023 and ip", "ip and udp port 53 or ip6 and tcp port 80",
	}
	fs := corpus(t)
	for _, tc := range targets {
		for _, expr := range exprs {
			e, err := Parse(expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", expr, err)
			}
			code, err := e.Compile(tc.tg)
			if err != nil {
				if strings.Contains(err.Error(), "needs an Ethernet link") || strings.Contains(err.Error(), "needs a link with ARP") {
					continue
				}
				t.Fatalf("Compile(%q, %s): %v", expr, tc.tg, err)
			}
			ours, err := NewProgram(code, false)
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tcpdump, "-ddd", "-r", tc.file, expr).Output()
			if err != nil {
				// libpcap refuses some filters on some links (arp on raw
				// IP); netspot compiles them to "never".
				for _, f := range fs {
					if b := as(f, tc.tg); ours.Match(b, len(b), f.et) && (tc.tg != RawIP || f.et == 0x0800 || f.et == 0x86dd) {
						t.Errorf("%q on %s: libpcap refuses it, netspot matches %s", expr, tc.tg, f.name)
						break
					}
				}
				continue
			}
			ref, err := NewProgram(parseDDD(t, string(out)), false)
			if err != nil {
				t.Fatalf("libpcap program for %q: %v", expr, err)
			}
			for _, f := range fs {
				if tc.tg == RawIP && f.et != 0x0800 && f.et != 0x86dd {
					continue
				}
				b := as(f, tc.tg)
				if got, want := ours.Match(b, len(b), f.et), ref.Match(b, len(b), f.et); got != want {
					t.Errorf("%q on %s (%s): netspot %v, libpcap %v", expr, f.name, tc.tg, got, want)
				}
			}
		}
	}
}

func parseDDD(t *testing.T, s string) []bpf.RawInstruction {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(s))
	var code []bpf.RawInstruction
	first := true
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if first {
			first = false
			continue
		}
		if len(fields) != 4 {
			t.Fatalf("bad tcpdump -ddd line %q", sc.Text())
		}
		var v [4]uint64
		for i, f := range fields {
			n, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				t.Fatalf("bad tcpdump -ddd line %q", sc.Text())
			}
			v[i] = n
		}
		code = append(code, bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	return code
}

func FuzzFilter(f *testing.F) {
	for _, s := range []string{"tcp port 80", "not (host 10.0.0.1 or net 192.168)", "ip6 and udp portrange 1-1024", "ether src 00:11:22:33:44:55 and arp", "port 53 or 80 or 443", "less 100 and greater 20"} {
		f.Add(s, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 0, 0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 0, 80, 1, 187})
	}
	f.Fuzz(func(t *testing.T, expr string, pkt []byte) {
		e, err := Parse(expr)
		if err != nil {
			return
		}
		for _, tg := range []Target{Ethernet, SLL, SLL2, RawIP, Network, Null} {
			code, err := e.Compile(tg)
			if err != nil {
				continue
			}
			p, err := NewProgram(code, tg == Ethernet)
			if err != nil {
				t.Fatalf("compiled program for %q on %s is invalid: %v", expr, tg, err)
			}
			p.Match(pkt, len(pkt), 0x0800)
		}
	})
}

func FuzzProgram(f *testing.F) {
	f.Add([]byte{0x28, 0, 0, 0, 0x0c, 0, 0, 0, 0x06, 0, 0, 0, 0xff, 0xff, 0, 0}, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, prog, pkt []byte) {
		var code []bpf.RawInstruction
		for len(prog) >= 8 {
			code = append(code, bpf.RawInstruction{Op: binary.LittleEndian.Uint16(prog), Jt: prog[2], Jf: prog[3], K: binary.LittleEndian.Uint32(prog[4:])})
			prog = prog[8:]
		}
		p, err := NewProgram(code, true)
		if err != nil {
			return
		}
		p.Match(pkt, len(pkt), 0x86dd)
	})
}

func BenchmarkMatch(b *testing.B) {
	fs := corpus(b)
	e, _ := Parse("tcp and not (port 22 or net 10.0.0.0/8)")
	code, _ := e.Compile(Ethernet)
	p, _ := NewProgram(code, true)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := fs[i%len(fs)]
		p.Match(f.eth, len(f.eth), 0)
	}
}
