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
	arp   layers.ARP
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	tcp   layers.TCP
	udp   layers.UDP

	fromEth, fromSLL, fromSLL2, fromIPv4, fromIPv6, fromARP *gopacket.DecodingLayerParser

	decoded []gopacket.LayerType
}

func newDecoder() *decoder {
	d := &decoder{decoded: make([]gopacket.LayerType, 0, 16)}
	all := []gopacket.DecodingLayer{&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.ip4, &d.ip6, &d.arp, &d.icmp4, &d.icmp6, &d.tcp, &d.udp}
	mk := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		p := gopacket.NewDecodingLayerParser(first, all...)
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

// count decodes p and adds it to w. A packet that cannot be decoded is
// counted in Packets and Malformed; the layers decoded before the defect
// still count.
func (d *decoder) count(p *capture.Packet, w *window) {
	c := &w.c
	c.Packets++
	c.Bytes += uint64(p.Length)

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
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeIPv4:
			if seenIP {
				continue
			}
			seenIP = true
			c.IP++
			c.IPv4++
			c.IPBytes += uint64(d.ip4.Length)
			w.src.add(addr{lo: 0xffff00000000 | uint64(binary.BigEndian.Uint32(d.ip4.SrcIP))})
			w.dst.add(addr{lo: 0xffff00000000 | uint64(binary.BigEndian.Uint32(d.ip4.DstIP))})
		case layers.LayerTypeIPv6:
			if seenIP {
				continue
			}
			seenIP = true
			c.IP++
			c.IPv6++
			c.IPBytes += uint64(40 + d.ip6.length)
			w.src.add(addr{hi: binary.BigEndian.Uint64(d.ip6.src[:8]), lo: binary.BigEndian.Uint64(d.ip6.src[8:])})
			w.dst.add(addr{hi: binary.BigEndian.Uint64(d.ip6.dst[:8]), lo: binary.BigEndian.Uint64(d.ip6.dst[8:])})
		case layers.LayerTypeARP:
			c.ARP++
		case layers.LayerTypeICMPv4:
			c.ICMP++
			if d.icmp4.TypeCode.Type() == layers.ICMPv4TypeDestinationUnreachable {
				c.ICMPUnreach++
			}
		case layers.LayerTypeICMPv6:
			switch t := d.icmp6.TypeCode.Type(); {
			case t >= layers.ICMPv6TypeRouterSolicitation && t <= layers.ICMPv6TypeRedirect:
				c.NDP++
			default:
				c.ICMP++
				if t == layers.ICMPv6TypeDestinationUnreachable {
					c.ICMPUnreach++
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
		case layers.LayerTypeUDP:
			c.UDP++
			sp, dp := uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			w.sport.add(sp)
			w.dport.add(dp)
			if sp == 53 || dp == 53 {
				c.DNS++
			}
		}
	}
	if err != nil {
		c.Malformed++
	}
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
