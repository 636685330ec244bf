package trafficgen

import (
	"bytes"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// TestARPSpoofLAN: every second, each LAN host but the attacker gets a reply
// saying that the gateway is at the attacker's MAC, and the gateway one
// saying that the host is; nothing else comes from the attack.
func TestARPSpoofLAN(t *testing.T) {
	c := small(t, "arp-spoof-lan@1m+10s")
	g, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	gw := net.IP(g.lan.gw.ip4.b[:4]).String()
	attacker := g.attacks[0].scanner
	toHosts := map[string]int{} // host address -> replies claiming the gateway
	aboutHosts := map[string]int{}
	var p Packet
	for g.Next(&p) {
		if p.Attack < 0 {
			continue
		}
		pkt := gopacket.NewPacket(p.Data, layers.LinkTypeEthernet, gopacket.NoCopy)
		arp, ok := pkt.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok || arp.Operation != layers.ARPReply || !bytes.Equal(arp.SourceHwAddress, attacker.mac[:]) {
			t.Fatalf("attack packet %v", pkt)
		}
		sender, target := net.IP(arp.SourceProtAddress).String(), net.IP(arp.DstProtAddress).String()
		switch {
		case sender == gw:
			toHosts[target]++
		case target == gw:
			aboutHosts[sender]++
		default:
			t.Fatalf("reply from %s to %s", sender, target)
		}
	}
	if want := c.Hosts - 1; len(toHosts) != want || len(aboutHosts) != want {
		t.Fatalf("%d hosts told, gateway told about %d, want %d each", len(toHosts), len(aboutHosts), want)
	}
	for h, n := range toHosts {
		if n < 9 || n > 11 || aboutHosts[h] < 9 || aboutHosts[h] > 11 {
			t.Errorf("%s: %d replies to it, %d about it in 10 s, want one a second", h, n, aboutHosts[h])
		}
	}
	if a := g.Labels().Attacks[0]; a.Attacker != net.IP(attacker.ip4.b[:4]).String() || a.Target != "192.168.1.0/24" {
		t.Errorf("labels %+v", a)
	}
}
