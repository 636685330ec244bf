package miner

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ARP.
//
// ARP spoofing makes a machine claim another's IPv4 address (the gateway's,
// to see its victims' traffic), with replies nobody asked for. The miner
// keeps, from the sender fields of Ethernet/IPv4 ARP packets, the first and
// the last three distinct MAC addresses that claimed each IPv4 address and
// the first and the last three distinct addresses each MAC address claimed,
// in fixed-size tables (arpBuckets × 4 entries, 192 KiB each), and the
// requests of the last arpAskTTL (24 KiB), and counts:
//
//   - ARPRebind: an address claimed by a MAC that was neither its first
//     owner nor one of its last three (within arpBindTTL); the owner
//     changing back (the real gateway answering again between forged
//     replies, or after the attack) is not counted again;
//   - ARPMACMove: a MAC claiming an address that was neither the first nor
//     one of the last three it claimed (within arpMoveTTL): a host has one
//     address, a spoofer claims its victims' too; the spoofer claiming its
//     own address again after the attack is not a move, however many
//     victims it had;
//   - ARPUnsolicited: a reply (other than a gratuitous announcement, whose
//     sender and target are the same) that answers no request seen within
//     arpAskTTL, or one already answered (a spoofer racing the owner).
//
// A full bucket forgets its oldest entry: a flood of ARP from random
// addresses evicts bindings (and can hide a change of one of them), it
// never allocates. The buckets are chosen with a secret drawn at start,
// so that nobody can work out offline the four addresses that share the
// gateway's bucket and push its binding out with four packets: evicting
// it takes a flood, which ARP_RATE sees.

const (
	arpBuckets    = 1024
	arpAskBuckets = 256
	arpBindTTL    = 4 * time.Hour
	arpMoveTTL    = time.Hour
	arpAskTTL     = 10 * time.Second

	arpRequest = 1
	arpReply   = 2

	seedARPIP  = 0x5c2e46ec2f2b9a27
	seedARPMAC = 0x7e3d5f1e6b2a4c91
	seedARPAsk = 0x3b8b5ebe1d5f9c35
)

// arpHistory is an entry of a binding table: the first value and the last
// distinct values (MAC addresses of an IPv4 address, or the reverse), the
// latest first. The first is kept apart so that a change back to it is
// never new, however many values came in between.
type arpHistory struct {
	key   uint64 // 0: free
	seen  int64
	first uint64
	vals  [3]uint64
}

// arpTable is a set-associative table of histories, 4 entries a bucket; a
// full bucket evicts the entry seen least recently.
type arpTable struct {
	e    []arpHistory
	mask uint64
}

func newARPTable(buckets int) arpTable {
	return arpTable{e: make([]arpHistory, buckets*ways), mask: uint64(buckets - 1)}
}

// claim records that key claims v at now and reports whether v is new for
// a key seen within ttl: neither its first value nor one of its last.
func (tb *arpTable) claim(h, v uint64, now int64, ttl time.Duration) (changed bool) {
	key := h | 1
	i := int((h>>40)&tb.mask) * ways
	b := tb.e[i : i+ways : i+ways]
	var e *arpHistory
	old := 0
	for j := range b {
		if b[j].key == key {
			e = &b[j]
			break
		}
		switch {
		case b[old].key == 0: // keep the free slot found
		case b[j].key == 0 || b[j].seen < b[old].seen:
			old = j
		}
	}
	if e == nil || elapsed(now, e.seen) > uint64(ttl) {
		if e == nil {
			e = &b[old]
		}
		*e = arpHistory{key: key, seen: now, first: v, vals: [3]uint64{v}}
		return false
	}
	e.seen = now
	switch v {
	case e.vals[0]:
		return false
	case e.vals[1]:
		e.vals[0], e.vals[1] = v, e.vals[0]
		return false
	case e.vals[2]:
		e.vals[0], e.vals[1], e.vals[2] = v, e.vals[0], e.vals[1]
		return false
	}
	e.vals[0], e.vals[1], e.vals[2] = v, e.vals[0], e.vals[1]
	return v != e.first
}

// arpSecret is mixed into the tables' keys (see above).
var arpSecret = func() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}()

type arpState struct {
	byIP  arpTable // IPv4 address → its MAC addresses
	byMAC arpTable // MAC address → its IPv4 addresses
	asked table    // key: (asker, asked) addresses; t: when
}

func newARPState() *arpState {
	return &arpState{byIP: newARPTable(arpBuckets), byMAC: newARPTable(arpBuckets), asked: newTable(arpAskBuckets)}
}

func askKey(asker, asked uint32) uint64 {
	return mix64(uint64(asker)<<32 | uint64(asked) ^ seedARPAsk ^ arpSecret)
}

// packet counts an ARP packet whose fields are in l, at time now.
func (a *arpState) packet(l *arpLayer, now int64, w *window) {
	if !l.ipv4Ether {
		return
	}
	spa, tpa := binary.BigEndian.Uint32(l.spa), binary.BigEndian.Uint32(l.tpa)
	var mac uint64
	for _, b := range l.sha {
		mac = mac<<8 | uint64(b)
	}
	if spa != 0 && mac != 0 && mac != 0xffffffffffff {
		if a.byIP.claim(mix64(uint64(spa)^seedARPIP^arpSecret), mac, now, arpBindTTL) {
			w.c.ARPRebind++
		}
		if a.byMAC.claim(mix64(mac^seedARPMAC^arpSecret), uint64(spa), now, arpMoveTTL) {
			w.c.ARPMACMove++
		}
	}
	switch l.op {
	case arpRequest:
		e, _ := a.asked.put(askKey(spa, tpa))
		e.t = now
	case arpReply:
		if spa == tpa {
			return // a gratuitous announcement
		}
		e := a.asked.find(askKey(tpa, spa))
		if e == nil || elapsed(now, e.t) > uint64(arpAskTTL) {
			w.c.ARPUnsolicited++
			return
		}
		*e = entry{} // answered: a second answer is unsolicited

	}
}

// arpLayer decodes ARP without allocating, also when the packet is too
// short (gopacket's ARP formats an error).
type arpLayer struct {
	layers.BaseLayer
	op                 uint16
	ipv4Ether          bool // Ethernet hardware and IPv4 protocol addresses
	sha, spa, tha, tpa []byte
}

var errARPShort = errors.New("ARP packet shorter than its addresses")

func (l *arpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < 8 {
		df.SetTruncated()
		return errARPShort
	}
	hw, pr := int(data[4]), int(data[5])
	n := 8 + 2*hw + 2*pr
	if len(data) < n {
		df.SetTruncated()
		return errARPShort
	}
	l.op = binary.BigEndian.Uint16(data[6:8])
	l.ipv4Ether = binary.BigEndian.Uint16(data[2:4]) == uint16(layers.EthernetTypeIPv4) && hw == 6 && pr == 4
	l.sha = data[8 : 8+hw]
	l.spa = data[8+hw : 8+hw+pr]
	l.tha = data[8+hw+pr : 8+2*hw+pr]
	l.tpa = data[8+2*hw+pr : n]
	l.Contents, l.Payload = data[:n], data[n:]
	return nil
}

func (l *arpLayer) CanDecode() gopacket.LayerClass    { return layers.LayerTypeARP }
func (l *arpLayer) LayerType() gopacket.LayerType     { return layers.LayerTypeARP }
func (l *arpLayer) NextLayerType() gopacket.LayerType { return gopacket.LayerTypeZero }
