package trafficgen

// This file renders ARP spoofing: a LAN host poisons the ARP caches of the
// whole LAN to put itself between every host and the gateway, as
// bettercap's arp.spoof does with its defaults (every host of the subnet
// as a target, a round of forged replies every second): to each host, a
// reply saying that the gateway's address is at the attacker's MAC; to the
// gateway, one saying that the host's address is. Nothing else changes on
// the wire of a mirrored port: the traffic the attacker then relays is
// left out.

// spoofTargets returns the hosts an ARP spoofer poisons: every LAN host
// but itself (the gateway is poisoned about each of them).
func spoofTargets(l *lan, attacker *node) []*node {
	out := make([]*node, 0, len(l.hosts))
	for _, h := range l.hosts {
		if h != attacker {
			out = append(out, h)
		}
	}
	return out
}

// arpSpoof sends forged reply number i: replies go in rounds, two per
// target.
func (s *attackSrc) arpSpoof(g *Generator, t int64, i int) {
	sc, gw := s.a.scanner, g.lan.gw
	targets := spoofTargets(g.lan, sc)
	h := targets[(i/2)%len(targets)]
	g.at = t
	if i%2 == 0 {
		// To the host: the gateway is at the attacker's MAC.
		g.f.arp(l2{dst: h.mac, src: sc.mac}, 2, sc.mac, gw.ip4, h.mac, h.ip4)
		return
	}
	// To the gateway: the host is at the attacker's MAC.
	g.f.arp(l2{dst: gw.mac, src: sc.mac}, 2, sc.mac, h.ip4, gw.mac, gw.ip4)
}
