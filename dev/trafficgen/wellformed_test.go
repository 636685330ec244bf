package trafficgen

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"netspot/core/config"
)

// allAttacks is a scenario with every attack kind, one after the other.
func allAttacks(t testing.TB) Config {
	t.Helper()
	c := DefaultConfig()
	c.Duration = config.Duration(20 * time.Minute)
	c.Rate = 150
	c.Hosts = 20
	specs := []string{
		"syn-scan@1m+20s", "connect-scan@2m+20s:ports=300", "fin-scan@3m+10s:ports=200",
		"null-scan@3m30s+10s:ports=200,target=workstation", "xmas-scan@4m+10s:ports=200,target=printer",
		"udp-scan@5m+20s:ports=300,target=gateway", "ping-sweep@6m+10s", "ping-sweep@6m30s+10s:target=10.20.30.0/24",
		"arp-scan@7m+10s", "syn-flood@8m+10s:rate=500", "udp-flood@9m+10s:rate=800",
		"udp-flood@9m30s+5s:rate=300,from=spoofed,port=53,target=nas", "dns-tunnel@10m+30s",
		"ssh-brute@11m+40s", "ftp-brute@12m+40s", "synack-reflection@13m+10s:rate=300",
		"rdp-brute@14m+30s:rate=2", "arp-spoof@15m+20s", "icmp-tunnel@15m30s+20s", "host-scan@16m+40s:rate=4",
		"host-scan@17m+20s:target=203.0.113.0/28,ports=4", "proto-scan@17m30s+30s", "dns-exfil@18m30s+30s:rate=5",
	}
	for _, s := range specs {
		a, err := ParseAttack(s)
		if err != nil {
			t.Fatal(err)
		}
		c.Attacks = append(c.Attacks, a)
	}
	return c
}

type flowKey struct {
	src, dst     [16]byte
	sport, dport uint16
}

type flowState struct {
	next   uint32 // next expected sequence number
	maxAck uint32
	hasAck bool
}

// TestWellFormed decodes every packet of a capture holding every attack
// with gopacket, checks every checksum, and follows every TCP connection's
// sequence and acknowledgment numbers.
func TestWellFormed(t *testing.T) {
	g, err := New(allAttacks(t))
	if err != nil {
		t.Fatal(err)
	}
	flows := map[flowKey]*flowState{}
	var p Packet
	var n, tcpN, udpN, icmpN, arpN, v6N, dnsN, tlsHello int
	var prev time.Duration
	for g.Next(&p) {
		n++
		if p.Offset < prev {
			t.Fatalf("packet %d at %v goes back in time (previous %v)", n, p.Offset, prev)
		}
		prev = p.Offset
		if len(p.Data) != p.Length {
			t.Fatalf("packet %d: captured %d of %d bytes without a snaplen", n, len(p.Data), p.Length)
		}
		// Streams decoded as datagrams: TCP payloads go through the
		// application decoders too (TLS on 443).
		pkt := gopacket.NewPacket(p.Data, layers.LinkTypeEthernet, gopacket.DecodeOptions{DecodeStreamsAsDatagrams: true})
		if el := pkt.ErrorLayer(); el != nil {
			if !serverHelloError(pkt) {
				t.Fatalf("packet %d (%v): decoding error: %v\n%s", n, p.Offset, el.Error(), pkt.Dump())
			}
		}
		var net gopacket.NetworkLayer
		if ip := pkt.Layer(layers.LayerTypeIPv4); ip != nil {
			ip4 := ip.(*layers.IPv4)
			if err, res := ip4.VerifyChecksum(); err != nil || !res.Valid {
				t.Fatalf("packet %d: bad IPv4 header checksum", n)
			}
			if int(ip4.Length)+14 != p.Length && p.Length != minFrame {
				t.Fatalf("packet %d: IPv4 length %d for a %d-byte frame", n, ip4.Length, p.Length)
			}
			net = ip4
		}
		if ip := pkt.Layer(layers.LayerTypeIPv6); ip != nil {
			v6N++
			net = ip.(*layers.IPv6)
		}
		if l := pkt.Layer(layers.LayerTypeTCP); l != nil {
			tcpN++
			tcp := l.(*layers.TCP)
			if err := tcp.SetNetworkLayerForChecksum(net); err != nil {
				t.Fatal(err)
			}
			if err, res := tcp.VerifyChecksum(); err != nil || !res.Valid {
				t.Fatalf("packet %d: bad TCP checksum %#x (want %#x)\n%s", n, res.Actual, res.Correct, pkt.Dump())
			}
			checkTCP(t, n, flows, net, tcp)
		}
		if l := pkt.Layer(layers.LayerTypeUDP); l != nil {
			udpN++
			udp := l.(*layers.UDP)
			if err := udp.SetNetworkLayerForChecksum(net); err != nil {
				t.Fatal(err)
			}
			if err, res := udp.VerifyChecksum(); err != nil || !res.Valid {
				t.Fatalf("packet %d: bad UDP checksum\n%s", n, pkt.Dump())
			}
		}
		if l := pkt.Layer(layers.LayerTypeICMPv4); l != nil {
			icmpN++
			if err, res := l.(*layers.ICMPv4).VerifyChecksum(); err != nil || !res.Valid {
				t.Fatalf("packet %d: bad ICMPv4 checksum\n%s", n, pkt.Dump())
			}
		}
		if l := pkt.Layer(layers.LayerTypeICMPv6); l != nil {
			icmpN++
			ic := l.(*layers.ICMPv6)
			if err := ic.SetNetworkLayerForChecksum(net); err != nil {
				t.Fatal(err)
			}
			if err, res := ic.VerifyChecksum(); err != nil || !res.Valid {
				t.Fatalf("packet %d: bad ICMPv6 checksum\n%s", n, pkt.Dump())
			}
		}
		if pkt.Layer(layers.LayerTypeARP) != nil {
			arpN++
		}
		if pkt.Layer(layers.LayerTypeDNS) != nil {
			dnsN++
		}
		if l := pkt.Layer(layers.LayerTypeTLS); l != nil && len(l.(*layers.TLS).Handshake) > 0 {
			if sni := l.(*layers.TLS).Handshake[0].ClientHello.SNI; len(sni) > 0 {
				tlsHello++
			}
		}
	}
	t.Logf("%d packets: %d TCP, %d UDP, %d ICMP, %d ARP, %d IPv6, %d DNS, %d ClientHello", n, tcpN, udpN, icmpN, arpN, v6N, dnsN, tlsHello)
	for name, c := range map[string]int{"TCP": tcpN, "UDP": udpN, "ICMP": icmpN, "ARP": arpN, "IPv6": v6N, "DNS": dnsN, "ClientHello": tlsHello} {
		if c == 0 {
			t.Errorf("no %s packet in the capture", name)
		}
	}
}

// serverHelloError reports whether the packet's only decoding problem is
// gopacket's TLS decoder, which decodes no handshake message but the
// ClientHello: a ServerHello record is then checked by hand here.
func serverHelloError(pkt gopacket.Packet) bool {
	tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok || tcp.SrcPort != 443 {
		return false
	}
	b := tcp.Payload
	// ServerHello record, then ChangeCipherSpec, then application data.
	if len(b) < 133 || b[0] != 0x16 || b[5] != 2 || binary.BigEndian.Uint16(b[3:5]) != 0x7a {
		return false
	}
	b = b[127:]
	if b[0] != 0x14 || binary.BigEndian.Uint16(b[3:5]) != 1 {
		return false
	}
	return checkRecords(b[6:]) == nil
}

// checkRecords checks that b is a whole number of TLS records.
func checkRecords(b []byte) error {
	for len(b) > 0 {
		if len(b) < 5 {
			return fmt.Errorf("%d bytes left, less than a record header", len(b))
		}
		if b[0] < 20 || b[0] > 23 || b[1] != 3 {
			return fmt.Errorf("record type %d version %d.%d", b[0], b[1], b[2])
		}
		n := 5 + int(binary.BigEndian.Uint16(b[3:5]))
		if n > len(b) {
			return fmt.Errorf("record of %d bytes in %d", n, len(b))
		}
		b = b[n:]
	}
	return nil
}

// checkTCP follows sequence numbers: each segment starts where the previous
// one of its direction ended, and no segment acknowledges data the other
// side has not sent.
func checkTCP(t *testing.T, n int, flows map[flowKey]*flowState, net gopacket.NetworkLayer, tcp *layers.TCP) {
	t.Helper()
	var k flowKey
	copy(k.src[:], net.NetworkFlow().Src().Raw())
	copy(k.dst[:], net.NetworkFlow().Dst().Raw())
	k.sport, k.dport = uint16(tcp.SrcPort), uint16(tcp.DstPort)
	rev := flowKey{src: k.dst, dst: k.src, sport: k.dport, dport: k.sport}
	f := flows[k]
	if tcp.SYN || f == nil {
		f = &flowState{next: tcp.Seq}
		flows[k] = f
	}
	if tcp.Seq != f.next && !tcp.RST {
		t.Fatalf("packet %d: %v:%d -> %v:%d seq %d, expected %d", n, net.NetworkFlow().Src(), k.sport, net.NetworkFlow().Dst(), k.dport, tcp.Seq, f.next)
	}
	adv := uint32(len(tcp.Payload))
	if tcp.SYN {
		adv++
	}
	if tcp.FIN {
		adv++
	}
	f.next = tcp.Seq + adv
	if tcp.ACK && !tcp.SYN {
		if r := flows[rev]; r != nil && int32(tcp.Ack-r.next) > 0 {
			t.Fatalf("packet %d: %v:%d -> %v:%d %+v acknowledges %d, beyond the %d the peer sent", n, net.NetworkFlow().Src(), k.sport, net.NetworkFlow().Dst(), k.dport, tcp.BaseLayer.Contents[12:14], tcp.Ack, r.next)
		}
		if f.hasAck && int32(tcp.Ack-f.maxAck) < 0 && !tcp.RST {
			t.Fatalf("packet %d: acknowledgment goes back from %d to %d", n, f.maxAck, tcp.Ack)
		}
		f.maxAck, f.hasAck = tcp.Ack, true
	}
	if len(tcp.Payload) > 0 && (tcp.SrcPort == 443 || tcp.DstPort == 443) && tcp.Payload[0] != 0x16 || (len(tcp.Payload) > 0 && tcp.SrcPort == 443 && tcp.Payload[0] == 0x17) {
		if err := checkRecords(tcp.Payload); err != nil {
			t.Fatalf("packet %d: TLS segment is not whole records: %v", n, err)
		}
	}
}
