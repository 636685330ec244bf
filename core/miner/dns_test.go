package miner

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// query is a DNS message with one question for name (labels separated by
// dots) of type qtype.
func query(name string, qtype uint16) []byte {
	b := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for l := range strings.SplitSeq(name, ".") {
		if l != "" {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	b = append(b, 0)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, qtype), 1)
}

func TestParseDNS(t *testing.T) {
	long := strings.Repeat("a", 63)
	iodine := query("rdkad"+string(bytes.Repeat([]byte{0xe4, 0x17, 0x9c}, 19)), dnsTypeNULL)
	for _, c := range []struct {
		name  string
		msg   []byte
		cut   bool
		res   dnsResult
		rcode uint8
		q     dnsQuestion
	}{
		{name: "A query", msg: query("www.example.com", 1), res: dnsQuery,
			q: dnsQuestion{nameLen: 15, labelLen: 7, bits: 7*math.Log2(7) - 2, qtype: 1, typeSeen: true}},
		{name: "TXT query, long random label", msg: query("abcdefghijklmnopqrstuvwxyz234567.t.example", dnsTypeTXT), res: dnsQuery,
			q: dnsQuestion{nameLen: 42, labelLen: 32, bits: 32 * 5, qtype: dnsTypeTXT, typeSeen: true}},
		{name: "binary label", msg: iodine, res: dnsQuery,
			q: dnsQuestion{nameLen: 62, labelLen: 62, bits: 62*math.Log2(62) - 3*19*math.Log2(19) - 2*math.Log2(2), qtype: dnsTypeNULL, typeSeen: true}},
		{name: "root", msg: query("", 2), res: dnsQuery, q: dnsQuestion{qtype: 2, typeSeen: true}},
		{name: "cut in a label", msg: query(long+".example", 1)[:12+1+40], cut: true, res: dnsQuery,
			q: dnsQuestion{nameLen: 40, labelLen: 40, bits: 0}},
		{name: "cut before the type", msg: query("a.b", 16)[:12+5], cut: true, res: dnsQuery,
			q: dnsQuestion{nameLen: 3, labelLen: 1}},
		{name: "cut header", msg: query("a", 1)[:8], cut: true, res: dnsOther},
		{name: "short header", msg: query("a", 1)[:8], res: dnsMalformed},
		{name: "label past the end", msg: query(long, 1)[:12+30], res: dnsMalformed},
		{name: "no type", msg: query("a.b", 1)[:12+5], res: dnsMalformed},
		{name: "pointer", msg: append([]byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 12}, 0, 1, 0, 1), res: dnsMalformed},
		{name: "extended label type", msg: append([]byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41}, make([]byte, 10)...), res: dnsMalformed},
		{name: "name over 255 bytes", msg: query(strings.Repeat(long+".", 4)+"x", 1), res: dnsMalformed},
		{name: "127 one-byte labels, 254 bytes", msg: query(strings.Repeat("a.", 126)+"a", 1), res: dnsQuery,
			q: dnsQuestion{nameLen: 253, labelLen: 1, qtype: 1, typeSeen: true}},
		{name: "128 one-byte labels", msg: query(strings.Repeat("a.", 127)+"a", 1), res: dnsMalformed},
		{name: "no question", msg: []byte{0x12, 0x34, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, res: dnsOther},
		{name: "status request (opcode 2)", msg: []byte{0x12, 0x34, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0}, res: dnsOther},
		{name: "NXDOMAIN", msg: []byte{0x12, 0x34, 0x81, 0x83, 0, 0, 0, 0, 0, 0, 0, 0}, res: dnsResponse, rcode: dnsNXDomain},
	} {
		s := newDNSScratch()
		var q dnsQuestion
		res, rcode := s.parseDNS(c.msg, c.cut, &q)
		if res != c.res || rcode != c.rcode {
			t.Errorf("%s: result %d, rcode %d; want %d, %d", c.name, res, rcode, c.res, c.rcode)
			continue
		}
		if res != dnsQuery {
			continue
		}
		if c.q.bits == 0 && c.q.labelLen > 0 { // a label of one repeated byte: no information
			c.q.bits = q.bits
			if q.bits != 0 {
				t.Errorf("%s: %v bits in a label of one repeated byte", c.name, q.bits)
			}
		}
		if q.nameLen != c.q.nameLen || q.labelLen != c.q.labelLen || q.qtype != c.q.qtype || q.typeSeen != c.q.typeSeen || math.Abs(q.bits-c.q.bits) > 1e-9 {
			t.Errorf("%s: %+v, want %+v", c.name, q, c.q)
		}
		if s.counts != [256]uint8{} {
			t.Errorf("%s: byte counts left behind", c.name)
		}
	}
}

// FuzzDNS parses arbitrary messages: never a panic, lengths within what a
// name can hold, information within what its bytes can carry, and the
// scratch counts clean for the next message.
func FuzzDNS(f *testing.F) {
	f.Add(query("www.example.com", 1), false)
	f.Add(query(strings.Repeat("x", 63)+".t.example", dnsTypeTXT), true)
	f.Add([]byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 12, 0, 1, 0, 1}, false)
	f.Add([]byte{0x12, 0x34, 0x81, 0x83, 0, 0, 0, 0, 0, 0, 0, 0}, false)
	s := newDNSScratch()
	f.Fuzz(func(t *testing.T, msg []byte, cut bool) {
		var q dnsQuestion
		res, _ := s.parseDNS(msg, cut, &q)
		if res == dnsQuery {
			if q.nameLen > dnsMaxName || q.labelLen > dnsMaxLabel || q.labelLen > q.nameLen || q.bits < 0 || q.bits > float64(q.labelLen)*math.Log2(float64(max(q.labelLen, 1)))+1e-9 {
				t.Fatalf("%+v from %x", q, msg)
			}
		}
		if s.counts != [256]uint8{} {
			t.Fatalf("byte counts left behind by %x", msg)
		}
	})
}

// TestDNSCounts: queries count per source, TXT and NULL apart, names and
// labels by their longest, responses by NXDOMAIN; junk on port 53 is
// malformed.
func TestDNSCounts(t *testing.T) {
	fr := frames{t}
	f := newFeeder(t)
	f.at(0, fr.udp("10.0.0.1", "10.0.0.53", 40000, 53, query("www.example.com", 1)))
	f.at(0, fr.udp("10.0.0.1", "10.0.0.53", 40001, 53, query(strings.Repeat("q", 40)+".t.example", dnsTypeTXT)))
	f.at(0, fr.udp("10.0.0.53", "10.0.0.1", 53, 40001, []byte{0x12, 0x34, 0x81, 0x83, 0, 0, 0, 0, 0, 0, 0, 0}))
	f.at(0, fr.udp("10.0.0.2", "10.0.0.53", 40000, 53, []byte{1, 2, 3}))
	c := f.w.counters()
	if c.DNSQueries != 2 || c.DNSDataQueries != 1 || c.DNSNXDomain != 1 || c.DNSNameLen != 50 || c.DNSLabelLen != 40 ||
		!near(c.HostDNS, 2) || c.Malformed != 1 || c.DNS != 4 {
		t.Errorf("%+v", c)
	}
}
