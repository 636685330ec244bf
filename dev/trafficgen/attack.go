package trafficgen

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// This file renders the attacks: scans, sweeps, floods, a DNS tunnel and
// password guessing, each as the usual tools produce it and with the
// replies the targets send back, so that the ratios a detector watches
// (SYN to SYN-ACK, RST, ICMP unreachable, distinct ports and addresses)
// move the way they do on a real network.

// apkt is a packet of an attack (a probe or a reply).
type apkt struct {
	t            int64
	kind         uint8
	flags        uint8
	smac, dmac   [6]byte
	src, dst     ipAddr
	sport, dport uint16
	seq, ack     uint32
	ttl          uint8
	n            int // payload bytes (UDP)
	win          uint16
	opts         uint8 // TCP options: 0 none, 1 MSS only, 2 the sender's full SYN options
	os           osKind
	from, to     *node // ARP
	proto        uint8 // IP protocol of a raw probe
}

const (
	akTCP uint8 = iota
	akUDP
	akUnreach // ICMP port unreachable quoting a UDP packet (the fields describe that packet)
	akEcho
	akEchoReply
	akARPRequest
	akARPReply
	akRawIP        // an IP packet of protocol proto without payload
	akProtoUnreach // ICMP protocol unreachable quoting such a packet (the fields describe it)
)

// attackSrc is the source of one attack: probes at a steady pace with
// jitter, and the replies they cause.
type attackSrc struct {
	r       *rng
	a       *plannedAttack
	t       int64 // next probe
	end     int64
	probes  int // probes sent
	limit   int // probes to send at most (0: until end)
	gap     int64
	q       []apkt
	tokens  float64 // ICMP rate limit of the target
	tokT    int64
	sport   uint16
	seqBase uint32
}

func (s *attackSrc) next() int64 {
	t := int64(never)
	if len(s.q) > 0 {
		t = s.q[0].t
	}
	if s.t < s.end && (s.limit == 0 || s.probes < s.limit) && s.t < t {
		t = s.t
	}
	return t
}

func (s *attackSrc) push(p apkt) {
	s.q = append(s.q, p)
	for i := len(s.q) - 1; i > 0 && s.q[i-1].t > p.t; i-- {
		s.q[i], s.q[i-1] = s.q[i-1], s.q[i]
	}
}

func (s *attackSrc) fire(g *Generator) bool {
	probing := s.t < s.end && (s.limit == 0 || s.probes < s.limit)
	if len(s.q) > 0 && (!probing || s.q[0].t <= s.t) {
		p := s.q[0]
		copy(s.q, s.q[1:])
		s.q = s.q[:len(s.q)-1]
		g.buildAttackPacket(&p)
		return true
	}
	s.probe(g, s.t, s.probes)
	s.probes++
	s.t += s.r.jitterNS(s.gap, 0.5) + 1
	return true
}

// allow applies the target's ICMP error rate limit (a token bucket, as
// Linux's icmp_msgs_per_sec and icmp_msgs_burst).
func (s *attackSrc) allow(t int64) bool {
	rate := float64(s.a.unreachRate)
	if rate <= 0 {
		return true
	}
	s.tokens = min(s.tokens+float64(rate*float64(t-s.tokT)/1e9), 50)
	s.tokT = t
	if s.tokens >= 1 {
		s.tokens--
		return true
	}
	return false
}

// probe sends probe number i at t and queues what it causes.
func (s *attackSrc) probe(g *Generator, t int64, i int) {
	a := s.a
	r := s.r
	gw := g.lan.gw
	switch a.kind {
	case "syn-scan", "fin-scan", "null-scan", "xmas-scan", "connect-scan":
		port := a.ports[i%len(a.ports)]
		sc, vi := a.scanner, a.victim
		p := apkt{t: t, kind: akTCP, smac: sc.mac, dmac: vi.mac, src: sc.ip4, dst: vi.ip4, dport: port, ttl: sc.ttl(), win: 1024, opts: 1}
		p.sport, p.seq = s.sport, s.seqBase+uint32(i)*0x9e37
		switch a.kind {
		case "syn-scan":
			p.flags = tcpSYN
		case "fin-scan":
			p.flags, p.opts = tcpFIN, 0
		case "null-scan":
			p.flags, p.opts = 0, 0
		case "xmas-scan":
			p.flags, p.opts = tcpFIN|tcpPSH|tcpURG, 0
		case "connect-scan":
			p.flags, p.opts, p.os, p.win = tcpSYN, 2, sc.os, 64240
			p.sport = uint16(r.between(32768, 60999))
			p.seq = r.u32()
		}
		g.buildAttackPacket(&p)
		open := a.open[port]
		lag := int64(r.between(80, 600)) * 1e3
		back := apkt{t: t + lag, kind: akTCP, smac: vi.mac, dmac: sc.mac, src: vi.ip4, dst: sc.ip4, sport: port, dport: p.sport, ttl: vi.ttl()}
		switch {
		case p.flags&tcpSYN != 0 && open:
			back.flags, back.seq, back.ack, back.win, back.opts, back.os = tcpSYN|tcpACK, r.u32(), p.seq+1, 65160, 2, vi.os
			s.push(back)
			// The scanner answers the SYN-ACK: a RST from its kernel after a
			// raw SYN, the end of the handshake then a RST after connect().
			fin := apkt{t: back.t + int64(r.between(30, 200))*1e3, kind: akTCP, smac: sc.mac, dmac: vi.mac, src: sc.ip4, dst: vi.ip4, sport: p.sport, dport: port, ttl: sc.ttl()}
			if a.kind == "syn-scan" {
				fin.flags, fin.seq = tcpRST, p.seq+1
			} else {
				fin.flags, fin.seq, fin.ack, fin.win = tcpACK, p.seq+1, back.seq+1, 502
				s.push(fin)
				fin.t += int64(r.between(20, 200)) * 1e3
				fin.flags = tcpRST | tcpACK
			}
			s.push(fin)
		case open: // FIN, NULL, XMAS to an open port: no answer (except from Windows)
			if vi.os == osWindows {
				back.flags, back.ack = tcpRST|tcpACK, p.seq+uint32(p.flags&tcpFIN)
				s.push(back)
			}
		case vi.os == osWindows && vi.role == roleWorkstation && p.flags&tcpSYN != 0:
			// the host firewall drops probes to closed ports
		default:
			back.flags, back.ack = tcpRST|tcpACK, p.seq
			if p.flags&(tcpSYN|tcpFIN) != 0 {
				back.ack++
			}
			s.push(back)
		}
	case "udp-scan":
		port := a.ports[i%len(a.ports)]
		sc, vi := a.scanner, a.victim
		p := apkt{t: t, kind: akUDP, smac: sc.mac, dmac: vi.mac, src: sc.ip4, dst: vi.ip4, sport: s.sport, dport: port, ttl: sc.ttl()}
		p.n = probePayload(port)
		g.buildAttackPacket(&p)
		if !a.open[port] && s.allow(t) {
			p.kind = akUnreach
			p.t = t + int64(r.between(80, 600))*1e3
			s.push(p)
		}
	case "udp-flood":
		vi := a.victim
		p := apkt{t: t, kind: akUDP, smac: gw.mac, dmac: vi.mac, src: a.extSrc, dst: vi.ip4, sport: s.sport, dport: uint16(a.port), ttl: 52, n: a.size}
		if a.spoofed {
			p.src = randomPublic(r)
			p.sport = uint16(r.between(1024, 65535))
		}
		if a.fromLAN != nil {
			p.smac, p.src, p.ttl = a.fromLAN.mac, a.fromLAN.ip4, a.fromLAN.ttl()
		}
		if a.port == 0 {
			for p.dport = 0; p.dport == 0 || decodedUDPPort(p.dport); {
				p.dport = uint16(r.between(1, 65535))
			}
		}
		if lit := probePayload(p.dport); lit > 0 {
			p.n = lit
		}
		g.buildAttackPacket(&p)
		if !a.open[p.dport] && s.allow(t) {
			p.kind = akUnreach
			p.t = t + int64(r.between(30, 200))*1e3
			s.push(p)
		}
	case "syn-flood":
		vi := a.victim
		p := apkt{t: t, kind: akTCP, flags: tcpSYN, smac: gw.mac, dmac: vi.mac, src: randomPublic(r), dst: vi.ip4,
			sport: uint16(r.between(1024, 65535)), dport: uint16(a.port), seq: r.u32(), ttl: uint8(r.between(40, 60)), win: 512}
		g.buildAttackPacket(&p)
		// SYN cookies: every SYN gets one SYN-ACK, never retransmitted.
		s.push(apkt{t: t + int64(r.between(20, 150))*1e3, kind: akTCP, flags: tcpSYN | tcpACK, smac: vi.mac, dmac: gw.mac,
			src: vi.ip4, dst: p.src, sport: p.dport, dport: p.sport, seq: r.u32(), ack: p.seq + 1, ttl: vi.ttl(), win: 65160, opts: 2, os: vi.os})
	case "synack-reflection":
		vi := a.victim
		p := apkt{t: t, kind: akTCP, flags: tcpSYN | tcpACK, smac: gw.mac, dmac: vi.mac, src: randomPublic(r), dst: vi.ip4,
			sport: []uint16{80, 443, 443, 22, 25, 53}[r.intn(6)], dport: uint16(r.between(1024, 65535)), seq: r.u32(), ack: r.u32(),
			ttl: uint8(r.between(40, 60)), win: 65160, opts: 2, os: osLinux}
		g.buildAttackPacket(&p)
		// No connection matches: the victim answers with a RST.
		s.push(apkt{t: t + int64(r.between(20, 150))*1e3, kind: akTCP, flags: tcpRST, smac: vi.mac, dmac: gw.mac,
			src: vi.ip4, dst: p.src, sport: p.dport, dport: p.sport, seq: p.ack, ttl: vi.ttl()})
	case "ping-sweep":
		s.sweep(g, t, i)
	case "host-scan":
		s.hostScan(g, t, i)
	case "arp-spoof":
		// In turn: to the victim, "the gateway is at my MAC"; to the
		// gateway, "the victim is at my MAC".
		sc, vi := a.scanner, a.victim
		if i%2 == 0 {
			g.f.arp(l2{dst: vi.mac, src: sc.mac}, 2, sc.mac, gw.ip4, vi.mac, vi.ip4)
		} else {
			g.f.arp(l2{dst: gw.mac, src: sc.mac}, 2, sc.mac, vi.ip4, gw.mac, gw.ip4)
		}
		g.at = t
	case "icmp-tunnel":
		sc := a.scanner
		echo := apkt{t: t, kind: akEcho, smac: sc.mac, dmac: gw.mac, src: sc.ip4, dst: a.extSrc, ttl: sc.ttl(),
			sport: s.sport, dport: uint16(i + 1), n: r.between(64, a.size)}
		g.buildAttackPacket(&echo)
		rep := echo
		rep.kind, rep.t, rep.n = akEchoReply, t+int64(r.between(20, 90))*1e6, r.between(64, a.size)
		rep.smac, rep.dmac, rep.src, rep.dst, rep.ttl = gw.mac, sc.mac, a.extSrc, sc.ip4, 52
		s.push(rep)
	case "proto-scan":
		sc, vi := a.scanner, a.victim
		p := apkt{t: t, kind: akRawIP, smac: sc.mac, dmac: vi.mac, src: sc.ip4, dst: vi.ip4, ttl: sc.ttl(), proto: a.protos[i%len(a.protos)]}
		p.seq = s.seqBase + uint32(i)
		g.buildAttackPacket(&p)
		if s.allow(t) {
			p.kind = akProtoUnreach
			p.t = t + int64(r.between(80, 600))*1e3
			s.push(p)
		}
	case "arp-scan":
		sc := a.scanner
		target := a.addrs[i%len(a.addrs)]
		g.f.arp(l2{dst: broadcastMAC, src: sc.mac}, 1, sc.mac, sc.ip4, [6]byte{}, target)
		g.at = t
		if h := g.lan.byIP(target); h != nil && h != sc {
			s.push(apkt{t: t + int64(r.between(100, 3000))*1e3, kind: akARPReply, from: h, to: sc})
		}
	}
}

// sweep sends ping number i of a sweep. On the scanner's own LAN each
// address is first resolved with ARP (three tries a second apart for an
// address nobody has); elsewhere pings go through the gateway.
func (s *attackSrc) sweep(g *Generator, t int64, i int) {
	a, r := s.a, s.r
	sc := a.scanner
	target := a.addrs[i%len(a.addrs)]
	id := uint16(s.sport)
	echo := apkt{kind: akEcho, smac: sc.mac, dmac: g.lan.gw.mac, src: sc.ip4, dst: target, ttl: sc.ttl(), sport: id, dport: uint16(i + 1), os: sc.os}
	if !a.local {
		echo.t = t
		g.buildAttackPacket(&echo)
		if r.chance(a.alive) {
			rep := echo
			rep.kind, rep.t = akEchoReply, t+int64(r.between(5, 80))*1e6
			rep.smac, rep.dmac, rep.src, rep.dst, rep.ttl = g.lan.gw.mac, sc.mac, target, sc.ip4, uint8(r.between(40, 60))
			s.push(rep)
		}
		return
	}
	h := g.lan.byIP(target)
	g.f.arp(l2{dst: broadcastMAC, src: sc.mac}, 1, sc.mac, sc.ip4, [6]byte{}, target)
	g.at = t
	if h == nil || h == sc {
		for k := int64(1); k <= 2; k++ {
			s.push(apkt{t: t + k*1e9 + int64(r.between(0, 5000))*1e3, kind: akARPRequest, from: sc, dst: target})
		}
		return
	}
	t1 := t + int64(r.between(100, 2000))*1e3
	s.push(apkt{t: t1, kind: akARPReply, from: h, to: sc})
	echo.t, echo.dmac = t1+int64(r.between(20, 100))*1e3, h.mac
	s.push(echo)
	rep := echo
	rep.kind, rep.t = akEchoReply, echo.t+int64(r.between(100, 900))*1e3
	rep.smac, rep.dmac, rep.src, rep.dst, rep.ttl = h.mac, sc.mac, target, sc.ip4, h.ttl()
	s.push(rep)
}

// hostScanPorts are the ports a host scan probes on each host, in order:
// remote logins and file sharing first.
var hostScanPorts = []uint16{22, 445, 3389, 80, 443, 23, 21, 5900, 8080, 139, 135, 3306, 5432, 1883, 8443, 25}

// hostScan probes the ports of address number i. On the scanner's LAN the
// address is first resolved with ARP (three tries a second apart for an
// address nobody has, and then nothing is sent); elsewhere the probes go
// through the gateway and a few addresses answer.
func (s *attackSrc) hostScan(g *Generator, t int64, i int) {
	a, r := s.a, s.r
	sc, gw := a.scanner, g.lan.gw
	target := a.addrs[i%len(a.addrs)]
	probe := func(t int64, j int, dmac [6]byte) apkt {
		return apkt{t: t, kind: akTCP, flags: tcpSYN, smac: sc.mac, dmac: dmac, src: sc.ip4, dst: target, sport: s.sport,
			dport: a.ports[j], seq: s.seqBase + uint32(i*len(a.ports)+j)*0x9e37, ttl: sc.ttl(), win: 1024, opts: 1}
	}
	// answer queues the target's answer to p and the scanner's reset.
	answer := func(p apkt, open bool, lag int64, smac [6]byte, ttl uint8) {
		back := apkt{t: p.t + lag, kind: akTCP, smac: smac, dmac: sc.mac, src: target, dst: sc.ip4, sport: p.dport, dport: p.sport, ttl: ttl}
		if open {
			back.flags, back.seq, back.ack, back.win, back.opts, back.os = tcpSYN|tcpACK, r.u32(), p.seq+1, 65160, 2, osLinux
			s.push(back)
			s.push(apkt{t: back.t + int64(r.between(30, 200))*1e3, kind: akTCP, flags: tcpRST, smac: sc.mac, dmac: smac,
				src: sc.ip4, dst: target, sport: p.sport, dport: p.dport, seq: p.seq + 1, ttl: sc.ttl()})
			return
		}
		back.flags, back.ack = tcpRST|tcpACK, p.seq+1
		s.push(back)
	}
	gap := func() int64 { return int64(r.between(2, 40)) * 1e6 }
	if !a.local {
		alive := r.chance(0.3)
		at := t
		for j := range a.ports {
			p := probe(at, j, gw.mac)
			if j == 0 {
				g.buildAttackPacket(&p)
			} else {
				s.push(p)
			}
			if alive {
				port := a.ports[j]
				answer(p, port == 80 || port == 443, int64(r.between(20, 120))*1e6, gw.mac, uint8(r.between(40, 60)))
			}
			at += gap()
		}
		return
	}
	h := g.lan.byIP(target)
	g.f.arp(l2{dst: broadcastMAC, src: sc.mac}, 1, sc.mac, sc.ip4, [6]byte{}, target)
	g.at = t
	if h == nil || h == sc {
		for k := int64(1); k <= 2; k++ {
			s.push(apkt{t: t + k*1e9 + int64(r.between(0, 5000))*1e3, kind: akARPRequest, from: sc, dst: target})
		}
		return
	}
	at := t + int64(r.between(100, 2000))*1e3
	s.push(apkt{t: at, kind: akARPReply, from: h, to: sc})
	open := map[uint16]bool{}
	for _, p := range openPorts(h) {
		open[p] = true
	}
	for j := range a.ports {
		at += int64(r.between(20, 100)) * 1e3
		if j > 0 {
			at += gap()
		}
		p := probe(at, j, h.mac)
		s.push(p)
		if !open[p.dport] && h.os == osWindows && h.role == roleWorkstation {
			continue // the host firewall drops probes to closed ports
		}
		answer(p, open[p.dport], int64(r.between(80, 600))*1e3, h.mac, h.ttl())
	}
}

// decodedProtocol reports the IP protocols that decoders parse as a
// protocol of their own: a protocol scan leaves them out rather than send
// an empty datagram that claims to be that protocol.
func decodedProtocol(p uint8) bool {
	switch p {
	case 0, 1, 2, 4, 6, 17, 27, 41, 43, 44, 47, 50, 51, 58, 60, 89, 94, 97, 112, 132, 136, 137:
		return true
	}
	return false
}

// randomPublic returns a random unicast IPv4 address outside the private,
// loopback, multicast and reserved ranges: a spoofed or scattered source.
func randomPublic(r *rng) ipAddr {
	for {
		x := r.u32()
		a := v4(byte(x>>24), byte(x>>16), byte(x>>8), byte(x))
		b0, b1 := a.b[0], a.b[1]
		if b0 == 0 || b0 == 10 || b0 == 127 || b0 >= 224 || (b0 == 192 && b1 == 168) ||
			(b0 == 172 && b1&0xf0 == 16) || (b0 == 169 && b1 == 254) || (b0 == 100 && b1&0xc0 == 64) {
			continue
		}
		return a
	}
}

// buildAttackPacket writes p into g.f.
func (g *Generator) buildAttackPacket(p *apkt) {
	g.at = p.t
	switch p.kind {
	case akTCP:
		var ob [40]byte
		var opts []byte
		switch p.opts {
		case 1:
			opts = append(ob[:0], 2, 4, 5, 0xb4)
		case 2:
			e := endpoint{ip: p.src, os: p.os, ts: p.os == osLinux || p.os == osApple, tsBase: uint32(p.seq)}
			n := synOptions(ob[:], &e, p.flags&tcpACK != 0 && e.ts, uint32(p.t/1e6))
			opts = ob[:n]
		}
		if p.flags&tcpSYN == 0 && p.opts == 2 {
			opts = nil
		}
		h := l3{src: p.src, dst: p.dst, ttl: p.ttl, id: uint16(p.seq>>7) ^ uint16(p.t/1e3), df: p.flags&tcpRST == 0}
		g.f.tcp(l2{dst: p.dmac, src: p.smac}, &h, &tcpHdr{sport: p.sport, dport: p.dport, seq: p.seq, ack: p.ack, flags: p.flags, win: p.win, opts: opts}, nil)
	case akUDP:
		h := l3{src: p.src, dst: p.dst, ttl: p.ttl, id: uint16(p.t / 1e3)}
		g.f.udp(l2{dst: p.dmac, src: p.smac}, &h, p.sport, p.dport, udpPayload(p))
	case akUnreach:
		// Quote the datagram: rebuild it in full, then send its start back.
		q := &g.quote
		q.limit = 548
		orig := *p
		orig.kind = akUDP
		h := l3{src: orig.src, dst: orig.dst, ttl: orig.ttl - 0, id: uint16(orig.t / 1e3)}
		q.udp(l2{dst: orig.dmac, src: orig.smac}, &h, orig.sport, orig.dport, udpPayload(&orig))
		quoted := q.buf[14:min(len(q.buf), 14+20+8+min(orig.n, 548-28))]
		if 14+20+8+orig.n > q.wire { // padding is not part of the datagram
			quoted = q.buf[14:q.wire]
		}
		var body [4 + 576]byte
		n := 4 + copy(body[4:], quoted)
		vi := g.lan.byIP(p.dst)
		rh := l3{src: p.dst, dst: p.src, ttl: 64, id: uint16(p.t / 1e3)}
		if vi != nil {
			rh.ttl = vi.ttl()
		}
		g.at = p.t
		g.f.icmp(l2{dst: p.smac, src: p.dmac}, &rh, 3, 3, &payload{lit: body[:n], n: n})
	case akEcho, akEchoReply:
		var body [4 + 56]byte
		binary.BigEndian.PutUint16(body[0:], p.sport)
		binary.BigEndian.PutUint16(body[2:], p.dport)
		for i := 4; i < len(body); i++ {
			body[i] = byte(i - 4)
		}
		pl := payload{lit: body[:], n: len(body)}
		switch {
		case p.n > 0: // a tunnel's data
			pl = payload{lit: body[:4], n: 4 + p.n, off: int(p.t) & (blockSize - 1)}
		case p.os == osWindows:
			pl.n = 4 + copy(body[4:], "abcdefghijklmnopqrstuvwabcdefghi")
			pl.lit = body[:pl.n]
		}
		typ := uint8(8)
		if p.kind == akEchoReply {
			typ = 0
		}
		h := l3{src: p.src, dst: p.dst, ttl: p.ttl, id: uint16(p.t / 1e3)}
		g.f.icmp(l2{dst: p.dmac, src: p.smac}, &h, typ, 0, &pl)
	case akRawIP:
		h := l3{src: p.src, dst: p.dst, ttl: p.ttl, id: uint16(p.seq)}
		g.f.rawIP(l2{dst: p.dmac, src: p.smac}, &h, p.proto, &payload{})
	case akProtoUnreach:
		// Quote the probe: its IP header, all of it.
		q := &g.quote
		q.limit = 548
		h := l3{src: p.src, dst: p.dst, ttl: p.ttl, id: uint16(p.seq)}
		q.rawIP(l2{dst: p.dmac, src: p.smac}, &h, p.proto, &payload{})
		var body [4 + 20]byte
		n := 4 + copy(body[4:], q.buf[14:34])
		rh := l3{src: p.dst, dst: p.src, ttl: 64, id: uint16(p.t / 1e3)}
		if vi := g.lan.byIP(p.dst); vi != nil {
			rh.ttl = vi.ttl()
		}
		g.at = p.t
		g.f.icmp(l2{dst: p.smac, src: p.dmac}, &rh, 3, 2, &payload{lit: body[:n], n: n})
	case akARPRequest:
		g.f.arp(l2{dst: broadcastMAC, src: p.from.mac}, 1, p.from.mac, p.from.ip4, [6]byte{}, p.dst)
	case akARPReply:
		g.f.arp(l2{dst: p.to.mac, src: p.from.mac}, 2, p.from.mac, p.from.ip4, p.to.mac, p.to.ip4)
	}
}

// scanPorts returns n distinct ports in the order a scanner probes them:
// the well-known services first in random order, then other ports.
func scanPorts(r *rng, n int, udp bool) []uint16 {
	common := []uint16{21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 515, 631, 993, 995,
		1723, 3306, 3389, 5000, 5001, 5900, 8008, 8009, 8080, 8443, 9000, 9100}
	seen := make(map[uint16]bool, n)
	var out []uint16
	for _, p := range common {
		if len(out) < n && (!udp || udpScannable(p)) {
			out = append(out, p)
			seen[p] = true
		}
	}
	for len(out) < n {
		p := uint16(1 + r.intn(10000))
		if n > 9000 {
			p = uint16(1 + r.intn(65535))
		}
		if !seen[p] && (!udp || udpScannable(p)) {
			seen[p] = true
			out = append(out, p)
		}
	}
	for i := len(out) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// openPorts are the services each kind of host offers.
func openPorts(n *node) []uint16 {
	switch n.role {
	case roleNAS:
		return []uint16{22, 80, 139, 443, 445, 5000, 5001}
	case rolePrinter:
		return []uint16{80, 443, 515, 631, 9100}
	case roleTV:
		return []uint16{8008, 8009, 9000}
	case roleGateway:
		return []uint16{53, 80, 443}
	case roleWorkstation:
		if n.os == osWindows {
			return []uint16{135, 139, 445}
		}
		if n.os == osLinux {
			return []uint16{22}
		}
	}
	return nil
}

// addrsIn lists the host addresses of prefix (without network and broadcast
// addresses for prefixes up to /30).
func addrsIn(p netip.Prefix) ([]ipAddr, error) {
	if !p.Addr().Is4() {
		return nil, fmt.Errorf("%s is not an IPv4 prefix", p)
	}
	if p.Bits() < 16 {
		return nil, fmt.Errorf("%s is wider than a /16", p)
	}
	var out []ipAddr
	a := p.Masked().Addr()
	for ; p.Contains(a); a = a.Next() {
		out = append(out, ipAddr{b: a.As16()})
		b := a.As4()
		copy(out[len(out)-1].b[:], b[:])
		for i := 4; i < 16; i++ {
			out[len(out)-1].b[i] = 0
		}
	}
	if p.Bits() <= 30 {
		out = out[1 : len(out)-1]
	}
	return out, nil
}

// UDP probes carry what the port's protocol expects, as nmap sends them:
// a DNS server status request to 53, an NTP client request to 123.
var (
	dnsStatusProbe = []byte{0x12, 0x34, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	ntpProbe       = [48]byte{0xe3, 0, 4, 0xfa, 0, 1, 0, 0, 0, 1}
)

// probePayload returns the payload length of a probe to port (0: empty).
func probePayload(port uint16) int {
	switch port {
	case 53:
		return len(dnsStatusProbe)
	case 123:
		return len(ntpProbe)
	}
	return 0
}

// udpPayload returns the payload of an attack datagram.
func udpPayload(p *apkt) *payload {
	switch p.dport {
	case 53:
		return &payload{lit: dnsStatusProbe, n: len(dnsStatusProbe)}
	case 123:
		return &payload{lit: ntpProbe[:], n: len(ntpProbe)}
	}
	return &payload{n: p.n, off: int(p.t) & (blockSize - 1)}
}

// udpScannable reports whether a UDP scan probes port p: not a port whose
// protocol decoders parse, unless the probe carries what that protocol
// expects.
func udpScannable(p uint16) bool { return !decodedUDPPort(p) || probePayload(p) > 0 }

// maxUDPScanPorts is the number of ports a UDP scan can probe.
func maxUDPScanPorts() int {
	n := 0
	for p := 1; p <= 65535; p++ {
		if udpScannable(uint16(p)) {
			n++
		}
	}
	return n
}

// decodedUDPPort reports the UDP ports whose datagrams decoders parse as a
// protocol of their own (DHCP, RADIUS, VXLAN, SIP, ...): floods and scans
// leave them out rather than send them junk that claims to be that protocol.
func decodedUDPPort(p uint16) bool {
	switch p {
	case 53, 67, 68, 123, 546, 547, 623, 666, 1000, 1812, 2123, 2152, 2222, 3784, 3868, 4789, 5060, 5082, 5083, 6081, 6343, 44818:
		return true
	}
	return false
}
