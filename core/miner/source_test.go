package miner

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"netspot/core/capture"
	"netspot/core/event"
)

// sliceSource hands out fixed packets, then io.EOF (or err).
type sliceSource struct {
	pkts   []capture.Packet
	i      int
	err    error
	closed bool
}

func (s *sliceSource) Next(p *capture.Packet) error {
	if s.i == len(s.pkts) {
		if s.err != nil {
			return s.err
		}
		return io.EOF
	}
	*p = s.pkts[s.i]
	s.i++
	return nil
}

func (s *sliceSource) Close() error { s.closed = true; return nil }

// rawIPv4UDP is an IPv4/UDP datagram without link header, as in a raw IP
// capture: 10.0.0.1:5353 -> 10.0.0.2:53, a DNS query for "a." (A).
var rawIPv4UDP = []byte{
	0x45, 0x00, 0x00, 0x2f, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
	10, 0, 0, 1, 10, 0, 0, 2,
	0x14, 0xe9, 0x00, 0x35, 0x00, 0x1b, 0x00, 0x00,
	0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,
}

func TestWithSourceMixedLinks(t *testing.T) {
	syn := synFrame(t, net.IPv4(10, 0, 0, 9), 4000)
	at := func(d time.Duration) int64 { return base.Add(d).UnixNano() }
	src := &sliceSource{pkts: []capture.Packet{
		{Data: syn, Length: len(syn), Time: at(100 * ms), Link: capture.LinkEthernet},
		{Data: rawIPv4UDP, Length: len(rawIPv4UDP), Time: at(200 * ms), Link: capture.LinkRaw},
		{Data: rawIPv4UDP, Length: len(rawIPv4UDP), Time: at(2500 * ms), Link: capture.LinkIPv4},
	}}
	c := DefaultConfig()
	c.Device = "timeline"
	m, err := New(c, time.Second, nil, WithSource(src))
	if err != nil {
		t.Fatal(err)
	}
	if m.Live() {
		t.Error("a miner replaying a source says it is live")
	}
	got, err := collect(t, m, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkWindows(t, got, []win{
		{0, time.Second, false, 2},
		{time.Second, 2 * time.Second, false, 0},
		{2 * time.Second, 2500*ms + 1, true, 1},
	})
	first := got[0].Counters
	if first.TCP != 1 || first.SYN != 1 || first.UDP != 1 || first.DNS != 1 || first.IP != 2 || first.Malformed != 0 {
		t.Errorf("first window: %+v; want one TCP SYN and one DNS datagram decoded", first)
	}
	if got[2].UDP != 1 {
		t.Errorf("raw IPv4 packet not decoded: %+v", got[2].Counters)
	}
	if err := m.Close(); err != nil || !src.closed {
		t.Errorf("Close: %v, source closed %v; the miner owns the source", err, src.closed)
	}
}

func TestWithSourceError(t *testing.T) {
	syn := synFrame(t, net.IPv4(10, 0, 0, 9), 4000)
	broken := errors.New("stream broke")
	src := &sliceSource{pkts: []capture.Packet{{Data: syn, Length: len(syn), Time: base.UnixNano(), Link: capture.LinkEthernet}}, err: broken}
	m, err := New(fileConfig("timeline"), time.Second, nil, WithSource(src))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := collect(t, m, context.Background())
	if !errors.Is(err, broken) {
		t.Fatalf("Run: %v, want the source's error", err)
	}
	if len(got) != 1 || got[0].Packets != 1 {
		t.Errorf("windows before the error: %d, want the one read so far flushed", len(got))
	}
}

// TestWithSourceAllocs checks that replaying a source allocates per window,
// never per packet.
func TestWithSourceAllocs(t *testing.T) {
	frames := mixedFrames(t, 1024)
	const n = 50000
	pkts := make([]capture.Packet, n)
	for i := range pkts {
		f := frames[i%len(frames)]
		// 10 windows of 1 s.
		pkts[i] = capture.Packet{Data: f, Length: len(f), Time: base.Add(time.Duration(i) * 10 * time.Second / n).UnixNano(), Link: capture.LinkEthernet}
	}
	var windows int
	allocs := testing.AllocsPerRun(3, func() {
		m, err := New(fileConfig("timeline"), time.Second, nil, WithSource(&sliceSource{pkts: pkts}))
		if err != nil {
			t.Fatal(err)
		}
		windows = 0
		if err := m.Run(context.Background(), func(*event.Snapshot) { windows++ }); err != nil {
			t.Fatal(err)
		}
		m.Close()
	})
	if windows != 10 {
		t.Fatalf("%d windows, want 10", windows)
	}
	// A miner, its window and decoder, and one Snapshot per window: a few
	// dozen allocations, against 50,000 packets.
	if allocs > 200 {
		t.Errorf("%.0f allocations to replay %d packets in %d windows; the per-packet path must not allocate", allocs, n, windows)
	}
}
