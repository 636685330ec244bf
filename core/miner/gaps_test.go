package miner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/core/capture"
	"netspot/core/event"
)

// packetsAt is a replay source of one SYN at each offset from base.
func packetsAt(t testing.TB, offsets ...time.Duration) *sliceSource {
	fr := synFrame(t, net.IPv4(10, 0, 0, 1), 1024)
	src := &sliceSource{}
	for _, off := range offsets {
		src.pkts = append(src.pkts, capture.Packet{Data: fr, Length: len(fr), Time: base.Add(off).UnixNano(), Link: capture.LinkEthernet})
	}
	return src
}

// replayMiner replays src with period P, logging to log (nil: nowhere).
func replayMiner(t testing.TB, src capture.Source, period time.Duration, log *slog.Logger) *Miner {
	c := DefaultConfig()
	c.Device = "replay"
	m, err := New(c, period, log, WithSource(src))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReplayNightOfSilence: a day of traffic, a night of silence, and the
// next morning are replayed as live capture would have seen them, every
// empty window of the night included.
func TestReplayNightOfSilence(t *testing.T) {
	var offs []time.Duration
	for s := time.Duration(0); s < 2*time.Hour; s += 10 * time.Second {
		offs = append(offs, s)
	}
	morning := 2*time.Hour + 12*time.Hour
	for s := morning; s < morning+time.Hour; s += 10 * time.Second {
		offs = append(offs, s)
	}
	var logs bytes.Buffer
	m := replayMiner(t, packetsAt(t, offs...), time.Second, slog.New(slog.NewTextHandler(&logs, nil)))
	defer m.Close()
	var (
		n       int
		packets uint64
		prev    *event.Snapshot
		broken  string
	)
	err := m.Run(context.Background(), func(s *event.Snapshot) {
		if prev != nil && !s.Start.Equal(prev.End) && broken == "" {
			broken = fmt.Sprintf("window %d starts at %s, the previous one ended at %s", n, s.Start, prev.End)
		}
		n++
		packets += s.Packets
		prev = s
	})
	if err != nil {
		t.Fatal(err)
	}
	last := offs[len(offs)-1]
	if want := int(last/time.Second) + 1; n != want || broken != "" || packets != uint64(len(offs)) {
		t.Errorf("%d windows with %d packets, want %d contiguous windows with %d; %s", n, packets, want, len(offs), broken)
	}
	if strings.Contains(logs.String(), "jump") {
		t.Errorf("the night was logged as a jump:\n%s", logs.String())
	}
}

// TestReplayGapBounds: a gap longer than gapMax periods, or one that would
// take the replay past gapMax plus gapPerPacket empty windows per packet,
// restarts the windows at the next packet instead of being filled, and is
// logged with the reason.
func TestReplayGapBounds(t *testing.T) {
	s := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	var logs bytes.Buffer
	m := replayMiner(t, packetsAt(t,
		s(0.5),
		s(5.5),  // 4 empty windows: filled (4 ≤ 10 + 2·2)
		s(11.5), // 5: filled (9 ≤ 10 + 2·3)
		s(30.5), // 18, more than 10: the windows start again at 30
		s(36.5), // 5: filled (14 ≤ 10 + 2·5)
		s(42.5), // 5: filled (19 ≤ 10 + 2·6)
		s(48.5), // 5: filled (24 ≤ 10 + 2·7)
		s(54.5), // 5: not filled (29 > 10 + 2·8): the windows start again at 54
		s(55.5),
	), time.Second, slog.New(slog.NewTextHandler(&logs, nil)))
	defer m.Close()
	m.gapMax, m.gapPerPacket = 10, 2
	got, err := collect(t, m, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []win
	add := func(from, to int, packets map[int]bool) {
		for i := from; i < to; i++ {
			w := win{start: time.Duration(i) * time.Second, end: time.Duration(i+1) * time.Second}
			if packets[i] {
				w.packets = 1
			}
			want = append(want, w)
		}
	}
	pk := map[int]bool{0: true, 5: true, 11: true, 30: true, 36: true, 42: true, 48: true, 54: true}
	add(0, 12, pk)
	add(30, 49, pk)
	add(54, 55, pk)
	want = append(want, win{55 * time.Second, s(55.5) + 1, true, 1})
	checkWindows(t, got, want)
	for _, says := range []string{
		`periods=18 because="longer than 10 periods"`,
		`periods=5 because="the capture has given 24 empty windows for 8 packets; at most 10 plus 2 per packet are filled"`,
	} {
		if !strings.Contains(logs.String(), says) {
			t.Errorf("log lacks %q:\n%s", says, logs.String())
		}
	}
}

// TestReplayJumpBomb: a capture of a few KB whose packets are each almost
// MaxEmptyWindows periods apart (about 200 days in all) costs a bounded
// number of windows, not 20 million, and says so in a few log lines.
func TestReplayJumpBomb(t *testing.T) {
	const packets = 200
	var offs []time.Duration
	for i := range packets {
		offs = append(offs, time.Duration(i)*(MaxEmptyWindows-1)*time.Second)
	}
	var logs bytes.Buffer
	m := replayMiner(t, packetsAt(t, offs...), time.Second, slog.New(slog.NewTextHandler(&logs, nil)))
	defer m.Close()
	var n, got uint64
	if err := m.Run(context.Background(), func(s *event.Snapshot) { n++; got += s.Packets }); err != nil {
		t.Fatal(err)
	}
	if most := uint64(MaxEmptyWindows + EmptyWindowsPerPacket*packets + packets); n > most || got != packets {
		t.Errorf("%d windows with %d packets; want at most %d windows with %d packets", n, got, most, packets)
	}
	lines := 0
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "jump") {
			lines++
		}
	}
	if lines != maxGapLogs+1 || !strings.Contains(logs.String(), fmt.Sprintf("more times than logged\" gaps_not_filled=%d", packets-4)) {
		t.Errorf("%d log lines about jumps, want %d:\n%s", lines, maxGapLogs+1, logs.String())
	}
}

// TestCorruptBlockAfterWindows: a damaged pcapng block in the middle of a
// capture file ends the replay with capture.ErrFormat giving its byte
// offset, after the windows of the packets before it were emitted, the
// last one flushed as partial.
func TestCorruptBlockAfterWindows(t *testing.T) {
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	var offsets []int
	for i, off := range []time.Duration{100 * ms, 1200 * ms, 2300 * ms, 3400 * ms, 4500 * ms} {
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, b.Len())
		fr := synFrame(t, net.IPv4(10, 0, 0, byte(i)), 1024)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: base.Add(off), CaptureLength: len(fr), Length: len(fr)}, fr); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	file := b.Bytes()
	at := offsets[3]
	binary.LittleEndian.PutUint32(file[at+4:], 0x00fffff0) // the fourth packet block's length
	p := filepath.Join(t.TempDir(), "damaged.pcapng")
	if err := os.WriteFile(p, file, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := New(fileConfig(p), time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := collect(t, m, context.Background())
	where := fmt.Sprintf("at byte %d (after 3 packet records)", at)
	if !errors.Is(err, capture.ErrFormat) || !strings.Contains(err.Error(), where) {
		t.Errorf("err %v, want capture.ErrFormat %s", err, where)
	}
	checkWindows(t, got, []win{
		{0, time.Second, false, 1},
		{time.Second, 2 * time.Second, false, 1},
		{2 * time.Second, 2300*ms + 1, true, 1},
	})
}

// FuzzReplayTimes replays packets at arbitrary times (any start, jumps
// forward and back) with small gap bounds. Windows come in order, each a
// period long and aligned but the last, every packet is counted once, and
// the number of windows stays within the bounds.
func FuzzReplayTimes(f *testing.F) {
	f.Add(int64(0), uint8(0), []byte{4, 0, 4, 0, 0xff, 0xff})
	f.Add(int64(math.MaxInt64), uint8(3), []byte{0, 1, 0, 2, 0, 0x80})
	f.Add(int64(math.MinInt64), uint8(200), []byte{0x10, 0x27, 0x10, 0x27, 1, 0})
	f.Add(base.UnixNano(), uint8(7), bytes.Repeat([]byte{0x90, 0x01}, 40))
	f.Fuzz(func(t *testing.T, start int64, periodCode uint8, steps []byte) {
		const gapMax, perPacket = 50, 3
		P := time.Duration(periodCode)*37*time.Millisecond + time.Millisecond
		fr := synFrame(t, net.IPv4(10, 0, 0, 1), 1024)
		src := &sliceSource{}
		at := start
		src.pkts = append(src.pkts, capture.Packet{Data: fr, Length: len(fr), Time: at, Link: capture.LinkEthernet})
		for i := 0; i+1 < len(steps) && len(src.pkts) < 200; i += 2 {
			d := int64(int16(binary.LittleEndian.Uint16(steps[i:]))) * int64(P) / 4
			if (d > 0 && at > math.MaxInt64-d) || (d < 0 && at < math.MinInt64-d) {
				d = 0
			}
			at += d
			src.pkts = append(src.pkts, capture.Packet{Data: fr, Length: len(fr), Time: at, Link: capture.LinkEthernet})
		}
		m := replayMiner(t, src, P, nil)
		defer m.Close()
		m.gapMax, m.gapPerPacket = gapMax, perPacket
		got, err := collect(t, m, context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := uint64(len(src.pkts))
		var packets uint64
		for i, s := range got {
			packets += s.Packets
			if s.Start.UnixNano()%int64(P) != 0 {
				t.Fatalf("window %d starts at %d, not a multiple of %d", i, s.Start.UnixNano(), P)
			}
			if !s.End.After(s.Start) || s.End.Sub(s.Start) > P {
				t.Fatalf("window %d: %s..%s", i, s.Start, s.End)
			}
			if i+1 < len(got) && (s.Partial || s.End.Sub(s.Start) != P || got[i+1].Start.Before(s.End)) {
				t.Fatalf("window %d: %s..%s partial %v, next starts at %s", i, s.Start, s.End, s.Partial, got[i+1].Start)
			}
		}
		if packets != n {
			t.Fatalf("%d packets counted, %d read", packets, n)
		}
		if most := n + gapMax + perPacket*n; uint64(len(got)) > most {
			t.Fatalf("%d windows for %d packets, at most %d expected", len(got), n, most)
		}
	})
}
