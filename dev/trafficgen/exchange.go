package trafficgen

import (
	"encoding/binary"
	"strconv"
)

// This file holds the short exchanges of a LAN: DNS lookups, ARP, NTP,
// mDNS, SSDP, ICMP echo, and IPv6 neighbour discovery. An exchange is a
// short list of packets at planned times; each packet is built when its time
// comes.

type xkind uint8

const (
	xDNSQuery xkind = iota
	xDNSReply
	xARPRequest // a = 1: unicast (a cache refresh to a known address)
	xARPReply
	xNTPRequest
	xNTPReply
	xMDNSQuery
	xMDNSReply
	xSSDPSearch
	xSSDPReply
	xSSDPNotify
	xEchoRequest // a: sequence number
	xEchoReply
	xNS // neighbour solicitation from `from` for `to`
	xNA
	xRA
)

// xstep is one packet of an exchange. from and to are LAN nodes (the
// gateway included); a nil peer is the Internet server srv or a group.
type xstep struct {
	t        int64
	kind     xkind
	from, to *node
	srv      *server
	a        int
}

const xCap = 24

// exchange is a source made of a few planned packets.
type exchange struct {
	r     *rng
	steps [xCap]xstep
	n, i  int
	v6    bool

	id     uint16 // DNS id, ICMP identifier
	port   uint16 // the client's UDP port
	name   string // DNS question, mDNS service
	qtype  uint16
	rcode  int    // DNS response code
	cname  string // CNAME in the answer, if any
	edns   bool
	ans    ipAddr // the address answered; a zero address answers with no record
	hasAns bool
	off    int // random block offset of tunnel payloads

	isolated bool // an attack's: IP IDs of its own, so that benign packets do not change
}

func (x *exchange) add(s xstep) {
	if x.n < xCap {
		x.steps[x.n] = s
		x.n++
	}
}

func (x *exchange) next() int64 {
	if x.i >= x.n {
		return never
	}
	return x.steps[x.i].t
}

func (x *exchange) fire(g *Generator) bool {
	s := &x.steps[x.i]
	x.i++
	g.at = s.t
	switch s.kind {
	case xDNSQuery, xDNSReply:
		x.dns(g, s)
	case xARPRequest:
		dst, tha := broadcastMAC, [6]byte{}
		if s.a == 1 {
			dst = s.to.mac
		}
		g.f.arp(l2{dst: dst, src: s.from.mac}, 1, s.from.mac, s.from.ip4, tha, s.to.ip4)
	case xARPReply:
		g.f.arp(l2{dst: s.to.mac, src: s.from.mac}, 2, s.from.mac, s.from.ip4, s.to.mac, s.to.ip4)
	case xNTPRequest, xNTPReply:
		x.ntp(g, s)
	case xMDNSQuery, xMDNSReply:
		x.mdns(g, s)
	case xSSDPSearch, xSSDPReply, xSSDPNotify:
		x.ssdp(g, s)
	case xEchoRequest, xEchoReply:
		x.echo(g, s)
	case xNS, xNA, xRA:
		x.nd(g, s)
	}
	return true
}

var (
	broadcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	mdnsMAC4     = [6]byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}
	mdnsMAC6     = [6]byte{0x33, 0x33, 0x00, 0x00, 0x00, 0xfb}
	ssdpMAC      = [6]byte{0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa}
	allNodesMAC  = [6]byte{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}
	mdnsIP4      = v4(224, 0, 0, 251)
	ssdpIP       = v4(239, 255, 255, 250)
	mdnsIP6      = ipAddr{v6: true, b: [16]byte{0xff, 0x02, 15: 0xfb}}
	allNodesIP6  = ipAddr{v6: true, b: [16]byte{0xff, 0x02, 15: 0x01}}
)

// addrOf returns n's address of the exchange's family (global for IPv6).
func (x *exchange) addrOf(n *node) ipAddr {
	if x.v6 {
		return n.ip6
	}
	return n.ip4
}

// hop returns the Ethernet and IP headers of a packet from a to b, where a
// nil node stands for the Internet server srv (behind the gateway).
func (x *exchange) hop(g *Generator, from, to *node, srv *server) (l2, l3) {
	var e l2
	var h l3
	switch {
	case from != nil:
		e.src = from.mac
		h.src = x.addrOf(from)
		h.ttl = from.ttl()
		if !x.v6 {
			if x.isolated {
				h.id = x.r.u16()
			} else {
				h.id = from.nextID()
			}
		}
	default:
		e.src = g.lan.gw.mac
		h.src = srv.ip4
		if x.v6 {
			h.src = srv.ip6
		}
		h.ttl = srv.ttl
		h.id = x.r.u16()
	}
	switch {
	case to != nil:
		e.dst = to.mac
		h.dst = x.addrOf(to)
	default:
		e.dst = g.lan.gw.mac
		h.dst = srv.ip4
		if x.v6 {
			h.dst = srv.ip6
		}
	}
	return e, h
}

func (x *exchange) dns(g *Generator, s *xstep) {
	b := g.scratch[:0]
	if s.kind == xDNSQuery {
		ar := 0
		if x.edns {
			ar = 1
		}
		b = dnsHeader(b, x.id, 0x0100, 1, 0, 0, ar)
		b = appendQuestion(b, x.name, x.qtype, 1)
		if x.edns {
			b = appendOPT(b)
		}
	} else {
		b = x.dnsAnswer(g, b)
	}
	e, h := x.hop(g, s.from, s.to, s.srv)
	sport, dport := x.port, uint16(53)
	if s.kind == xDNSReply {
		sport, dport = 53, x.port
	}
	g.f.udp(e, &h, sport, dport, &payload{lit: b, n: len(b)})
}

// dnsAnswer writes the resolver's response to the exchange's question.
func (x *exchange) dnsAnswer(g *Generator, b []byte) []byte {
	var rd [128]byte
	ar := 0
	if x.edns {
		ar = 1
	}
	ttl := uint32(60 + x.r.intn(3540))
	switch {
	case x.rcode == 0 && (x.qtype == dnsTXT || x.qtype == dnsNULL): // tunnel data in the answer
		n := 60 + x.r.intn(160)
		data := g.blk.data[x.off : x.off+n]
		b = dnsHeader(b, x.id, 0x8180, 1, 1, 0, ar)
		b = appendQuestion(b, x.name, x.qtype, 1)
		if x.qtype == dnsTXT {
			txt := append(rd[:0], byte(n))
			txt = appendBase32(txt, data)[:n+1]
			b = appendRR(b, "", dnsTXT, 1, 0, txt)
		} else {
			b = appendRR(b, "", dnsNULL, 1, 0, data)
		}
	case x.rcode != 0 || !x.hasAns:
		b = dnsHeader(b, x.id, 0x8180|uint16(x.rcode), 1, 0, 1, ar)
		b = appendQuestion(b, x.name, x.qtype, 1)
		zone := zoneOf(x.name)
		b = appendRR(b, zone, dnsSOA, 1, 300, soaFor(rd[:0], zone, 2024010101))
	default:
		an := 1
		if x.cname != "" {
			an = 2
		}
		b = dnsHeader(b, x.id, 0x8180, 1, an, 0, ar)
		b = appendQuestion(b, x.name, x.qtype, 1)
		owner := ""
		if x.cname != "" {
			b = appendRR(b, "", dnsCNAM, 1, ttl, appendName(rd[:0], x.cname))
			owner = x.cname
		}
		b = appendRR(b, owner, x.qtype, 1, ttl, x.ans.bytes())
	}
	if x.edns {
		b = appendOPT(b)
	}
	return b
}

const base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567"

// appendBase32 writes data in lower-case base32 without padding, as DNS
// tunnels encode their payload in names and TXT strings.
func appendBase32(b, data []byte) []byte {
	var acc uint32
	bitsN := 0
	for _, c := range data {
		acc = acc<<8 | uint32(c)
		bitsN += 8
		for bitsN >= 5 {
			bitsN -= 5
			b = append(b, base32Alphabet[(acc>>uint(bitsN))&31])
		}
	}
	if bitsN > 0 {
		b = append(b, base32Alphabet[(acc<<uint(5-bitsN))&31])
	}
	return b
}

func (x *exchange) ntp(g *Generator, s *xstep) {
	var p [48]byte
	now := uint32(g.at/1e9) + g.ntpEpoch
	frac := uint32(uint64(g.at%1e9) << 32 / 1e9)
	if s.kind == xNTPRequest {
		p[0] = 0x23 // version 4, client
		binary.BigEndian.PutUint32(p[40:], now)
		binary.BigEndian.PutUint32(p[44:], frac)
	} else {
		p[0], p[1], p[2], p[3] = 0x24, 2, 10, 0xe9 // server, stratum 2, poll 10, precision
		binary.BigEndian.PutUint32(p[4:], 0x00000a3e)
		binary.BigEndian.PutUint32(p[8:], 0x00001b2c)
		copy(p[12:16], []byte{192, 0, 2, 123})
		binary.BigEndian.PutUint32(p[16:], now-600)
		binary.BigEndian.PutUint32(p[24:], now) // originate: the client's transmit time
		binary.BigEndian.PutUint32(p[32:], now)
		binary.BigEndian.PutUint32(p[36:], frac)
		binary.BigEndian.PutUint32(p[40:], now)
		binary.BigEndian.PutUint32(p[44:], frac+4000)
	}
	e, h := x.hop(g, s.from, s.to, s.srv)
	sport, dport := x.port, uint16(123)
	if s.kind == xNTPReply {
		sport, dport = 123, x.port
	}
	g.f.udp(e, &h, sport, dport, &payload{lit: p[:], n: 48})
}

// mdnsServices are the services hosts browse for with mDNS.
var mdnsServices = []string{"_googlecast._tcp.local", "_ipp._tcp.local", "_airplay._tcp.local",
	"_companion-link._tcp.local", "_spotify-connect._tcp.local", "_smb._tcp.local", "_printer._tcp.local"}

func (x *exchange) mdns(g *Generator, s *xstep) {
	b := g.scratch[:0]
	if s.kind == xMDNSQuery {
		b = dnsHeader(b, 0, 0, 1, 0, 0, 0)
		b = appendQuestion(b, x.name, dnsPTR, 1)
	} else {
		var rd [96]byte
		inst := s.from.name + "." + x.name
		host := s.from.name + ".local"
		b = dnsHeader(b, 0, 0x8400, 0, 1, 0, 3)
		b = appendRR(b, x.name, dnsPTR, 1, 4500, appendName(rd[:0], inst))
		srv := append(rd[:0], 0, 0, 0, 0, 0x1f, 0x49) // priority, weight, port 8009
		b = appendRR(b, inst, dnsSRV, 0x8001, 120, appendName(srv, host))
		txt := append(rd[:0], 9)
		txt = append(txt, "id="...)
		txt = appendBase32(txt, s.from.mac[:])[:10]
		b = appendRR(b, inst, dnsTXT, 0x8001, 4500, txt)
		b = appendRR(b, host, dnsA, 0x8001, 120, s.from.ip4.b[:4])
	}
	e := l2{src: s.from.mac, dst: mdnsMAC4}
	h := l3{src: s.from.ip4, dst: mdnsIP4, ttl: 255, id: s.from.nextID()}
	if x.v6 {
		e.dst = mdnsMAC6
		h = l3{src: s.from.ll6, dst: mdnsIP6, ttl: 255, flow: 0}
	}
	g.f.udp(e, &h, 5353, 5353, &payload{lit: b, n: len(b)})
}

// ssdpTargets are the search targets of SSDP M-SEARCH requests.
var ssdpTargets = []string{"urn:dial-multiscreen-org:service:dial:1", "upnp:rootdevice",
	"urn:schemas-upnp-org:device:InternetGatewayDevice:1", "ssdp:all", "urn:schemas-upnp-org:device:MediaRenderer:1"}

func (x *exchange) ssdp(g *Generator, s *xstep) {
	b := g.scratch[:0]
	st := ssdpTargets[x.qtype%uint16(len(ssdpTargets))]
	e := l2{src: s.from.mac, dst: ssdpMAC}
	h := l3{src: s.from.ip4, dst: ssdpIP, ttl: 2, id: s.from.nextID()}
	sport, dport := x.port, uint16(1900)
	switch s.kind {
	case xSSDPSearch:
		b = append(b, "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: "...)
		b = append(b, st...)
		b = append(b, "\r\nUSER-AGENT: Microsoft Edge/120.0 Windows\r\n\r\n"...)
	case xSSDPReply, xSSDPNotify:
		if s.kind == xSSDPReply {
			b = append(b, "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\nST: "...)
			b = append(b, st...)
			e.dst = s.to.mac
			h.dst = s.to.ip4
			h.ttl = 64
			sport, dport = 1900, x.port
		} else {
			b = append(b, "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\nNTS: ssdp:alive\r\nNT: "...)
			b = append(b, st...)
			sport = 1900
		}
		b = append(b, "\r\nLOCATION: http://"...)
		b = append(b, ipString(s.from.ip4)...)
		b = append(b, ":49152/description.xml\r\nSERVER: Linux/5.10 UPnP/1.0 device/1.0\r\nUSN: uuid:"...)
		b = appendBase32(b, s.from.mac[:])
		b = append(b, "::"...)
		b = append(b, st...)
		b = append(b, "\r\n\r\n"...)
	}
	g.f.udp(e, &h, sport, dport, &payload{lit: b, n: len(b)})
}

// echo writes a ping: Linux's 56 data bytes or Windows' 32.
func (x *exchange) echo(g *Generator, s *xstep) {
	var body [4 + 56]byte
	binary.BigEndian.PutUint16(body[0:], x.id)
	binary.BigEndian.PutUint16(body[2:], uint16(s.a))
	n := 4 + 56
	src := s.from
	if s.kind == xEchoReply {
		src = s.to // the requester's kind of payload is echoed
	}
	if src != nil && src.os == osWindows {
		n = 4 + copy(body[4:], "abcdefghijklmnopqrstuvwabcdefghi")
	} else {
		binary.LittleEndian.PutUint64(body[4:], uint64(g.at/1e9)+uint64(g.startUnix))
		for i := 12; i < len(body); i++ {
			body[i] = byte(i - 4)
		}
	}
	e, h := x.hop(g, s.from, s.to, s.srv)
	typ := uint8(8)
	if s.kind == xEchoReply {
		typ = 0
	}
	if x.v6 {
		typ = 128
		if s.kind == xEchoReply {
			typ = 129
		}
	}
	g.f.icmp(e, &h, typ, 0, &payload{lit: body[:n], n: n})
}

// nd writes IPv6 neighbour discovery: a unicast reachability probe from a
// host to its router (xNS) and the answer (xNA), or a router advertisement.
func (x *exchange) nd(g *Generator, s *xstep) {
	var b [64]byte
	e := l2{src: s.from.mac}
	h := l3{src: s.from.ll6, ttl: 255}
	var typ uint8
	var n int
	switch s.kind {
	case xNS:
		typ = 135
		copy(b[4:20], s.to.ll6.b[:])
		b[20], b[21] = 1, 1
		copy(b[22:28], s.from.mac[:])
		n = 28
		e.dst, h.dst = s.to.mac, s.to.ll6
	case xNA:
		typ = 136
		b[0] = 0x40 | 0x20 // solicited, override
		if s.from.role == roleGateway {
			b[0] |= 0x80 // router
		}
		copy(b[4:20], s.from.ll6.b[:])
		b[20], b[21] = 2, 1
		copy(b[22:28], s.from.mac[:])
		n = 28
		e.dst, h.dst = s.to.mac, s.to.ll6
	case xRA:
		typ = 134
		b[0] = 64                               // current hop limit
		binary.BigEndian.PutUint16(b[2:], 1800) // router lifetime
		o := b[12:]
		o[0], o[1] = 1, 1 // source link-layer address
		copy(o[2:8], s.from.mac[:])
		o[8], o[9] = 5, 1 // MTU
		binary.BigEndian.PutUint32(o[12:], 1500)
		o[16], o[17], o[18], o[19] = 3, 4, 64, 0xc0 // prefix information, on-link, autonomous
		binary.BigEndian.PutUint32(o[20:], 86400)
		binary.BigEndian.PutUint32(o[24:], 14400)
		copy(o[32:40], g.lan.prefix6[:])
		n = 12 + 48
		e.dst, h.dst = allNodesMAC, allNodesIP6
	}
	g.f.icmp(e, &h, typ, 0, &payload{lit: b[:n], n: n})
}

func itoa(n int) string { return strconv.Itoa(n) }
