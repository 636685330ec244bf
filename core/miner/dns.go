package miner

import (
	"encoding/binary"
	"math"
)

// DNS.
//
// The miner reads the header of DNS messages on UDP port 53 and the first
// question of standard queries, in place and without allocating: the query
// name's length, its longest label and the information its labels carry,
// the record type asked for, and the response code of responses. Tunnels
// and exfiltration encode data in long, random-looking labels (iodine's
// labels carry raw bytes) and ask for TXT or NULL records; benign names are
// short words, or long names made of short labels (Active Directory's
// service records, reverse lookups).
//
// A message that breaks the format (a header cut short by its own datagram,
// a label running past the end, a compression pointer or an obsolete label
// type in the question, a name longer than 255 bytes, however many labels
// it has) counts as malformed. A datagram cut by the capture's snapshot
// length is not malformed: its name counts up to the cut.

const (
	dnsPort       = 53
	dnsHeaderLen  = 12
	dnsMaxName    = 255 // bytes of a name on the wire
	dnsTypeNULL   = 10
	dnsTypeTXT    = 16
	dnsNXDomain   = 3
	dnsMaxLabel   = 63
	dnsFlagQR     = 0x80 // in byte 2
	dnsOpcodeMask = 0x78 // in byte 2
)

// dnsQuestion is what the miner reads of the first question of a query.
type dnsQuestion struct {
	nameLen  int     // characters of the name, dots between labels included
	labelLen int     // longest label
	bits     float64 // largest information of one label, in bits
	qtype    uint16
	typeSeen bool // the capture kept the type
}

// dnsScratch is the memory the label entropy needs, allocated once per
// decoder.
type dnsScratch struct {
	counts [256]uint8
	nlogn  [dnsMaxLabel + 1]float64 // k·log2(k)
}

func newDNSScratch() *dnsScratch {
	s := new(dnsScratch)
	for k := 2; k <= dnsMaxLabel; k++ {
		s.nlogn[k] = float64(k) * math.Log2(float64(k))
	}
	return s
}

// labelBits is the length of label times the Shannon entropy of its bytes:
// n·log2(n) − Σ c·log2(c) over the byte counts c.
func (s *dnsScratch) labelBits(label []byte) float64 {
	for _, c := range label {
		s.counts[c]++
	}
	bits := s.nlogn[len(label)]
	for _, c := range label {
		if k := s.counts[c]; k != 0 {
			bits -= s.nlogn[k]
			s.counts[c] = 0
		}
	}
	return max(bits, 0)
}

// dnsResult says how a DNS message was read.
type dnsResult uint8

const (
	dnsOther     dnsResult = iota // not a standard query or a response: nothing to count
	dnsQuery                      // a standard query; the question is filled
	dnsResponse                   // a response; rcode is filled
	dnsMalformed                  // not a valid DNS message
)

// parseDNS reads a DNS message b (a UDP payload). cut says that the capture
// kept only the start of the datagram. For a query, the question's name
// counts up to where the capture ends.
func (s *dnsScratch) parseDNS(b []byte, cut bool, q *dnsQuestion) (res dnsResult, rcode uint8) {
	if len(b) < dnsHeaderLen {
		if cut {
			return dnsOther, 0
		}
		return dnsMalformed, 0
	}
	if b[2]&dnsFlagQR != 0 {
		return dnsResponse, b[3] & 0x0f
	}
	if b[2]&dnsOpcodeMask != 0 || binary.BigEndian.Uint16(b[4:6]) == 0 {
		return dnsOther, 0 // not a standard query, or no question
	}
	*q = dnsQuestion{}
	off := dnsHeaderLen
	for {
		if off >= len(b) {
			if cut {
				return dnsQuery, 0
			}
			return dnsMalformed, 0
		}
		l := int(b[off])
		switch {
		case l == 0:
			off++
			if off+4 <= len(b) {
				q.qtype, q.typeSeen = binary.BigEndian.Uint16(b[off:]), true
			} else if !cut {
				return dnsMalformed, 0
			}
			return dnsQuery, 0
		case l > dnsMaxLabel:
			// A compression pointer (the first name of a message has
			// nothing before it to point to) or an obsolete label type.
			return dnsMalformed, 0
		}
		if off-dnsHeaderLen+1+l+1 > dnsMaxName {
			return dnsMalformed, 0
		}
		end := off + 1 + l
		if end > len(b) {
			if !cut {
				return dnsMalformed, 0
			}
			end = len(b)
		}
		label := b[off+1 : end]
		if q.nameLen > 0 {
			q.nameLen++
		}
		q.nameLen += len(label)
		q.labelLen = max(q.labelLen, len(label))
		q.bits = max(q.bits, s.labelBits(label))
		off += 1 + l
	}
}

// dns counts a DNS message from port sp to port dp of host src.
func (d *decoder) dns(payload []byte, cut bool, sp, dp uint16, w *window) (malformed bool) {
	var q dnsQuestion
	res, rcode := d.dnsScratch.parseDNS(payload, cut, &q)
	c := &w.c
	switch res {
	case dnsMalformed:
		return true
	case dnsResponse:
		if sp == dnsPort && rcode == dnsNXDomain {
			c.DNSNXDomain++
		}
	case dnsQuery:
		if dp != dnsPort {
			return false
		}
		c.DNSQueries++
		if q.typeSeen && (q.qtype == dnsTypeTXT || q.qtype == dnsTypeNULL) {
			c.DNSDataQueries++
		}
		c.DNSNameLen = max(c.DNSNameLen, uint64(q.nameLen))
		c.DNSLabelLen = max(c.DNSLabelLen, uint64(q.labelLen))
		c.DNSLabelBits = max(c.DNSLabelBits, q.bits)
		d.hosts.dnsQuery(d.srcKey(), w)
	}
	return false
}
