package trafficgen

import "encoding/binary"

// This file writes packets to the wire format: Ethernet, ARP, IPv4, IPv6,
// TCP, UDP, ICMPv4 and ICMPv6, with correct lengths and checksums.
//
// Payloads are described rather than materialised: a literal part plus
// pseudo-random bytes taken from a fixed block whose prefix sums give the
// Internet checksum of any range in constant time. A 1448-byte TLS record
// therefore costs the same as a 40-byte ACK when the capture keeps only the
// first bytes of each packet (snaplen), and the checksum is still that of
// the full packet.

const (
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd

	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58

	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
	tcpURG = 0x20

	minFrame = 60 // Ethernet minimum frame without FCS: shorter frames are padded
)

// blockSize is the length of the random payload block; offsets into it are
// drawn in [0, blockSize) and ranges may run up to blockSpan bytes.
const (
	blockSize = 1 << 16
	blockSpan = 1 << 16
)

// block is the pseudo-random payload bytes with their prefix sums by
// position parity.
type block struct {
	data      []byte
	even, odd []uint32 // even[i]: sum of data[j] for j < i, j even
}

func newBlock(r *rng) *block {
	n := blockSize + blockSpan
	b := &block{data: make([]byte, n), even: make([]uint32, n+1), odd: make([]uint32, n+1)}
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b.data[i:], r.u64())
	}
	for i, c := range b.data {
		b.even[i+1], b.odd[i+1] = b.even[i], b.odd[i]
		if i%2 == 0 {
			b.even[i+1] += uint32(c)
		} else {
			b.odd[i+1] += uint32(c)
		}
	}
	return b
}

// sum returns the one's complement partial sum of data[off:off+n] placed so
// that its first byte is the high byte of a 16-bit word when high is true.
func (b *block) sum(off, n int, high bool) uint64 {
	s0 := uint64(b.even[off+n] - b.even[off])
	s1 := uint64(b.odd[off+n] - b.odd[off])
	if off%2 == 1 {
		s0, s1 = s1, s0 // s0 now sums the bytes at the range's even positions
	}
	if high {
		return s0<<8 + s1
	}
	return s1<<8 + s0
}

// sumBytes returns the one's complement partial sum of p, whose first byte
// is the high byte of a word when high is true.
func sumBytes(p []byte, high bool) uint64 {
	var s uint64
	i := 0
	if !high && len(p) > 0 {
		s += uint64(p[0])
		i = 1
	}
	for ; i+1 < len(p); i += 2 {
		s += uint64(p[i])<<8 | uint64(p[i+1])
	}
	if i < len(p) {
		s += uint64(p[i]) << 8
	}
	return s
}

// fold turns a partial sum into the Internet checksum field value.
func fold(s uint64) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// ipAddr is an IPv4 (first 4 bytes) or IPv6 address.
type ipAddr struct {
	b  [16]byte
	v6 bool
}

func v4(a, b, c, d byte) ipAddr { return ipAddr{b: [16]byte{a, b, c, d}} }

func (a ipAddr) bytes() []byte {
	if a.v6 {
		return a.b[:]
	}
	return a.b[:4]
}

// payload describes a packet payload: lit, then (when record is set) a TLS
// application-data record header, then random bytes from the block, n bytes
// in all.
type payload struct {
	lit    []byte
	n      int
	record bool
	off    int // block offset of the random part
}

// frame is the packet being built. buf holds the captured bytes; wire is the
// length of the packet on the wire.
type frame struct {
	buf   []byte
	wire  int
	limit int // payload bytes to copy at most (the snaplen); the checksum covers all
	blk   *block
}

// l2 are the Ethernet addresses of a frame.
type l2 struct{ dst, src [6]byte }

// l3 is what an IP header needs beyond its payload.
type l3 struct {
	src, dst ipAddr
	ttl      uint8
	id       uint16
	df       bool
	flow     uint32 // IPv6 flow label
}

func (f *frame) ether(e l2, etherType uint16) {
	f.buf = f.buf[:14]
	copy(f.buf[0:6], e.dst[:])
	copy(f.buf[6:12], e.src[:])
	binary.BigEndian.PutUint16(f.buf[12:14], etherType)
}

// ip writes the IP header for a payload of plen bytes after the Ethernet
// header and returns the pseudo-header sum for the transport checksum.
func (f *frame) ip(e l2, h *l3, proto uint8, plen int) uint64 {
	if h.src.v6 {
		f.ether(e, etherTypeIPv6)
		f.buf = f.buf[:54]
		p := f.buf[14:54]
		binary.BigEndian.PutUint32(p[0:4], 6<<28|h.flow&0xfffff)
		binary.BigEndian.PutUint16(p[4:6], uint16(plen))
		p[6] = proto
		p[7] = h.ttl
		copy(p[8:24], h.src.b[:])
		copy(p[24:40], h.dst.b[:])
		return sumBytes(p[8:40], true) + uint64(plen) + uint64(proto)
	}
	f.ether(e, etherTypeIPv4)
	f.buf = f.buf[:34]
	p := f.buf[14:34]
	p[0] = 0x45
	p[1] = 0
	binary.BigEndian.PutUint16(p[2:4], uint16(20+plen))
	binary.BigEndian.PutUint16(p[4:6], h.id)
	if h.df {
		binary.BigEndian.PutUint16(p[6:8], 0x4000)
	} else {
		binary.BigEndian.PutUint16(p[6:8], 0)
	}
	p[8] = h.ttl
	p[9] = proto
	p[10], p[11] = 0, 0
	copy(p[12:16], h.src.b[:4])
	copy(p[16:20], h.dst.b[:4])
	binary.BigEndian.PutUint16(p[10:12], fold(sumBytes(p, true)))
	return sumBytes(p[12:20], true) + uint64(plen) + uint64(proto)
}

// putPayload appends the captured part of pl and returns its checksum sum,
// pl starting at an even offset of the checksummed data.
func (f *frame) putPayload(pl *payload) uint64 {
	room := f.limit
	var s uint64
	pos := 0
	put := func(p []byte) {
		if room > 0 {
			k := min(room, len(p))
			f.buf = append(f.buf, p[:k]...)
			room -= k
		}
	}
	if len(pl.lit) > 0 {
		put(pl.lit)
		s += sumBytes(pl.lit, true)
		pos = len(pl.lit)
	}
	rest := pl.n - pos
	if pl.record && rest >= 5 {
		var hdr [5]byte
		hdr[0], hdr[1], hdr[2] = 0x17, 3, 3
		binary.BigEndian.PutUint16(hdr[3:5], uint16(rest-5))
		put(hdr[:])
		s += sumBytes(hdr[:], pos%2 == 0)
		pos += 5
		rest -= 5
	}
	if rest > 0 {
		put(f.blk.data[pl.off : pl.off+rest])
		s += f.blk.sum(pl.off, rest, pos%2 == 0)
	}
	return s
}

// pad brings a short frame to the Ethernet minimum, as the sender's NIC does.
func (f *frame) pad() {
	if f.wire < minFrame {
		for len(f.buf) < minFrame {
			f.buf = append(f.buf, 0)
		}
		f.wire = minFrame
	}
}

// tcpHdr is a TCP header; opts is the encoded options (a multiple of 4 bytes).
type tcpHdr struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	win          uint16
	opts         []byte
}

func (f *frame) tcp(e l2, h *l3, t *tcpHdr, pl *payload) {
	hl := 20 + len(t.opts)
	n := 0
	if pl != nil {
		n = pl.n
	}
	ps := f.ip(e, h, protoTCP, hl+n)
	start := len(f.buf)
	f.buf = f.buf[:start+hl]
	p := f.buf[start:]
	binary.BigEndian.PutUint16(p[0:2], t.sport)
	binary.BigEndian.PutUint16(p[2:4], t.dport)
	binary.BigEndian.PutUint32(p[4:8], t.seq)
	binary.BigEndian.PutUint32(p[8:12], t.ack)
	p[12] = byte(hl/4) << 4
	p[13] = t.flags
	binary.BigEndian.PutUint16(p[14:16], t.win)
	p[16], p[17], p[18], p[19] = 0, 0, 0, 0
	copy(p[20:], t.opts)
	s := ps + sumBytes(p, true)
	if pl != nil {
		s += f.putPayload(pl)
	}
	binary.BigEndian.PutUint16(f.buf[start+16:start+18], fold(s))
	f.wire = start + hl + n
	f.pad()
}

func (f *frame) udp(e l2, h *l3, sport, dport uint16, pl *payload) {
	n := pl.n
	ps := f.ip(e, h, protoUDP, 8+n)
	start := len(f.buf)
	f.buf = f.buf[:start+8]
	p := f.buf[start:]
	binary.BigEndian.PutUint16(p[0:2], sport)
	binary.BigEndian.PutUint16(p[2:4], dport)
	binary.BigEndian.PutUint16(p[4:6], uint16(8+n))
	p[6], p[7] = 0, 0
	s := ps + sumBytes(p, true) + f.putPayload(pl)
	c := fold(s)
	if c == 0 {
		c = 0xffff // zero means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(f.buf[start+6:start+8], c)
	f.wire = start + 8 + n
	f.pad()
}

// icmp writes an ICMPv4 or ICMPv6 message (chosen by the address family):
// the 4-byte type/code/checksum, then body (rest of header and data).
func (f *frame) icmp(e l2, h *l3, typ, code uint8, body *payload) {
	n := 4 + body.n
	proto := uint8(protoICMP)
	if h.src.v6 {
		proto = protoICMPv6
	}
	ps := f.ip(e, h, proto, n)
	start := len(f.buf)
	f.buf = append(f.buf, typ, code, 0, 0)
	s := sumBytes(f.buf[start:start+4], true) + f.putPayload(body)
	if h.src.v6 {
		s += ps // ICMPv6 covers a pseudo-header, ICMPv4 does not
	}
	binary.BigEndian.PutUint16(f.buf[start+2:start+4], fold(s))
	f.wire = start + n
	f.pad()
}

// rawIP writes an IP packet of protocol proto whose payload is pl, with no
// transport header of its own (the probes of a protocol scan).
func (f *frame) rawIP(e l2, h *l3, proto uint8, pl *payload) {
	f.ip(e, h, proto, pl.n)
	start := len(f.buf)
	f.putPayload(pl)
	f.wire = start + pl.n
	f.pad()
}

// arp writes an ARP request (op 1) or reply (op 2) for IPv4 over Ethernet.
func (f *frame) arp(e l2, op uint16, sha [6]byte, spa ipAddr, tha [6]byte, tpa ipAddr) {
	f.ether(e, etherTypeARP)
	f.buf = f.buf[:42]
	p := f.buf[14:42]
	binary.BigEndian.PutUint16(p[0:2], 1)
	binary.BigEndian.PutUint16(p[2:4], etherTypeIPv4)
	p[4], p[5] = 6, 4
	binary.BigEndian.PutUint16(p[6:8], op)
	copy(p[8:14], sha[:])
	copy(p[14:18], spa.b[:4])
	copy(p[18:24], tha[:])
	copy(p[24:28], tpa.b[:4])
	f.wire = 42
	f.pad()
}
