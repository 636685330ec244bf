package miner

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/core/capture"
	"netspot/core/event"
)

// mixedFrames returns n frames of a plausible mix: TCP handshakes and data,
// DNS over UDP, ICMP, ARP, IPv6 TCP and UDP, some VLAN-tagged, from a few
// hundred hosts.
func mixedFrames(tb testing.TB, n int) [][]byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	buf := gopacket.NewSerializeBuffer()
	mac1, mac2 := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	out := make([][]byte, 0, n)
	for len(out) < n {
		host := net.IPv4(10, 0, byte(rng.IntN(4)), byte(1+rng.IntN(250)))
		srv := net.IPv4(192, 168, 1, byte(1+rng.IntN(20)))
		eth := &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}
		var ls []gopacket.SerializableLayer
		switch r := rng.IntN(100); {
		case r < 60: // TCP
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: host, DstIP: srv}
			tcp := &layers.TCP{SrcPort: layers.TCPPort(32768 + rng.IntN(28000)), DstPort: layers.TCPPort([]int{80, 443, 22, 8080}[rng.IntN(4)]), Window: 64240}
			switch rng.IntN(10) {
			case 0:
				tcp.SYN = true
				tcp.Options = []layers.TCPOption{{OptionType: 2, OptionLength: 4, OptionData: []byte{5, 180}}, {OptionType: 4, OptionLength: 2}, {OptionType: 8, OptionLength: 10, OptionData: make([]byte, 8)}, {OptionType: 1}, {OptionType: 3, OptionLength: 3, OptionData: []byte{7}}}
			case 1:
				tcp.SYN, tcp.ACK = true, true
			case 2:
				tcp.FIN, tcp.ACK = true, true
			default:
				tcp.ACK, tcp.PSH = true, true
			}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			ls = []gopacket.SerializableLayer{eth, ip, tcp, gopacket.Payload(make([]byte, rng.IntN(1400)))}
		case r < 75: // DNS
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: host, DstIP: net.IPv4(192, 168, 1, 53)}
			udp := &layers.UDP{SrcPort: layers.UDPPort(1024 + rng.IntN(60000)), DstPort: 53}
			_ = udp.SetNetworkLayerForChecksum(ip)
			ls = []gopacket.SerializableLayer{eth, ip, udp, gopacket.Payload(make([]byte, 30+rng.IntN(60)))}
		case r < 80: // VLAN-tagged UDP
			eth.EthernetType = layers.EthernetTypeDot1Q
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: host, DstIP: srv}
			udp := &layers.UDP{SrcPort: 5000, DstPort: layers.UDPPort(6000 + rng.IntN(100))}
			_ = udp.SetNetworkLayerForChecksum(ip)
			ls = []gopacket.SerializableLayer{eth, &layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(make([]byte, 200))}
		case r < 83: // ICMP
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: host, DstIP: srv}
			ls = []gopacket.SerializableLayer{eth, ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, gopacket.Payload(make([]byte, 56))}
		case r < 85: // ARP
			eth.EthernetType = layers.EthernetTypeARP
			ls = []gopacket.SerializableLayer{eth, &layers.ARP{AddrType: 1, Protocol: 0x0800, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
				SourceHwAddress: mac1, SourceProtAddress: host.To4(), DstHwAddress: make([]byte, 6), DstProtAddress: srv.To4()}}
		default: // IPv6 TCP or UDP
			eth.EthernetType = layers.EthernetTypeIPv6
			src := net.ParseIP("2001:db8::1").To16()
			src[15] = byte(rng.IntN(200))
			ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src, DstIP: net.ParseIP("2001:db8::ff")}
			if rng.IntN(2) == 0 {
				tcp := &layers.TCP{SrcPort: layers.TCPPort(40000 + rng.IntN(1000)), DstPort: 443, ACK: true}
				_ = tcp.SetNetworkLayerForChecksum(ip)
				ls = []gopacket.SerializableLayer{eth, ip, tcp, gopacket.Payload(make([]byte, rng.IntN(1200)))}
			} else {
				ip.NextHeader = layers.IPProtocolUDP
				udp := &layers.UDP{SrcPort: 546, DstPort: 547}
				_ = udp.SetNetworkLayerForChecksum(ip)
				ls = []gopacket.SerializableLayer{eth, ip, udp, gopacket.Payload(make([]byte, 80))}
			}
		}
		if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
			tb.Fatal(err)
		}
		out = append(out, append([]byte(nil), buf.Bytes()...))
	}
	return out
}

// BenchmarkDecode is the per-packet path: decode one frame of the mix and
// update every counter and distinct set.
func BenchmarkDecode(b *testing.B) {
	frames := mixedFrames(b, 4096)
	pkts := make([]capture.Packet, len(frames))
	for i, f := range frames {
		pkts[i] = capture.Packet{Data: f, Length: len(f), Link: capture.LinkEthernet}
	}
	d := newDecoder()
	w := newWindow(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i&0xffff == 0 {
			w.reset()
		}
		d.count(&pkts[i&4095], w)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// writeMixed writes n mixed frames over span into a pcap at path.
func writeMixed(tb testing.TB, path string, n int, span time.Duration) {
	tb.Helper()
	frames := mixedFrames(tb, 4096)
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		tb.Fatal(err)
	}
	step := span / time.Duration(n)
	for i := 0; i < n; i++ {
		f := frames[i%len(frames)]
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * step), CaptureLength: len(f), Length: len(f)}, f); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkReplay replays a 200,000-packet capture (page cache) through the
// whole miner with 1 s windows: read, decode, count, emit. One op is one
// packet.
func BenchmarkReplay(b *testing.B) {
	const n = 200000
	path := filepath.Join(b.TempDir(), "replay.pcap")
	writeMixed(b, path, n, 20*time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	done := 0
	for done < b.N {
		m, err := New(fileConfig(path), time.Second, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Run(context.Background(), func(*event.Snapshot) {}); err != nil {
			b.Fatal(err)
		}
		m.Close()
		done += n
	}
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(0, "ns/op")
}

// TestDecodeAllocs checks that decoding the mix allocates nothing once
// the layers have seen every kind of packet.
func TestDecodeAllocs(t *testing.T) {
	frames := mixedFrames(t, 1024)
	d := newDecoder()
	w := newWindow(1)
	pkts := make([]capture.Packet, len(frames))
	for i, f := range frames {
		pkts[i] = capture.Packet{Data: f, Length: len(f), Link: capture.LinkEthernet}
		d.count(&pkts[i], w)
	}
	allocs := testing.AllocsPerRun(10, func() {
		for i := range pkts {
			d.count(&pkts[i], w)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per %d packets, want 0", allocs, len(pkts))
	}
}
