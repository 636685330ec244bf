package miner

import (
	"math"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"netspot/core/capture"
)

// frames builds Ethernet frames for the per-host tests.
type frames struct{ tb testing.TB }

func (f frames) build(ls ...gopacket.SerializableLayer) []byte {
	f.tb.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		f.tb.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

var (
	macA = net.HardwareAddr{2, 0, 0, 0, 0, 0xa}
	macB = net.HardwareAddr{2, 0, 0, 0, 0, 0xb}
	macC = net.HardwareAddr{2, 0, 0, 0, 0, 0xc}
	macM = net.HardwareAddr{2, 0, 0, 0, 0, 0x66} // a spoofer
)

func (f frames) eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
}

// tcp is a TCP segment from src:sp to dst:dp with the given flags (flag*
// constants).
func (f frames) tcp(src, dst string, sp, dp uint16, flags uint8) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	t := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Window: 1024,
		SYN: flags&flagSYN != 0, ACK: flags&flagACK != 0, RST: flags&flagRST != 0, FIN: flags&flagFIN != 0}
	_ = t.SetNetworkLayerForChecksum(ip)
	return f.build(f.eth(layers.EthernetTypeIPv4), ip, t)
}

func (f frames) udp(src, dst string, sp, dp uint16, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	u := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
	_ = u.SetNetworkLayerForChecksum(ip)
	return f.build(f.eth(layers.EthernetTypeIPv4), ip, u, gopacket.Payload(payload))
}

// unreach is an ICMP destination unreachable (code) from src to dst quoting
// the IP datagram quoted (without its link header).
func (f frames) unreach(src, dst string, code uint8, quoted []byte) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	return f.build(f.eth(layers.EthernetTypeIPv4), ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, code)}, gopacket.Payload(quoted))
}

func (f frames) echo(src, dst string, size int) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
	return f.build(f.eth(layers.EthernetTypeIPv4), ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}, gopacket.Payload(make([]byte, size)))
}

// arp is an ARP packet (op 1 request, 2 reply) with the given sender MAC
// and addresses.
func (f frames) arp(op uint16, sha net.HardwareAddr, spa, tpa string) []byte {
	e := &layers.Ethernet{SrcMAC: sha, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP}
	a := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: op, SourceHwAddress: sha, SourceProtAddress: net.ParseIP(spa).To4(), DstHwAddress: make([]byte, 6), DstProtAddress: net.ParseIP(tpa).To4()}
	return f.build(e, a)
}

// feeder counts frames at given times into windows of its own.
type feeder struct {
	t *testing.T
	d *decoder
	w *window
}

func newFeeder(t *testing.T) *feeder { return &feeder{t: t, d: newDecoder(), w: newWindow(1)} }

// at counts frame b at offset off from base.
func (f *feeder) at(off time.Duration, b []byte) {
	p := capture.Packet{Data: b, Length: len(b), Link: capture.LinkEthernet, Time: base.Add(off).UnixNano()}
	f.d.count(&p, f.w)
}

// window returns the counters of the frames counted since the last call.
func (f *feeder) window() (c struct{ failed, stray, auth, ports, addrs, dns float64 }) {
	k := f.w.counters()
	c.failed, c.stray, c.auth, c.ports, c.addrs, c.dns = k.HostFailed, k.HostStraySYNACK, k.HostAuth, k.HostDstPorts, k.HostDstAddrs, k.HostDNS
	f.w.reset()
	return c
}

// near compares counts within the precision of the decay weights, which
// are recomputed every HalfLife/4096 of packet time (ln 2/4096 = 1.7e-4).
func near(a, b float64) bool { return math.Abs(a-b) <= 2e-4*max(1, math.Abs(b)) }

// decayed is the count now of events at the given times (all in the past).
func decayed(now time.Duration, at ...time.Duration) float64 {
	var n float64
	for _, t := range at {
		n += math.Exp2(-float64(now-t) / float64(HalfLife))
	}
	return n
}

// TestConnectionOutcomes follows TCP attempts to their end: a SYN answered
// by a SYN-ACK succeeded, one answered by a RST or an ICMP unreachable, or
// by nothing within synTimeout, failed, once; a SYN-ACK for no SYN is stray.
func TestConnectionOutcomes(t *testing.T) {
	fr := frames{t}
	f := newFeeder(t)
	const a, b = "10.0.0.1", "10.0.0.2"
	// Answered: port 22 is a login port.
	f.at(0, fr.tcp(a, b, 40000, 22, flagSYN))
	f.at(time.Millisecond, fr.tcp(b, a, 22, 40000, flagSYN|flagACK))
	// Refused by a RST, and retransmitted before: one attempt.
	f.at(2*time.Millisecond, fr.tcp(a, b, 40001, 23, flagSYN))
	f.at(3*time.Millisecond, fr.tcp(a, b, 40001, 23, flagSYN))
	f.at(4*time.Millisecond, fr.tcp(b, a, 23, 40001, flagRST|flagACK))
	c := f.window()
	if !near(c.failed, 1) || !near(c.auth, 1) || !near(c.ports, 2) || !near(c.addrs, 1) || c.stray != 0 {
		t.Errorf("after a SYN answered, one refused and retransmitted: %+v, want 1 failed, 1 attempt at each login port, 2 ports, 1 address", c)
	}
	// Unanswered: it fails once synTimeout has passed, in the window of
	// the packet that sees it, however many packets follow.
	f.at(time.Second, fr.tcp(a, b, 40002, 8080, flagSYN))
	if c, want := f.window(), decayed(time.Second, 0, 2*time.Millisecond, time.Second); c.failed != 0 || !near(c.ports, want) {
		t.Errorf("a SYN waiting: %+v, want no failure yet and a third port (%v)", c, want)
	}
	late := time.Second + synTimeout + 2*sweepEvery
	f.at(late, fr.tcp("10.9.9.9", "10.9.9.8", 1, 2, flagACK))
	f.at(late+time.Millisecond, fr.tcp("10.9.9.9", "10.9.9.8", 1, 2, flagACK))
	c = f.window()
	if want := decayed(late, 4*time.Millisecond, late); !near(c.failed, want) {
		t.Errorf("after the timeout: %v failed, want %v (the refused attempt decayed, and this one)", c.failed, want)
	}
	f.at(late+2*time.Second, fr.tcp("10.9.9.9", "10.9.9.8", 1, 2, flagACK))
	if c := f.window(); c.failed != 0 {
		t.Errorf("the timed-out attempt counted again: %+v", c)
	}
	// A stray SYN-ACK, and an ICMP unreachable about a waiting attempt:
	// that attempt fails once, not again at its timeout.
	t0 := late + 3*time.Second
	f.at(t0, fr.tcp("198.51.100.7", "10.0.0.3", 443, 51000, flagSYN|flagACK))
	syn := fr.tcp("10.0.0.4", "192.0.2.1", 41000, 80, flagSYN)
	f.at(t0, syn)
	f.at(t0+time.Millisecond, fr.unreach("192.0.2.254", "10.0.0.4", 1, syn[14:14+28]))
	if c := f.window(); !near(c.stray, 1) || !near(c.failed, 1) {
		t.Errorf("a stray SYN-ACK and an unreachable: %+v, want 1 stray, 1 failed", c)
	}
	f.at(t0+synTimeout+2*sweepEvery, fr.tcp("10.9.9.9", "10.9.9.8", 1, 2, flagACK))
	if c := f.window(); c.failed != 0 {
		t.Errorf("the refused attempt failed again at its timeout: %+v", c)
	}
	// An unreachable about a datagram counts as a failure of its sender;
	// one about an empty datagram quotes only its header and is not
	// malformed.
	f.at(t0+20*time.Second, fr.unreach("10.0.0.2", "10.0.0.5", 2, []byte{0x45, 0, 0, 20, 0, 1, 0, 0, 64, 99, 0, 0, 10, 0, 0, 5, 10, 0, 0, 2}))
	if k := f.w.counters(); !near(k.HostFailed, 1) || k.Malformed != 0 {
		t.Errorf("a protocol unreachable: %+v, want one failure, not malformed", k)
	}
	f.window()
}

// TestContacts: new ports and addresses count once per recentTTL; UDP
// counts towards the lower port only, pings towards addresses only.
func TestContacts(t *testing.T) {
	fr := frames{t}
	f := newFeeder(t)
	for i := 0; i < 50; i++ {
		f.at(time.Duration(i)*time.Millisecond, fr.udp("10.0.0.1", "10.0.0.53", 50000, 53, nil))
		f.at(time.Duration(i)*time.Millisecond, fr.udp("10.0.0.53", "10.0.0.1", 53, 50000, nil))
	}
	if c := f.window(); !near(c.ports, 1) || !near(c.addrs, 1) {
		t.Errorf("50 datagrams to one port and back: %+v, want 1 port, 1 address", c)
	}
	for i := 0; i < 100; i++ {
		f.at(time.Second, fr.udp("10.0.0.7", "10.0.0.9", 61000, uint16(1000+i), nil))
		f.at(time.Second, fr.echo("10.0.0.7", "10.0.1."+itoa(i), 56))
	}
	if c := f.window(); !near(c.ports, 100) || !near(c.addrs, 101) {
		t.Errorf("100 ports of one host and pings to 100 others: %+v, want 100 ports, 101 addresses", c)
	}
	f.at(time.Second+recentTTL+time.Second, fr.udp("10.0.0.1", "10.0.0.53", 50000, 53, nil))
	c := f.window()
	want := 1 + math.Exp2(-float64(recentTTL+time.Second)/float64(HalfLife))
	if !near(c.ports, want) {
		t.Errorf("the same port after %v: %v ports, want it new again (%v)", recentTTL, c.ports, want)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// TestDecay: a count halves every HalfLife, and a gap long enough to
// overflow the weights rescales them without losing anything recent.
func TestDecay(t *testing.T) {
	fr := frames{t}
	f := newFeeder(t)
	for i := 0; i < 4; i++ {
		f.at(time.Duration(i)*HalfLife, fr.tcp("10.0.0.1", "10.0.0.2", uint16(40000+i), 22, flagSYN))
	}
	if c := f.window(); !near(c.auth, 1+0.5+0.25+0.125) {
		t.Errorf("four attempts a half-life apart: %v, want 1.875", c.auth)
	}
	// Days later: the weights were rescaled many times over.
	day := 24 * time.Hour
	for i := 0; i < 3; i++ {
		f.at(day+time.Duration(i)*time.Second, fr.tcp("10.0.0.1", "10.0.0.2", uint16(41000+i), 22, flagSYN))
	}
	want := 1 + math.Exp2(-1/HalfLife.Seconds()) + math.Exp2(-2/HalfLife.Seconds())
	if c := f.window(); !near(c.auth, want) {
		t.Errorf("three attempts a day later: %v, want %v (nothing left of the first ones)", c.auth, want)
	}
	for _, s := range f.d.hosts.sketches() {
		for _, v := range s.cells {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v < 0 {
				t.Fatalf("cell %v after a rescale", v)
			}
		}
	}
}

// TestSketchBound checks the count-min guarantee on a skewed stream: no key
// is underestimated, and at most δ of them exceed their count by more than
// ε·M.
func TestSketchBound(t *testing.T) {
	var s sketch
	rng := rand.New(rand.NewPCG(1, 2))
	const keys = 20000
	truth := make([]float64, keys)
	var total float64
	for i := 0; i < 200000; i++ {
		k := int(float64(keys) * math.Pow(rng.Float64(), 3)) // skewed towards the first keys
		truth[k]++
		total++
		s.addCU(mix64(uint64(k)^seedAuth), 1)
	}
	eps := math.E / sketchWidth * total
	var over int
	for k := range truth {
		est := float64(s.estimate(mix64(uint64(k) ^ seedAuth)))
		if est < truth[k] {
			t.Fatalf("key %d: estimate %v below its count %v", k, est, truth[k])
		}
		if est-truth[k] > eps {
			over++
		}
	}
	if delta := math.Exp(-sketchDepth); float64(over) > delta*keys {
		t.Errorf("%d of %d keys over their count by more than %.0f, more than δ = %.3f of them", over, keys, eps, delta)
	}
}

// TestSpoofedFlood: a flood from a million random sources allocates
// nothing; the state is what it was when the decoder was made.
func TestSpoofedFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("a million packets")
	}
	fr := frames{t}
	tmpl := fr.tcp("1.2.3.4", "10.0.0.2", 1234, 443, flagSYN)
	d := newDecoder()
	w := newWindow(1)
	rng := rand.New(rand.NewPCG(3, 4))
	p := capture.Packet{Data: tmpl, Length: len(tmpl), Link: capture.LinkEthernet}
	flood := func(n int) {
		for i := 0; i < n; i++ {
			x := rng.Uint64()
			tmpl[26], tmpl[27], tmpl[28], tmpl[29] = byte(x), byte(x>>8), byte(x>>16), byte(x>>24)
			tmpl[34], tmpl[35] = byte(x>>32), byte(x>>40)
			p.Time = base.UnixNano() + int64(i)*1000
			d.count(&p, w)
		}
	}
	flood(1000)
	if allocs := testing.AllocsPerRun(1, func() { flood(1 << 20) }); allocs != 0 {
		t.Errorf("%v allocations for a million spoofed SYNs", allocs)
	}
	if c := w.counters(); c.SYN < 1<<20 || c.HostStraySYNACK != 0 {
		t.Errorf("flood counted as %+v", c)
	}
}

// FuzzUnreachable feeds arbitrary bodies of ICMPv4 and ICMPv6 destination
// unreachables (the datagram they quote) to a new decoder: never a panic,
// exactly one failure counted, and a quote that the capture cut before the
// end of an IP header is never malformed.
func FuzzUnreachable(f *testing.F) {
	fr := frames{f}
	syn := fr.tcp("10.0.0.4", "192.0.2.1", 41000, 80, flagSYN)
	f.Add(syn[14:14+28], false, false)
	f.Add(syn[14:14+20], true, false)
	f.Add([]byte{0x45, 0, 0, 20, 0, 1, 0, 0, 64, 99, 0, 0, 10, 0, 0, 5, 10, 0, 0, 2}, false, false)
	f.Add(append([]byte{0, 0, 0, 0, 0x60, 0, 0, 0, 0, 8, 17, 64}, make([]byte, 40)...), false, true)
	f.Fuzz(func(t *testing.T, quote []byte, cut, v6 bool) {
		d := newDecoder()
		w := newWindow(1)
		var malformed bool
		header := 20
		if v6 {
			malformed, header = d.unreachable6(quote, cut, w), 4+40
		} else {
			malformed = d.unreachable4(quote, cut, w)
		}
		if c := w.counters(); c.HostFailed != 1 {
			t.Fatalf("one unreachable counted %v failures", c.HostFailed)
		}
		if malformed && cut && len(quote) < header {
			t.Fatalf("quote %x cut by the capture judged malformed", quote)
		}
	})
}

// TestEchoSizeFromItsOwnIPHeader: an ICMPv4 echo carried by IPv6 (next
// header 1) takes its size from the IPv6 header, not from the IPv4 header
// of an earlier packet.
func TestEchoSizeFromItsOwnIPHeader(t *testing.T) {
	fr := frames{t}
	f := newFeeder(t)
	f.at(0, fr.echo("10.0.0.1", "10.0.0.2", 1400))
	if got := f.w.counters().ICMPEchoSize; got != 1400 {
		t.Fatalf("a 1400-byte echo: size %d", got)
	}
	f.w.reset()
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv4,
		SrcIP: net.ParseIP("fd00::1"), DstIP: net.ParseIP("fd00::2")}
	f.at(time.Second, fr.build(fr.eth(layers.EthernetTypeIPv6), ip6,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 2}, gopacket.Payload(make([]byte, 100))))
	if got := f.w.counters().ICMPEchoSize; got != 100 {
		t.Errorf("a 100-byte ICMPv4 echo in IPv6 after a 1400-byte one in IPv4: size %d, want 100", got)
	}
}

// TestHostsCenturiesApart: packet times at both ends of the int64 range (a
// crafted pcapng's time offsets) leave the per-host counts finite.
func TestHostsCenturiesApart(t *testing.T) {
	fr := frames{t}
	d, w := newDecoder(), newWindow(1)
	for i, at := range []int64{-9e18, -9e18 + 1e9, 9e18, 9e18 + 1e9} {
		b := fr.tcp("10.0.0.1", "10.0.0.2", uint16(40000+i), 22, flagSYN)
		p := capture.Packet{Data: b, Length: len(b), Link: capture.LinkEthernet, Time: at}
		d.count(&p, w)
		c := w.counters()
		for name, v := range map[string]float64{"HostAuth": c.HostAuth, "HostFailed": c.HostFailed, "HostDstPorts": c.HostDstPorts} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("packet %d at %d: %s = %v", i, at, name, v)
			}
		}
	}
	if c := w.counters(); !(c.HostAuth >= 1) {
		t.Errorf("HostAuth %v after four SSH attempts", c.HostAuth)
	}
}
