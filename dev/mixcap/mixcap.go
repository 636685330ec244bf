// Package mixcap makes a plausible mix of Ethernet frames — TCP handshakes
// and data, DNS over UDP, ICMP, ARP, IPv6 TCP and UDP, some VLAN-tagged,
// from a few hundred hosts — for benchmarks and load tests of the capture
// path, where the realism of a whole network (dev/trafficgen) is not needed
// but millions of varied frames are.
package mixcap

import (
	"fmt"
	"math/rand/v2"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Frames returns n frames, the same for the same seed.
func Frames(seed uint64, n int) ([][]byte, error) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
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
			return nil, fmt.Errorf("mixcap: %w", err)
		}
		out = append(out, append([]byte(nil), buf.Bytes()...))
	}
	return out, nil
}
