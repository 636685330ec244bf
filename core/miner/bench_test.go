package miner

import (
	"bytes"
	"context"
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
	"netspot/dev/mixcap"
	"netspot/dev/trafficgen"
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

// lanFrames returns n frames of the project's generated office LAN with a
// SYN scan, a DNS tunnel, ARP spoofing and a brute force in it: every
// per-host count, DNS question and ARP table at work.
func lanFrames(tb testing.TB, n int) []capture.Packet {
	tb.Helper()
	c := trafficgen.DefaultConfig()
	c.Rate, c.Hosts = 400, 40
	for _, s := range []string{"syn-scan@10s+20s", "dns-tunnel@10s+40s", "arp-spoof@5s+50s", "ssh-brute@5s+50s:rate=5", "host-scan@5s+50s:rate=5"} {
		a, err := trafficgen.ParseAttack(s)
		if err != nil {
			tb.Fatal(err)
		}
		c.Attacks = append(c.Attacks, a)
	}
	g, err := trafficgen.New(c)
	if err != nil {
		tb.Fatal(err)
	}
	var out []capture.Packet
	var p trafficgen.Packet
	for len(out) < n && g.Next(&p) {
		out = append(out, capture.Packet{Data: append([]byte(nil), p.Data...), Length: p.Length, Link: capture.LinkEthernet,
			Time: c.Start.Add(p.Offset).UnixNano()})
	}
	return out
}

// BenchmarkDecodeLAN is the per-packet path on the generated LAN: every
// counter, distinct set, per-host sketch and table. The packets' times
// move on by the capture's span at each pass, so that the per-host state
// sees time go forward.
func BenchmarkDecodeLAN(b *testing.B) {
	pkts := lanFrames(b, 1<<15)
	span := pkts[len(pkts)-1].Time - pkts[0].Time + 1
	d := newDecoder()
	w := newWindow(1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i & (len(pkts) - 1)
		if j == 0 {
			w.reset()
			if i > 0 {
				for k := range pkts {
					pkts[k].Time += span
				}
			}
		}
		d.count(&pkts[j], w)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// TestDecodeLANAllocs: the generated LAN, attacks included, decodes
// without allocating.
func TestDecodeLANAllocs(t *testing.T) {
	pkts := lanFrames(t, 1<<14)
	d := newDecoder()
	w := newWindow(1)
	for i := range pkts {
		d.count(&pkts[i], w)
	}
	span := pkts[len(pkts)-1].Time - pkts[0].Time + 1
	allocs := testing.AllocsPerRun(5, func() {
		for i := range pkts {
			pkts[i].Time += span
			d.count(&pkts[i], w)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per %d packets, want 0", allocs, len(pkts))
	}
	if c := w.counters(); c.HostFailed == 0 || c.DNSLabelLen < 63 || c.ARPUnsolicited == 0 || c.HostAuth == 0 {
		t.Errorf("the attacks are not all seen: %+v", c)
	}
}

// BenchmarkPacketKinds is the cost of one packet of each kind that the
// per-host statistics look at, against a data segment that they do not:
// a SYN to a new port of a new host (pending attempt, two recent pairs,
// two or three sketches), its SYN-ACK, a DNS query with a 63-byte label, an
// ARP reply, an ICMP echo request.
func BenchmarkPacketKinds(b *testing.B) {
	fr := frames{b}
	label := strings.Repeat("k", 63)
	for _, c := range []struct {
		name  string
		frame func(i int) []byte
	}{
		{"ack", func(i int) []byte { return fr.tcp("10.0.0.1", "10.0.0.2", 40000, 443, flagACK) }},
		{"syn", func(i int) []byte {
			return fr.tcp("10.0.0.1", "10.1."+itoa(i>>8&255)+"."+itoa(i&255), uint16(30000+i), uint16(1+i%1024), flagSYN)
		}},
		{"synack", func(i int) []byte { return fr.tcp("10.0.0.2", "10.0.0.1", 443, uint16(30000+i), flagSYN|flagACK) }},
		{"dns", func(i int) []byte {
			return fr.udp("10.0.0.1", "10.0.0.53", uint16(30000+i), 53, query(label+".t.example", 16))
		}},
		{"arp", func(i int) []byte { return fr.arp(2, macB, "10.0.0.1", "10.0.0."+itoa(i&255)) }},
		{"echo", func(i int) []byte { return fr.echo("10.0.0.1", "10.2."+itoa(i>>8&255)+"."+itoa(i&255), 56) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			const n = 4096
			pkts := make([]capture.Packet, n)
			for i := range pkts {
				f := c.frame(i)
				pkts[i] = capture.Packet{Data: f, Length: len(f), Link: capture.LinkEthernet, Time: base.UnixNano() + int64(i)*int64(time.Millisecond)}
			}
			d := newDecoder()
			w := newWindow(1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.count(&pkts[i&(n-1)], w)
			}
		})
	}
}
