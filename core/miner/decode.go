package miner

import (
	"encoding/binary"
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"netspot/core/capture"
	"netspot/core/event"
)

// window is what one decoding loop accumulates for the current period.
type window struct {
	c            event.Counters
	src, dst     *addrSet
	sport, dport *portSet
}

func newWindow(seed uint64) *window {
	return &window{src: newAddrSet(seed), dst: newAddrSet(seed ^ 0x6a09e667f3bcc909), sport: new(portSet), dport: new(portSet)}
}

func (w *window) reset() {
	w.c = event.Counters{}
	w.src.reset()
	w.dst.reset()
	w.sport.reset()
	w.dport.reset()
}

// merge adds o into w, distinct counts included.
func (w *window) merge(o *window) {
	w.c.Add(&o.c)
	w.src.merge(o.src)
	w.dst.merge(o.dst)
	w.sport.merge(o.sport)
	w.dport.merge(o.dport)
}

// counters returns the counters with the distinct counts filled in.
func (w *window) counters() event.Counters {
	c := w.c
	c.DistinctSrcAddr = w.src.count()
	c.DistinctDstAddr = w.dst.count()
	c.DistinctSrcPort = w.sport.n
	c.DistinctDstPort = w.dport.n
	return c
}

// decoder turns packets into counts. Its layers are allocated once and
// shared by one gopacket.DecodingLayerParser per first layer; decoding a
// packet allocates nothing.
type decoder struct {
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	ip4   ipv4Layer
	ip6   ipv6Layer
	arp   arpLayer
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	tcp   layers.TCP
	udp   layers.UDP

	fromEth, fromSLL, fromSLL2, fromIPv4, fromIPv6, fromARP *gopacket.DecodingLayerParser

	decoded []gopacket.LayerType

	// State kept across windows (per-host counts, ARP bindings) and
	// scratch memory, all of fixed size.
	hosts      *hosts
	arpState   *arpState
	dnsScratch *dnsScratch

	// The addresses of the packet being counted, and their keys once
	// computed.
	src, dst         addr
	srcK, dstK       uint64
	haveSrc, haveDst bool
}

func newDecoder() *decoder {
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 16), hosts: newHosts(), arpState: newARPState(), dnsScratch: newDNSScratch()}
	all := []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.ip4, &d.ip6, &d.arp, &d.icmp4, &d.icmp6, &d.tcp, &d.udp}
	// The layers are found by their type in an array (gopacket's fastest
	// container; the default map hashed the type of every layer of every
	// packet, a fifth of the decoding time).
	var layerByType gopacket.DecodingLayerContainer = gopacket.DecodingLayerSparse(nil)
	for _, l := range all {
		layerByType = layerByType.Put(l)
	}
	mk := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		p := gopacket.NewDecodingLayerParser(first)
		p.SetDecodingLayerContainer(layerByType)
		p.IgnoreUnsupported = true
		return p
	}
	d.fromEth = mk(layers.LayerTypeEthernet)
	d.fromSLL = mk(layers.LayerTypeLinuxSLL)
	d.fromSLL2 = mk(layers.LayerTypeLinuxSLL2)
	d.fromIPv4 = mk(layers.LayerTypeIPv4)
	d.fromIPv6 = mk(layers.LayerTypeIPv6)
	d.fromARP = mk(layers.LayerTypeARP)
	return d
}

// byVersion picks the IPv4 or IPv6 parser from the version nibble.
func (d *decoder) byVersion(data []byte) *gopacket.DecodingLayerParser {
	if len(data) == 0 {
		return nil
	}
	switch data[0] >> 4 {
	case 4:
		return d.fromIPv4
	case 6:
		return d.fromIPv6
	}
	return nil
}

// TCP flag bits (byte 13 of the header).
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagACK = 0x10
)

// srcKey and dstKey are the host keys of the packet's IP addresses.
func (d *decoder) srcKey() uint64 {
	if !d.haveSrc {
		d.srcK, d.haveSrc = hostKey(d.src), true
	}
	return d.srcK
}

func (d *decoder) dstKey() uint64 {
	if !d.haveDst {
		d.dstK, d.haveDst = hostKey(d.dst), true
	}
	return d.dstK
}

// count decodes p and adds it to w. A packet that cannot be decoded is
// counted in Packets and Malformed; the layers decoded before the defect
// still count.
func (d *decoder) count(p *capture.Packet, w *window) {
	c := &w.c
	c.Packets++
	c.Bytes += uint64(p.Length)
	d.hosts.advance(p.Time, w)
	d.haveSrc, d.haveDst = false, false
	// The capture kept only the start of the packet: a layer that runs
	// past the end is cut, not malformed.
	cut := p.Length > len(p.Data)
	malformed := false

	data := p.Data
	var parser *gopacket.DecodingLayerParser
	switch p.Link {
	case capture.LinkEthernet:
		parser = d.fromEth
	case capture.LinkSLL:
		parser = d.fromSLL
	case capture.LinkSLL2:
		parser = d.fromSLL2
	case capture.LinkRaw:
		parser = d.byVersion(data)
		if parser == nil {
			c.Malformed++
			return
		}
	case capture.LinkIPv4:
		parser = d.fromIPv4
	case capture.LinkIPv6:
		parser = d.fromIPv6
	case capture.LinkNull:
		if len(data) < 4 {
			c.Malformed++
			return
		}
		data = data[4:]
		parser = d.byVersion(data)
		if parser == nil {
			c.Malformed++
			return
		}
	case capture.LinkNetwork:
		switch layers.EthernetType(p.Proto) {
		case layers.EthernetTypeIPv4:
			parser = d.fromIPv4
		case layers.EthernetTypeIPv6:
			parser = d.fromIPv6
		case layers.EthernetTypeARP:
			parser = d.fromARP
		default:
			return // another protocol: counted, nothing to decode
		}
	default:
		return
	}

	err := parser.DecodeLayers(data, &d.decoded)
	seenIP := false
	// The payload's length by the IP header that carries the transport
	// (the innermost), whatever the capture kept: -1 before one.
	ipPayload := -1
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeIPv4:
			ipPayload = int(d.ip4.Length) - len(d.ip4.Contents)
			if seenIP {
				continue
			}
			seenIP = true
			c.IP++
			c.IPv4++
			c.IPBytes += uint64(d.ip4.Length)
			d.src = addr{lo: 0xffff00000000 | uint64(binary.BigEndian.Uint32(d.ip4.SrcIP))}
			d.dst = addr{lo: 0xffff00000000 | uint64(binary.BigEndian.Uint32(d.ip4.DstIP))}
			w.src.add(d.src)
			w.dst.add(d.dst)
		case layers.LayerTypeIPv6:
			ipPayload = d.ip6.length - (len(d.ip6.Contents) - 40)
			if seenIP {
				continue
			}
			seenIP = true
			c.IP++
			c.IPv6++
			c.IPBytes += uint64(40 + d.ip6.length)
			d.src = addr{hi: binary.BigEndian.Uint64(d.ip6.src[:8]), lo: binary.BigEndian.Uint64(d.ip6.src[8:])}
			d.dst = addr{hi: binary.BigEndian.Uint64(d.ip6.dst[:8]), lo: binary.BigEndian.Uint64(d.ip6.dst[8:])}
			w.src.add(d.src)
			w.dst.add(d.dst)
		case layers.LayerTypeARP:
			c.ARP++
			d.arpState.packet(&d.arp, d.hosts.clk.now, w)
		case layers.LayerTypeICMPv4:
			c.ICMP++
			switch d.icmp4.TypeCode.Type() {
			case layers.ICMPv4TypeDestinationUnreachable:
				c.ICMPUnreach++
				malformed = d.unreachable4(d.icmp4.Payload, cut, w) || malformed
			case layers.ICMPv4TypeEchoRequest, layers.ICMPv4TypeEchoReply:
				if n := ipPayload - 8; n > 0 {
					c.ICMPEchoSize = max(c.ICMPEchoSize, uint64(n))
				}
				if d.icmp4.TypeCode.Type() == layers.ICMPv4TypeEchoRequest {
					d.hosts.contact(d.srcKey(), d.dstKey(), 0, 0, w)
				}
			}
		case layers.LayerTypeICMPv6:
			switch t := d.icmp6.TypeCode.Type(); {
			case t >= layers.ICMPv6TypeRouterSolicitation && t <= layers.ICMPv6TypeRedirect:
				c.NDP++
			default:
				c.ICMP++
				switch t {
				case layers.ICMPv6TypeDestinationUnreachable:
					c.ICMPUnreach++
					malformed = d.unreachable6(d.icmp6.Payload, cut, w) || malformed
				case layers.ICMPv6TypeEchoRequest, layers.ICMPv6TypeEchoReply:
					if n := ipPayload - 8; n > 0 {
						c.ICMPEchoSize = max(c.ICMPEchoSize, uint64(n))
					}
					if t == layers.ICMPv6TypeEchoRequest {
						d.hosts.contact(d.srcKey(), d.dstKey(), 0, 0, w)
					}
				}
			}
		case layers.LayerTypeTCP:
			c.TCP++
			sp, dp := uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			w.sport.add(sp)
			w.dport.add(dp)
			if sp == 53 || dp == 53 {
				c.DNS++
			}
			f := d.tcp.Contents[13]
			if f&flagSYN != 0 {
				c.SYN++
				if f&flagACK != 0 {
					c.SYNACK++
				}
			}
			if f&flagACK != 0 {
				c.ACK++
			} else if f&(flagSYN|flagFIN|flagRST) != flagSYN {
				c.NoACK++
			}
			if f&flagFIN != 0 {
				c.FIN++
			}
			if f&flagRST != 0 {
				c.RST++
			}
			switch f & (flagSYN | flagACK | flagRST | flagFIN) {
			case flagSYN:
				d.hosts.syn(d.srcKey(), d.dstKey(), sp, dp, w)
			case flagSYN | flagACK:
				d.hosts.synack(d.srcKey(), d.dstKey(), sp, dp, w)
			default:
				if f&flagRST != 0 {
					// The answer of b:sp to a's attempt from a:dp.
					d.hosts.refused(d.dstKey(), d.srcKey(), dp, sp, w)
				}
			}
		case layers.LayerTypeUDP:
			c.UDP++
			sp, dp := uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			w.sport.add(sp)
			w.dport.add(dp)
			if dp < sp {
				// A request goes to a service's port, lower than the
				// client's ephemeral one; the answer comes back the other
				// way.
				d.hosts.contact(d.srcKey(), d.dstKey(), pairUDP, dp, w)
			}
			if sp == dnsPort || dp == dnsPort {
				c.DNS++
				pl := d.udp.Payload
				malformed = d.dns(pl, cut || int(d.udp.Length) > len(pl)+8, sp, dp, w) || malformed
			}
		}
	}
	if err != nil || malformed {
		c.Malformed++
	}
}

// unreachable4 counts an ICMPv4 destination unreachable whose body (the
// start of the datagram it is about) is q: the sender of that datagram
// failed. It reports a body too short to hold what it must.
func (d *decoder) unreachable4(q []byte, cut bool, w *window) (malformed bool) {
	if len(q) < 20 || q[0]>>4 != 4 || int(q[0]&0x0f)*4 < 20 {
		d.hosts.unreachable(d.dstKey(), w)
		return len(q) >= 20 || !cut
	}
	hl := int(q[0]&0x0f) * 4
	a := addr{lo: 0xffff00000000 | uint64(binary.BigEndian.Uint32(q[12:16]))}
	b := addr{lo: 0xffff00000000 | uint64(binary.BigEndian.Uint32(q[16:20]))}
	return d.unreachableAbout(a, b, layers.IPProtocol(q[9]), q, hl, int(binary.BigEndian.Uint16(q[2:4])), cut, w)
}

// unreachable6 is unreachable4 for ICMPv6, whose body starts with 4 unused
// bytes. Extension headers in the quoted datagram are not followed.
func (d *decoder) unreachable6(q []byte, cut bool, w *window) (malformed bool) {
	if len(q) < 4+40 || q[4]>>4 != 6 {
		d.hosts.unreachable(d.dstKey(), w)
		return len(q) >= 4+40 || !cut
	}
	q = q[4:]
	a := addr{hi: binary.BigEndian.Uint64(q[8:16]), lo: binary.BigEndian.Uint64(q[16:24])}
	b := addr{hi: binary.BigEndian.Uint64(q[24:32]), lo: binary.BigEndian.Uint64(q[32:40])}
	return d.unreachableAbout(a, b, layers.IPProtocol(q[6]), q, 40, 40+int(binary.BigEndian.Uint16(q[4:6])), cut, w)
}

// unreachableAbout counts the failure of a datagram from a to b of the
// given protocol, whose transport header starts at q[hl:]: a waiting TCP
// attempt, or a failure of a. The quote must hold 8 bytes of that header,
// or the whole datagram if it was shorter (size, from its IP header).
func (d *decoder) unreachableAbout(a, b addr, proto layers.IPProtocol, q []byte, hl, size int, cut bool, w *window) (malformed bool) {
	ka := hostKey(a)
	if len(q) < hl+8 {
		d.hosts.unreachable(ka, w)
		return !cut && len(q) < min(hl+8, size)
	}
	if proto == layers.IPProtocolTCP {
		pa, pb := binary.BigEndian.Uint16(q[hl:]), binary.BigEndian.Uint16(q[hl+2:])
		if d.hosts.refused(ka, hostKey(b), pa, pb, w) {
			return false
		}
	}
	d.hosts.unreachable(ka, w)
	return false
}

// ipv4Layer is gopacket's IPv4 that stops at tunnelled IP: a packet is
// counted by its outer header only (the decoding layers are shared, an
// inner header would overwrite the outer one).
type ipv4Layer struct{ layers.IPv4 }

func (l *ipv4Layer) NextLayerType() gopacket.LayerType {
	switch l.Protocol {
	case layers.IPProtocolIPv4, layers.IPProtocolIPv6:
		return gopacket.LayerTypePayload
	}
	return l.IPv4.NextLayerType()
}

// ipv6Layer decodes the IPv6 header and walks its extension headers
// (hop-by-hop, routing, fragment, destination options, authentication,
// mobility, HIP, shim6) to the upper-layer protocol, without allocating
// (gopacket's IPv6 allocates for every hop-by-hop option).
type ipv6Layer struct {
	layers.BaseLayer
	src, dst []byte
	length   int               // payload length from the header
	proto    layers.IPProtocol // upper-layer protocol
	later    bool              // a fragment other than the first: no upper-layer header
}

var (
	errIPv6Short   = errors.New("IPv6 header shorter than 40 bytes")
	errIPv6Version = errors.New("IPv6 header with a version other than 6")
	errIPv6Ext     = errors.New("IPv6 extension header runs past the packet")
	errIPv6Chain   = errors.New("IPv6 extension header chain too long")
)

// maxExtHeaders bounds the extension headers followed per packet.
const maxExtHeaders = 16

func (l *ipv6Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 40 {
		df.SetTruncated()
		return errIPv6Short
	}
	if data[0]>>4 != 6 {
		return errIPv6Version
	}
	l.length = int(binary.BigEndian.Uint16(data[4:6]))
	l.src, l.dst = data[8:24], data[24:40]
	l.later = false
	payload := data[40:]
	cut := false // the capture kept less than the packet
	switch {
	case l.length == 0: // jumbogram: bounded by the capture
		l.length = len(payload)
	case l.length < len(payload):
		payload = payload[:l.length] // Ethernet padding
	case l.length > len(payload):
		cut = true
		df.SetTruncated()
	}
	next := layers.IPProtocol(data[6])
	for n := 0; ; n++ {
		var hl int
		switch next {
		case layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing, layers.IPProtocolIPv6Destination, 135, 139, 140:
			if len(payload) >= 2 {
				hl = (int(payload[1]) + 1) * 8
			}
		case layers.IPProtocolAH:
			if len(payload) >= 2 {
				hl = (int(payload[1]) + 2) * 4
			}
		case layers.IPProtocolIPv6Fragment:
			hl = 8
			if len(payload) >= 4 && binary.BigEndian.Uint16(payload[2:4])&0xfff8 != 0 {
				l.later = true
			}
		default:
			l.proto = next
			l.Contents, l.Payload = data[:len(data)-len(payload)], payload
			return nil
		}
		if n == maxExtHeaders {
			return errIPv6Chain
		}
		if hl == 0 || hl > len(payload) {
			if cut {
				// The capture ends inside the extension headers: the
				// upper layer is not known, the packet is not malformed.
				l.proto = layers.IPProtocolNoNextHeader
				l.Contents, l.Payload = data[:len(data)-len(payload)], nil
				return nil
			}
			return errIPv6Ext
		}
		next = layers.IPProtocol(payload[0])
		payload = payload[hl:]
	}
}

func (l *ipv6Layer) CanDecode() gopacket.LayerClass { return layers.LayerTypeIPv6 }
func (l *ipv6Layer) LayerType() gopacket.LayerType  { return layers.LayerTypeIPv6 }
func (l *ipv6Layer) NextLayerType() gopacket.LayerType {
	switch {
	case l.later:
		return gopacket.LayerTypeFragment
	case l.proto == layers.IPProtocolNoNextHeader, l.proto == layers.IPProtocolIPv4, l.proto == layers.IPProtocolIPv6:
		return gopacket.LayerTypeZero
	}
	return l.proto.LayerType()
}
