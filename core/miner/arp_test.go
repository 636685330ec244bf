package miner

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/gopacket/gopacket"

	"netspot/core/capture"
)

// TestARPSpoofing plays a gateway, a host, and a spoofer who claims the
// gateway's address to the host and the host's to the gateway, in turn,
// with replies nobody asked for.
func TestARPSpoofing(t *testing.T) {
	fr := frames{t}
	f := newFeeder(t)
	const gw, host, spoofer = "10.0.0.1", "10.0.0.20", "10.0.0.66"
	type counts struct{ rebind, move, unsolicited uint64 }
	step := func(off time.Duration, b []byte, want counts, what string) {
		t.Helper()
		f.at(off, b)
		c := f.w.counters()
		if got := (counts{c.ARPRebind, c.ARPMACMove, c.ARPUnsolicited}); got != want {
			t.Errorf("%s: rebind, move, unsolicited = %+v, want %+v", what, got, want)
		}
		f.w.reset()
	}
	s := time.Second
	step(0, fr.arp(1, macA, host, gw), counts{}, "the host asks for the gateway")
	step(1*s, fr.arp(2, macB, gw, host), counts{}, "the gateway answers")
	step(2*s, fr.arp(1, macM, spoofer, gw), counts{}, "the spoofer asks for the gateway with its own address")
	step(3*s, fr.arp(2, macB, gw, spoofer), counts{}, "and is answered")
	step(4*s, fr.arp(2, macM, gw, host), counts{rebind: 1, move: 1, unsolicited: 1}, "the spoofer tells the host it is the gateway")
	step(5*s, fr.arp(2, macM, host, gw), counts{rebind: 1, move: 1, unsolicited: 1}, "and the gateway it is the host")
	step(6*s, fr.arp(2, macM, gw, host), counts{unsolicited: 1}, "again: the same claims")
	step(7*s, fr.arp(1, macB, gw, host), counts{}, "the gateway asks for the host: its address is its own again")
	step(8*s, fr.arp(2, macA, host, gw), counts{}, "the host answers: its address is its own again")
	step(9*s, fr.arp(2, macM, gw, host), counts{unsolicited: 1}, "the spoofer again")
	step(10*s, fr.arp(1, macM, spoofer, spoofer), counts{}, "the spoofer announces its own address")
	step(11*s, fr.arp(2, macB, gw, gw), counts{}, "a gratuitous reply is not unsolicited")
	step(12*s, fr.arp(2, macA, host, "0.0.0.0"), counts{unsolicited: 1}, "a reply to a probe nobody sent")
	step(13*s, fr.arp(1, macA, "0.0.0.0", host), counts{}, "a probe (no sender address)")
	step(13*s+time.Millisecond, fr.arp(2, macA, host, "0.0.0.0"), counts{}, "and its answer")
	step(14*s, fr.arp(2, macM, "10.0.0.21", gw), counts{move: 1, unsolicited: 1}, "the spoofer claims a second host (an address not seen before)")
	step(15*s, fr.arp(2, macM, "10.0.0.22", gw), counts{move: 1, unsolicited: 1}, "and a third")
	step(16*s, fr.arp(1, macM, spoofer, gw), counts{}, "the spoofer asks with its own address again: no move, though four others came since")
	step(17*s, fr.arp(2, macB, gw, spoofer), counts{}, "and is answered")
	step(18*s, fr.arp(2, macC, "10.0.0.21", gw), counts{rebind: 1, unsolicited: 1}, "another MAC at the second host's address: the spoofer had it first")
	// Bindings older than their time to live start again.
	step(5*time.Hour, fr.arp(1, macM, gw, host), counts{}, "hours later, the gateway's address at another MAC")
}

// TestARPMalformed: an ARP packet shorter than its addresses is malformed,
// and counts nothing else.
func TestARPMalformed(t *testing.T) {
	d := newDecoder()
	w := newWindow(1)
	b, _ := hex.DecodeString("ffffffffffff020000000001" + "0806" + "00010800" + "06" + "04" + "0002" + "020000000001" + "0a00")
	p := capture.Packet{Data: b, Length: len(b), Link: capture.LinkEthernet}
	d.count(&p, w)
	if c := w.counters(); c.ARP != 0 || c.Malformed != 1 || c.ARPUnsolicited != 0 {
		t.Errorf("a cut ARP packet: %+v, want malformed", c)
	}
	if allocs := testing.AllocsPerRun(100, func() { d.count(&p, w) }); allocs != 0 {
		t.Errorf("a cut ARP packet allocates %v times", allocs)
	}
}

// FuzzARP decodes arbitrary ARP bodies: the layer never reads outside its
// data, and counting them never panics nor counts more than one event of
// each kind.
func FuzzARP(f *testing.F) {
	fr := frames{f}
	f.Add(fr.arp(2, macM, "10.0.0.1", "10.0.0.20")[14:])
	f.Add(fr.arp(1, macA, "0.0.0.0", "10.0.0.20")[14:])
	f.Add([]byte{0, 1, 8, 0, 255, 255, 0, 2})
	d := newDecoder()
	w := newWindow(1)
	var l arpLayer
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := l.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
			return
		}
		if len(l.Contents)+len(l.Payload) != len(data) {
			t.Fatalf("contents %d and payload %d of %d bytes", len(l.Contents), len(l.Payload), len(data))
		}
		w.reset()
		d.arpState.packet(&l, int64(len(data))*int64(time.Second), w)
		if c := w.counters(); c.ARPRebind > 1 || c.ARPMACMove > 1 || c.ARPUnsolicited > 1 {
			t.Fatalf("one packet counted %+v", c)
		}
	})
}
