package trafficgen

import (
	"net"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestSlowAttacks checks what each slow or targeted attack kind sends, by
// decoding its packets.
func TestSlowAttacks(t *testing.T) {
	c := small(t, "rdp-brute@10s+20s:rate=1", "arp-spoof@10s+20s", "icmp-tunnel@10s+20s:size=300",
		"host-scan@40s+30s:rate=2,ports=3", "proto-scan@40s+30s:rate=4", "dns-exfil@80s+30s:rate=2",
		"host-scan@80s+20s:target=203.0.113.0/28,ports=2")
	g, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	gw := g.lan.gw
	var (
		rdpSYN, rdpSources      = 0, map[string]bool{}
		forged, forgedBad       = 0, 0
		echoes, echoSmall       = 0, 0
		scanSYN, scanPorts      = 0, map[uint16]bool{}
		protos, protoUnreach    = map[uint8]bool{}, 0
		exfil, exfilNX, exfilOK = 0, 0, true
		remoteSYN, scanned      = 0, 0
	)
	var p Packet
	for g.Next(&p) {
		if p.Attack < 0 {
			continue
		}
		pkt := gopacket.NewPacket(p.Data, layers.LinkTypeEthernet, gopacket.Default)
		ip4, _ := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		switch p.Attack {
		case 0:
			if tcp != nil && tcp.SYN && !tcp.ACK {
				rdpSYN++
				rdpSources[ip4.SrcIP.String()] = true
				if tcp.DstPort != 3389 {
					t.Errorf("rdp-brute SYN to port %d", tcp.DstPort)
				}
			}
		case 1:
			a, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
			if !ok || a.Operation != 2 {
				t.Fatalf("arp-spoof sent %v", pkt)
			}
			forged++
			spa := net.IP(a.SourceProtAddress)
			if net.HardwareAddr(a.SourceHwAddress).String() == net.HardwareAddr(gw.mac[:]).String() || !(spa.Equal(net.IP(gw.ip4.b[:4])) || spa.Equal(net.IP(g.attacks[1].victim.ip4.b[:4]))) {
				forgedBad++
			}
		case 2:
			if ic, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
				echoes++
				if n := len(ic.Payload); n < 64 || n > 300 {
					echoSmall++
				}
			}
		case 3:
			if a, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP); ok && a.Operation == 1 {
				scanned = max(scanned, int(a.DstProtAddress[3]))
			}
			if tcp != nil && tcp.SYN && !tcp.ACK {
				scanSYN++
				scanPorts[uint16(tcp.DstPort)] = true
			}
		case 4:
			if ip4 != nil && ip4.Protocol == layers.IPProtocolICMPv4 {
				if ic := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ic.TypeCode != layers.CreateICMPv4TypeCode(3, 2) {
					t.Errorf("proto-scan answered by %v", ic.TypeCode)
				}
				protoUnreach++
			} else if ip4 != nil {
				if protos[uint8(ip4.Protocol)] || decodedProtocol(uint8(ip4.Protocol)) {
					t.Errorf("proto-scan probed protocol %d twice or a decoded one", ip4.Protocol)
				}
				protos[uint8(ip4.Protocol)] = true
			}
		case 5:
			d, ok := pkt.Layer(layers.LayerTypeDNS).(*layers.DNS)
			if !ok {
				t.Fatalf("dns-exfil sent %v", pkt)
			}
			if !d.QR {
				exfil++
				name := string(d.Questions[0].Name)
				if d.Questions[0].Type != layers.DNSTypeA || !strings.HasSuffix(name, ".d.exfil.example.org") || len(strings.Split(name, ".")[0]) < 48 {
					exfilOK = false
				}
			} else if d.ResponseCode == layers.DNSResponseCodeNXDomain {
				exfilNX++
			}
		case 6:
			if tcp != nil && tcp.SYN && !tcp.ACK {
				remoteSYN++
			}
		}
	}
	if rdpSYN < 10 || rdpSYN > 35 || len(rdpSources) != 1 {
		t.Errorf("rdp-brute: %d connections from %d sources in 20 s at 1/s", rdpSYN, len(rdpSources))
	}
	if forged < 15 || forged > 25 || forgedBad != 0 {
		t.Errorf("arp-spoof: %d forged replies (%d claiming something else), want about 20 in 20 s", forged, forgedBad)
	}
	if echoes < 150 || echoSmall != 0 {
		t.Errorf("icmp-tunnel: %d echoes, %d outside 64..300 bytes", echoes, echoSmall)
	}
	// The scan reaches the addresses .1 to .probes; only those of hosts
	// are resolved, and probed.
	live := 0
	for _, n := range append([]*node{gw}, g.lan.hosts...) {
		if n != g.attacks[3].scanner && int(n.ip4.b[3]) <= scanned {
			live++
		}
	}
	if scanned < 50 || len(scanPorts) != 3 || scanSYN != 3*live {
		t.Errorf("host-scan of %d addresses: %d SYNs to %d ports, want 3 ports of each of the %d hosts among them", scanned, scanSYN, len(scanPorts), live)
	}
	if len(protos) < 100 || len(protos) > 140 || protoUnreach != len(protos) {
		t.Errorf("proto-scan: %d protocols, %d unreachables, want about 120 of each", len(protos), protoUnreach)
	}
	if exfil < 40 || exfilNX != exfil || !exfilOK {
		t.Errorf("dns-exfil: %d queries (well formed: %v), %d NXDOMAIN", exfil, exfilOK, exfilNX)
	}
	if remoteSYN < 2*12 || remoteSYN > 2*14 || remoteSYN%2 != 0 {
		t.Errorf("remote host-scan of a /28 over its duration: %d SYNs, want 2 for each of its addresses reached", remoteSYN)
	}
}
