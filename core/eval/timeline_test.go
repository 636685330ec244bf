package eval

import (
	"bytes"
	"errors"
	"io"
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
)

// t0 is the first packet of the test backgrounds; not on a whole second.
var t0 = time.Date(2024, 5, 6, 10, 0, 0, 250e6, time.UTC)

func synFrame(t testing.TB, src net.IP, dport uint16) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: net.IPv4(192, 168, 1, 1)}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(dport), SYN: true}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// rawUDP is an IPv4/UDP datagram without link header: 10.0.0.1:5353 ->
// 10.0.0.2:53 with 4 bytes of payload.
var rawUDP = []byte{
	0x45, 0x00, 0x00, 0x20, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
	10, 0, 0, 1, 10, 0, 0, 2,
	0x14, 0xe9, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00,
	1, 2, 3, 4,
}

// writeCapture writes a nanosecond pcap in dir with one packet per offset
// from start.
func writeCapture(t testing.TB, dir, name string, link layers.LinkType, start time.Time, frame []byte, offsets ...time.Duration) string {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriterNanos(&b)
	if err := w.WriteFileHeader(65535, link); err != nil {
		t.Fatal(err)
	}
	for _, off := range offsets {
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: start.Add(off), CaptureLength: len(frame), Length: len(frame)}, frame); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// every returns offsets 0, step, 2·step, ... below span.
func every(step, span time.Duration) []time.Duration {
	var out []time.Duration
	for d := time.Duration(0); d < span; d += step {
		out = append(out, d)
	}
	return out
}

type seen struct {
	at   time.Duration // from the timeline's start
	link capture.Link
}

func drain(t *testing.T, tl *Timeline) []seen {
	t.Helper()
	var out []seen
	var p capture.Packet
	for {
		err := tl.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, seen{at: time.Duration(p.Time - tl.start), link: p.Link})
	}
	if err := tl.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func parse(t *testing.T, dir, doc string) *Scenario {
	t.Helper()
	s, err := Parse([]byte(doc), dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTimelineLoopsAndInjects(t *testing.T) {
	dir := t.TempDir()
	syn := synFrame(t, net.IPv4(10, 0, 0, 7), 80)
	// A background of 4 packets 1 s apart: looped every 4 s (3 s of span
	// plus the mean gap of 1 s).
	writeCapture(t, dir, "bg.pcap", layers.LinkTypeEthernet, t0, syn, 0, time.Second, 2*time.Second, 3*time.Second)
	// An attack in raw IP, recorded years earlier, 3 packets over 200 ms.
	writeCapture(t, dir, "attack.pcap", layers.LinkTypeRaw, t0.AddDate(-5, 0, 0), rawUDP, 0, 100*time.Millisecond, 200*time.Millisecond)
	s := parse(t, dir, `
duration = "11s"
[[background]]
file = "bg.pcap"
[[attack]]
file = "attack.pcap"
at = "5500ms"
label = "burst"
volumetric = true
`)
	tl, err := Build(s, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Truncate(time.Second); !tl.Start().Equal(want) || !tl.End().Equal(want.Add(11*time.Second)) {
		t.Errorf("timeline %s to %s, want from %s (the first background's whole second) for 11s", tl.Start(), tl.End(), want)
	}
	w := tl.Attacks()
	if len(w) != 1 || w[0].Label != "burst" || !w[0].Volumetric || w[0].Packets != 3 ||
		!w[0].Start.Equal(tl.Start().Add(5500*time.Millisecond)) || !w[0].End.Equal(tl.Start().Add(5700*time.Millisecond)) {
		t.Errorf("attack windows %+v", w)
	}
	got := drain(t, tl)
	ms := time.Millisecond
	want := []seen{
		{250 * ms, capture.LinkEthernet}, {1250 * ms, capture.LinkEthernet}, {2250 * ms, capture.LinkEthernet}, {3250 * ms, capture.LinkEthernet},
		{4250 * ms, capture.LinkEthernet}, {5250 * ms, capture.LinkEthernet},
		{5500 * ms, capture.LinkRaw}, {5600 * ms, capture.LinkRaw}, {5700 * ms, capture.LinkRaw},
		{6250 * ms, capture.LinkEthernet}, {7250 * ms, capture.LinkEthernet},
		{8250 * ms, capture.LinkEthernet}, {9250 * ms, capture.LinkEthernet}, {10250 * ms, capture.LinkEthernet},
	}
	if len(got) != len(want) {
		t.Fatalf("%d packets, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d at %s (%s), want %s (%s)", i, got[i].at, got[i].link, want[i].at, want[i].link)
		}
	}
	if loops := tl.Loops(); len(loops) != 1 || loops[0] != 3 {
		t.Errorf("background started %v times, want 3", loops)
	}
	if links := tl.Links(); len(links) != 2 {
		t.Errorf("links %v, want Ethernet and raw IP", links)
	}
}

func TestTimelineClipFilterAndSeveralBackgrounds(t *testing.T) {
	dir := t.TempDir()
	syn := synFrame(t, net.IPv4(10, 0, 0, 7), 80)
	writeCapture(t, dir, "a.pcap", layers.LinkTypeEthernet, t0, syn, every(time.Second, 10*time.Second)...)
	writeCapture(t, dir, "b.pcap", layers.LinkTypeRaw, t0.Add(time.Hour+300*time.Millisecond), rawUDP, 0, 2*time.Second)
	s := parse(t, dir, `
duration = "6s"
[[background]]
file = "a.pcap"
from = "2s"
to = "4s"    # packets at 2 s and 3 s: looped every 2 s
[[background]]
file = "b.pcap"
[[attack]]
file = "a.pcap"
filter = "udp"
at = "1s"
`)
	if _, err := Build(s, ""); err == nil || !strings.Contains(err.Error(), `attack "a"`) || !strings.Contains(err.Error(), "no packets to inject") {
		t.Errorf("an attack left empty by its filter: %v", err)
	}
	s.Attack = nil
	tl, err := Build(s, "")
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, tl)
	ms := time.Millisecond
	// The timeline starts at the whole second of a's first clipped packet
	// (rel 2 s): a gives 0.25 and 1.25, looped every 2 s. b lands on the
	// same whole second, keeping its sub-second part: 0.55 and 2.55,
	// looped every 4 s.
	want := []time.Duration{250 * ms, 550 * ms, 1250 * ms, 2250 * ms, 2550 * ms, 3250 * ms, 4250 * ms, 4550 * ms, 5250 * ms}
	if len(got) != len(want) {
		t.Fatalf("packets at %v, want %v", got, want)
	}
	for i := range want {
		if got[i].at != want[i] {
			t.Errorf("packet %d at %s, want %s", i, got[i].at, want[i])
		}
	}
	// The miner's filter applies to every capture: "udp" leaves nothing
	// of the TCP background, which is an error naming it.
	if _, err := Build(s, "udp"); err == nil || !strings.Contains(err.Error(), "background[0]: a.pcap: 0 packets") {
		t.Errorf("a background emptied by the miner filter: %v", err)
	}
}

func TestTimelineErrorsNameTheEntry(t *testing.T) {
	dir := t.TempDir()
	syn := synFrame(t, net.IPv4(10, 0, 0, 7), 80)
	writeCapture(t, dir, "bg.pcap", layers.LinkTypeEthernet, t0, syn, every(time.Second, time.Minute)...)
	writeCapture(t, dir, "scan.pcap", layers.LinkTypeEthernet, t0, syn, every(100*time.Millisecond, 20*time.Second)...)
	writeCapture(t, dir, "one.pcap", layers.LinkTypeEthernet, t0, syn, 0)
	if err := os.WriteFile(filepath.Join(dir, "garbage.pcap"), []byte("this is not a capture file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt, _ := os.ReadFile(filepath.Join(dir, "bg.pcap"))
	// The 3rd record claims 1 GB of data.
	copy(corrupt[24+2*(16+len(syn))+8:], []byte{0, 0, 0, 0x40})
	if err := os.WriteFile(filepath.Join(dir, "corrupt.pcap"), corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	const head = "duration = \"10m\"\n[[background]]\nfile = \"bg.pcap\"\n"
	cases := []struct {
		name, doc string
		want      []string
		is        error
	}{
		{"missing background", "duration = \"10m\"\n[[background]]\nfile = \"nope.pcap\"\n", []string{"s.toml:2: background[0]", "nope.pcap"}, capture.ErrNotFound},
		{"missing attack", head + "[[attack]]\nfile = \"gone.pcap\"\nat = \"5m\"\n", []string{"s.toml:4: attack \"gone\"", "gone.pcap"}, capture.ErrNotFound},
		{"unreadable", head + "[[attack]]\nfile = \"garbage.pcap\"\nat = \"5m\"\n", []string{"s.toml:4: attack \"garbage\"", "not a pcap or pcapng file"}, capture.ErrFormat},
		{"corrupt", head + "[[attack]]\nfile = \"corrupt.pcap\"\nat = \"5m\"\n", []string{"attack \"corrupt\"", "record 3"}, capture.ErrFormat},
		{"one-packet background", "duration = \"10m\"\n[[background]]\nfile = \"one.pcap\"\n", []string{"background[0]", "1 packets"}, nil},
		{"past the end", head + "[[attack]]\nfile = \"scan.pcap\"\nat = \"9m50s\"\n", []string{"s.toml:4: attack \"scan\"", "its packets span 19.9s from at = 9m50s, past the end of the 10m0s timeline"}, nil},
		{"overlap", head + "[[attack]]\nfile = \"scan.pcap\"\nat = \"5m\"\n[[attack]]\nfile = \"one.pcap\"\nlabel = \"probe\"\nat = \"5m10s\"\n",
			[]string{"s.toml:7: attack \"probe\"", "overlaps that of attack \"scan\" (5m0s to 5m19.9s)"}, nil},
		{"overlap by end", head + "[[attack]]\nfile = \"one.pcap\"\nat = \"5m\"\nend = \"6m\"\nlabel = \"long\"\n[[attack]]\nfile = \"scan.pcap\"\nat = \"5m30s\"\n",
			[]string{"attack \"scan\"", "overlaps that of attack \"long\""}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "s.toml")
			if err := os.WriteFile(path, []byte(c.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Build(s, "")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q does not wrap %v", err, c.is)
			}
		})
	}
}
