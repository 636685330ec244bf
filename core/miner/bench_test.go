package miner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/core/capture"
	"netspot/core/event"
	"netspot/dev/mixcap"
)

// mixedFrames returns n frames of a plausible mix (dev/mixcap).
func mixedFrames(tb testing.TB, n int) [][]byte {
	tb.Helper()
	frames, err := mixcap.Frames(1, n)
	if err != nil {
		tb.Fatal(err)
	}
	return frames
}

// BenchmarkDecode is the per-packet path: decode one frame of the mix and
// update every counter and distinct set.
func BenchmarkDecode(b *testing.B) {
	frames := mixedFrames(b, 4096)
	pkts := make([]capture.Packet, len(frames))
	for i, f := range frames {
		pkts[i] = capture.Packet{Data: f, Length: len(f), Link: capture.LinkEthernet}
	}
	d := newDecoder()
	w := newWindow(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i&0xffff == 0 {
			w.reset()
		}
		d.count(&pkts[i&4095], w)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// writeMixed writes n mixed frames over span into a pcap at path.
func writeMixed(tb testing.TB, path string, n int, span time.Duration) {
	tb.Helper()
	frames := mixedFrames(tb, 4096)
	var buf bytes.Buffer
	w := pcapgo.NewWriterNanos(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		tb.Fatal(err)
	}
	step := span / time.Duration(n)
	for i := 0; i < n; i++ {
		f := frames[i%len(frames)]
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * step), CaptureLength: len(f), Length: len(f)}, f); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkReplay replays a 200,000-packet capture (page cache) through the
// whole miner with 1 s windows: read, decode, count, emit. One op is one
// packet.
func BenchmarkReplay(b *testing.B) {
	const n = 200000
	path := filepath.Join(b.TempDir(), "replay.pcap")
	writeMixed(b, path, n, 20*time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	done := 0
	for done < b.N {
		m, err := New(fileConfig(path), time.Second, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Run(context.Background(), func(*event.Snapshot) {}); err != nil {
			b.Fatal(err)
		}
		m.Close()
		done += n
	}
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "packets/s")
	b.ReportMetric(0, "ns/op")
}

// TestDecodeAllocs checks that decoding the mix allocates nothing once
// the layers have seen every kind of packet.
func TestDecodeAllocs(t *testing.T) {
	frames := mixedFrames(t, 1024)
	d := newDecoder()
	w := newWindow(1)
	pkts := make([]capture.Packet, len(frames))
	for i, f := range frames {
		pkts[i] = capture.Packet{Data: f, Length: len(f), Link: capture.LinkEthernet}
		d.count(&pkts[i], w)
	}
	allocs := testing.AllocsPerRun(10, func() {
		for i := range pkts {
			d.count(&pkts[i], w)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per %d packets, want 0", allocs, len(pkts))
	}
}
