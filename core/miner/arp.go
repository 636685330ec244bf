package miner

import (
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
// keeps, from the sender fields of Ethernet/IPv4 ARP packets, which MAC
// address claimed each IPv4 address last and which address each MAC
// claimed last, in fixed-size tables (arpBuckets × 4 entries, 96 KiB each),
// and the requests of the last arpAskTTL (24 KiB), and counts:
//
//   - ARPRebind: an address claimed by another MAC than the one that
//     claimed it within arpBindTTL;
//   - ARPMACMove: a MAC claiming another address than the one it claimed
//     within arpMoveTTL;
//   - ARPUnsolicited: a reply (other than a gratuitous announcement, whose
//     sender and target are the same) that answers no request seen within
//     arpAskTTL.
//
// A full bucket forgets its oldest entry: a flood of ARP from random
// addresses evicts bindings (and can hide a change of one of them), it
// never allocates.

const (
	arpBuckets    = 1024
	arpAskBuckets = 256
	arpBindTTL    = 4 * time.Hour
	arpMoveTTL    = 10 * time.Minute
	arpAskTTL     = 10 * time.Second

	arpRequest = 1
	arpReply   = 2

	seedARPIP  = 0x5c2e46ec2f2b9a27
	seedARPMAC = 0x7e3d5f1e6b2a4c91
	seedARPAsk = 0x3b8b5ebe1d5f9c35
)

type arpState struct {
	byIP  table // key: IPv4 address; val: MAC
	byMAC table // key: MAC; val: IPv4 address
	asked table // key: (asker, asked) addresses
}

func newARPState() *arpState {
	return &arpState{byIP: newTable(arpBuckets), byMAC: newTable(arpBuckets), asked: newTable(arpAskBuckets)}
}

func askKey(asker, asked uint32) uint64 {
	return mix64(uint64(asker)<<32 | uint64(asked) ^ seedARPAsk)
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
		e, seen := a.byIP.put(mix64(uint64(spa) ^ seedARPIP))
		if seen && now-e.t <= int64(arpBindTTL) && e.val != mac {
			w.c.ARPRebind++
		}
		e.val, e.t = mac, now
		e, seen = a.byMAC.put(mix64(mac ^ seedARPMAC))
		if seen && now-e.t <= int64(arpMoveTTL) && e.val != uint64(spa) {
			w.c.ARPMACMove++
		}
		e.val, e.t = uint64(spa), now
	}
	switch l.op {
	case arpRequest:
		e, _ := a.asked.put(askKey(spa, tpa))
		e.t = now
	case arpReply:
		if spa == tpa {
			return // a gratuitous announcement
		}
		if e := a.asked.find(askKey(tpa, spa)); e == nil || now-e.t > int64(arpAskTTL) {
			w.c.ARPUnsolicited++
		}
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
