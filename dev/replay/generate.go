package main

import (
	"bufio"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// generate writes n frames of a deterministic mix over span into path.
// Frames are drawn from a pool of 8192 distinct ones; sizes average about
// 460 bytes, like a mixed office network.
func generate(path string, n int, span time.Duration) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriterNanos(bw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	pool, err := frames(8192)
	if err != nil {
		return err
	}
	t0 := time.Unix(1700000000, 0)
	step := span / time.Duration(n)
	for i := 0; i < n; i++ {
		fr := pool[i%len(pool)]
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * step), CaptureLength: len(fr), Length: len(fr)}, fr); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func frames(n int) ([][]byte, error) {
	rng := rand.New(rand.NewPCG(3, 4))
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
		case r < 60:
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: host, DstIP: srv}
			tcp := &layers.TCP{SrcPort: layers.TCPPort(32768 + rng.IntN(28000)), DstPort: layers.TCPPort([]int{80, 443, 22, 8080}[rng.IntN(4)]), Window: 64240}
			switch rng.IntN(10) {
			case 0:
				tcp.SYN = true
			case 1:
				tcp.SYN, tcp.ACK = true, true
			case 2:
				tcp.FIN, tcp.ACK = true, true
			default:
				tcp.ACK, tcp.PSH = true, true
			}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			ls = []gopacket.SerializableLayer{eth, ip, tcp, gopacket.Payload(make([]byte, rng.IntN(1400)))}
		case r < 80:
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: host, DstIP: net.IPv4(192, 168, 1, 53)}
			udp := &layers.UDP{SrcPort: layers.UDPPort(1024 + rng.IntN(60000)), DstPort: 53}
			_ = udp.SetNetworkLayerForChecksum(ip)
			ls = []gopacket.SerializableLayer{eth, ip, udp, gopacket.Payload(make([]byte, 30+rng.IntN(60)))}
		case r < 85:
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: host, DstIP: srv}
			ls = []gopacket.SerializableLayer{eth, ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, gopacket.Payload(make([]byte, 56))}
		case r < 87:
			eth.EthernetType = layers.EthernetTypeARP
			ls = []gopacket.SerializableLayer{eth, &layers.ARP{AddrType: 1, Protocol: 0x0800, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
				SourceHwAddress: mac1, SourceProtAddress: host.To4(), DstHwAddress: make([]byte, 6), DstProtAddress: srv.To4()}}
		default:
			eth.EthernetType = layers.EthernetTypeIPv6
			src := net.ParseIP("2001:db8::1").To16()
			src[15] = byte(rng.IntN(200))
			ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src, DstIP: net.ParseIP("2001:db8::ff")}
			tcp := &layers.TCP{SrcPort: layers.TCPPort(40000 + rng.IntN(1000)), DstPort: 443, ACK: true}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			ls = []gopacket.SerializableLayer{eth, ip, tcp, gopacket.Payload(make([]byte, rng.IntN(1200)))}
		}
		if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
			return nil, err
		}
		out = append(out, append([]byte(nil), buf.Bytes()...))
	}
	return out, nil
}
