package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
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

	"netspot/core/capture/filter"
)

// tcpFrame builds an Ethernet/IPv4/TCP frame to port dport.
func tcpFrame(t testing.TB, dport uint16) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 1, 2, 3, 4, 5}, DstMAC: net.HardwareAddr{6, 7, 8, 9, 10, 11}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(dport), SYN: true}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func udpFrame(t testing.TB) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{0, 1, 2, 3, 4, 5}, DstMAC: net.HardwareAddr{6, 7, 8, 9, 10, 11}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IPv4(10, 0, 0, 1), DstIP: net.IPv4(10, 0, 0, 2)}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	_ = udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload([]byte("query"))); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

type rec struct {
	data []byte
	ts   time.Time
	wire int
}

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 123456789, time.UTC)

func writePcap(t testing.TB, path string, nanos bool, lt layers.LinkType, recs []rec) {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if nanos {
		w = pcapgo.NewWriterNanos(&b)
	}
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		wire := r.wire
		if wire == 0 {
			wire = len(r.data)
		}
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: r.ts, CaptureLength: len(r.data), Length: wire}, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// gzipped compresses b.
func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

func readAll(t *testing.T, f *File) ([]Packet, error) {
	t.Helper()
	var out []Packet
	for {
		var p Packet
		err := f.Next(&p)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		p.Data = append([]byte(nil), p.Data...)
		out = append(out, p)
	}
}

func TestFileFormats(t *testing.T) {
	dir := t.TempDir()
	frames := [][]byte{tcpFrame(t, 80), udpFrame(t), tcpFrame(t, 443)}
	var recs []rec
	for i, f := range frames {
		recs = append(recs, rec{data: f, ts: t0.Add(time.Duration(i) * 1500 * time.Microsecond), wire: len(f) + 10*i})
	}
	check := func(t *testing.T, path string, link Link, wantData [][]byte, precision time.Duration) {
		f, err := OpenFile(path, "")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, err := readAll(t, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(recs) {
			t.Fatalf("%d packets, want %d", len(got), len(recs))
		}
		for i, p := range got {
			if !bytes.Equal(p.Data, wantData[i]) {
				t.Errorf("packet %d: data differs", i)
			}
			if p.Link != link {
				t.Errorf("packet %d: link %s, want %s", i, p.Link, link)
			}
			if p.Length != recs[i].wire {
				t.Errorf("packet %d: length %d, want %d", i, p.Length, recs[i].wire)
			}
			if want := recs[i].ts.Truncate(precision).UnixNano(); p.Time != want {
				t.Errorf("packet %d: time %d, want %d", i, p.Time, want)
			}
		}
		if f.BytesRead() == 0 || f.Size() == 0 {
			t.Errorf("progress: read %d of %d", f.BytesRead(), f.Size())
		}
	}
	t.Run("pcap-micro", func(t *testing.T) {
		p := filepath.Join(dir, "u.pcap")
		writePcap(t, p, false, layers.LinkTypeEthernet, recs)
		check(t, p, LinkEthernet, frames, time.Microsecond)
	})
	t.Run("pcap-nano", func(t *testing.T) {
		p := filepath.Join(dir, "n.pcap")
		writePcap(t, p, true, layers.LinkTypeEthernet, recs)
		check(t, p, LinkEthernet, frames, time.Nanosecond)
	})
	t.Run("pcap-gzip", func(t *testing.T) {
		p := filepath.Join(dir, "g.pcap")
		writePcap(t, p, true, layers.LinkTypeEthernet, recs)
		raw, _ := os.ReadFile(p)
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(raw)
		zw.Close()
		os.WriteFile(p+".gz", gz.Bytes(), 0o644)
		check(t, p+".gz", LinkEthernet, frames, time.Nanosecond)
	})
	t.Run("pcapng", func(t *testing.T) {
		p := filepath.Join(dir, "a.pcapng")
		var b bytes.Buffer
		w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: r.ts, CaptureLength: len(r.data), Length: r.wire, InterfaceIndex: 0}, r.data); err != nil {
				t.Fatal(err)
			}
		}
		w.Flush()
		os.WriteFile(p, b.Bytes(), 0o644)
		check(t, p, LinkEthernet, frames, time.Nanosecond)
	})
	// Raw IP, cooked and BSD loopback link types: the same IP packets
	// behind other headers.
	ipOnly := make([][]byte, len(frames))
	for i, f := range frames {
		ipOnly[i] = f[14:]
	}
	for _, c := range []struct {
		name string
		lt   layers.LinkType
		link Link
		wrap func(ip []byte) []byte
	}{
		{"raw101", layers.LinkTypeRaw, LinkRaw, func(ip []byte) []byte { return ip }},
		{"raw12", 12, LinkRaw, func(ip []byte) []byte { return ip }},
		{"raw14", 14, LinkRaw, func(ip []byte) []byte { return ip }},
		{"ipv4", layers.LinkTypeIPv4, LinkIPv4, func(ip []byte) []byte { return ip }},
		{"sll", layers.LinkTypeLinuxSLL, LinkSLL, func(ip []byte) []byte {
			h := make([]byte, 16)
			binary.BigEndian.PutUint16(h[14:], 0x0800)
			return append(h, ip...)
		}},
		{"sll2", layers.LinkTypeLinuxSLL2, LinkSLL2, func(ip []byte) []byte {
			h := make([]byte, 20)
			binary.BigEndian.PutUint16(h[0:], 0x0800)
			return append(h, ip...)
		}},
		{"null", layers.LinkTypeNull, LinkNull, func(ip []byte) []byte { return append([]byte{2, 0, 0, 0}, ip...) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var rs []rec
			var want [][]byte
			for i, ip := range ipOnly {
				d := c.wrap(ip)
				want = append(want, d)
				rs = append(rs, rec{data: d, ts: recs[i].ts, wire: len(d) + recs[i].wire - len(frames[i])})
			}
			p := filepath.Join(dir, c.name+".pcap")
			writePcap(t, p, true, c.lt, rs)
			saved := recs
			recs = rs
			check(t, p, c.link, want, time.Nanosecond)
			recs = saved
			// A filter means the same on every link type.
			f, err := OpenFile(p, "tcp dst port 443")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := readAll(t, f)
			if err != nil || len(got) != 1 || !bytes.Equal(got[0].Data, want[2]) {
				t.Errorf("filtered: %d packets, err %v; want only the third", len(got), err)
			}
		})
	}
}

func TestPcapngMixedLinkTypes(t *testing.T) {
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&b, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535}, pcapgo.NgWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tun, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535})
	if err != nil {
		t.Fatal(err)
	}
	wifi, _ := w.AddInterface(pcapgo.NgInterface{Name: "wlan0mon", LinkType: layers.LinkTypeIEEE80211Radio, SnapLength: 65535})
	eth := tcpFrame(t, 80)
	w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(eth), Length: len(eth), InterfaceIndex: 0}, eth)
	w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(eth) - 14, Length: len(eth) - 14, InterfaceIndex: tun}, eth[14:])
	w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: 10, Length: 10, InterfaceIndex: wifi}, make([]byte, 10))
	w.Flush()
	p := filepath.Join(t.TempDir(), "mixed.pcapng")
	os.WriteFile(p, b.Bytes(), 0o644)
	f, err := OpenFile(p, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := readAll(t, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Link != LinkEthernet || got[1].Link != LinkRaw || got[2].Link != LinkUnknown {
		t.Fatalf("links: %v", got)
	}
}

// TestPcapngSections reads two pcapng files joined end to end (cat a b), as
// a capture split in parts and put back together: each section declares
// its own interfaces, and interface 0 of the second is not that of the first.
func TestPcapngSections(t *testing.T) {
	eth := tcpFrame(t, 80)
	section := func(lt layers.LinkType, data []byte) []byte {
		var b bytes.Buffer
		w, err := pcapgo.NewNgWriterInterface(&b, pcapgo.NgInterface{Name: "if", LinkType: lt, SnapLength: 65535}, pcapgo.NgWriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(data), Length: len(data)}, data); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	joined := append(section(layers.LinkTypeEthernet, eth), section(layers.LinkTypeRaw, eth[14:])...)
	joined = append(joined, section(layers.LinkTypeEthernet, eth)...)
	p := filepath.Join(t.TempDir(), "joined.pcapng")
	if err := os.WriteFile(p, joined, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, expr := range []string{"", "tcp port 80"} {
		f, err := OpenFile(p, expr)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var links []Link
		for _, p := range got {
			links = append(links, p.Link)
		}
		if len(got) != 3 || links[0] != LinkEthernet || links[1] != LinkRaw || links[2] != LinkEthernet {
			t.Errorf("filter %q: links %v; want [Ethernet raw IP Ethernet]", expr, links)
		}
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	header := func(magic uint32, major uint16, lt uint32) []byte {
		b := make([]byte, 24)
		binary.LittleEndian.PutUint32(b[0:], magic)
		binary.LittleEndian.PutUint16(b[4:], major)
		binary.LittleEndian.PutUint16(b[6:], 4)
		binary.LittleEndian.PutUint32(b[16:], 65535)
		binary.LittleEndian.PutUint32(b[20:], lt)
		return b
	}
	cases := []struct {
		name   string
		path   string
		target error
		says   string
	}{
		{"missing", filepath.Join(dir, "nope.pcap"), ErrNotFound, "not found"},
		{"empty", write("empty.pcap", nil), ErrFormat, "empty"},
		{"short", write("short.pcap", []byte{0xd4, 0xc3}), ErrFormat, "too short"},
		{"text", write("notes.txt", []byte("hello, this is not a capture\n")), ErrFormat, "not a pcap or pcapng file"},
		{"half header", write("half.pcap", header(0xa1b2c3d4, 2, 1)[:12]), ErrFormat, "ends inside its header"},
		{"bad version", write("ver.pcap", header(0xa1b2c3d4, 9, 1)), ErrFormat, "major version"},
		{"link type", write("wifi.pcap", header(0xa1b2c3d4, 2, 105)), ErrFormat, "link type 105"},
		{"bad pcapng", write("bad.pcapng", []byte{0x0a, 0x0d, 0x0d, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8}), ErrFormat, "pcapng"},
		{"directory", dir, ErrFormat, "directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := OpenFile(c.path, "")
			if err == nil {
				f.Close()
				t.Fatal("no error")
			}
			if !errors.Is(err, c.target) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("got %v; want %v saying %q", err, c.target, c.says)
			}
		})
	}
	// A file without packets opens, then is an ErrFormat at the first
	// Next, whatever its format, and again at every later call.
	ngEmpty := func() []byte {
		var b bytes.Buffer
		w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
		if err != nil {
			t.Fatal(err)
		}
		w.Flush()
		return b.Bytes()
	}()
	oneRec := func() []byte {
		p := filepath.Join(dir, "one.pcap")
		writePcap(t, p, false, layers.LinkTypeEthernet, []rec{{data: tcpFrame(t, 80), ts: t0}})
		b, _ := os.ReadFile(p)
		return b
	}()
	for _, c := range []struct {
		name, says string
		data       []byte
	}{
		{"nopackets.pcap", "no packets (the file holds only its header)", header(0xa1b2c3d4, 2, 1)},
		{"nopackets.pcap.gz", "no packets (the file holds only its header)", gzipped(header(0xa1b2c3d4, 2, 1))},
		{"nopackets.pcapng", "no packets (the file holds no packet block)", ngEmpty},
		{"cutfirst.pcap", "no packets (the file ends inside its first packet record)", oneRec[:len(oneRec)-5]},
	} {
		f, err := OpenFile(write(c.name, c.data), "")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var p Packet
		for range 2 {
			if err := f.Next(&p); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.says) {
				t.Errorf("%s: Next = %v, want ErrFormat saying %q", c.name, err, c.says)
			}
		}
		f.Close()
	}
	// Packets that the filter leaves out are not a file without packets.
	f, err := OpenFile(write("filtered.pcap", oneRec), "udp")
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	if err := f.Next(&p); err != io.EOF {
		t.Errorf("Next on a capture whose packets the filter leaves out: %v, want io.EOF", err)
	}
	f.Close()
	// A filter that does not parse is reported before the file is read.
	if _, err := OpenFile(filepath.Join(dir, "nope.pcap"), "tcp port"); err == nil || !strings.Contains(err.Error(), "port needs a value") {
		t.Errorf("bad filter: %v", err)
	}
}

func TestFilePermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: file permissions do not apply")
	}
	p := filepath.Join(t.TempDir(), "secret.pcap")
	writePcap(t, p, false, layers.LinkTypeEthernet, nil)
	os.Chmod(p, 0)
	_, err := OpenFile(p, "")
	var pe *PermissionError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a *PermissionError", err)
	}
}

func TestTruncatedLastRecord(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cut.pcap")
	f1, f2 := tcpFrame(t, 80), tcpFrame(t, 81)
	writePcap(t, p, false, layers.LinkTypeEthernet, []rec{{data: f1, ts: t0}, {data: f2, ts: t0}})
	b, _ := os.ReadFile(p)
	for _, cut := range []int{5, len(f2), len(f2) + 10} { // inside the data, at its start, inside the record header
		os.WriteFile(p, b[:len(b)-cut], 0o644)
		f, err := OpenFile(p, "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, f)
		if err != nil || len(got) != 1 {
			t.Errorf("cut %d: %d packets, err %v; want 1 and io.EOF", cut, len(got), err)
		}
		if f.Truncated() != 1 {
			t.Errorf("cut %d: Truncated() = %d, want 1", cut, f.Truncated())
		}
		f.Close()
	}
}

func TestCorruptRecord(t *testing.T) {
	p := filepath.Join(t.TempDir(), "corrupt.pcap")
	f1 := tcpFrame(t, 80)
	writePcap(t, p, false, layers.LinkTypeEthernet, []rec{{data: f1, ts: t0}, {data: f1, ts: t0}, {data: f1, ts: t0}})
	b, _ := os.ReadFile(p)
	// Second record's capture length: 16 MiB.
	off := 24 + 16 + len(f1)
	binary.LittleEndian.PutUint32(b[off+8:], 16<<20)
	os.WriteFile(p, b, 0o644)
	f, err := OpenFile(p, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := readAll(t, f)
	if len(got) != 1 || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "record 2") {
		t.Errorf("%d packets, err %v; want 1 then ErrFormat at record 2", len(got), err)
	}
}

// FuzzOpenFile feeds arbitrary bytes as a capture file (see checkCapture).
func FuzzOpenFile(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "seed.pcap")
	writePcap(f, p, false, layers.LinkTypeEthernet, []rec{{data: tcpFrame(f, 80), ts: t0}, {data: udpFrame(f), ts: t0}})
	b, _ := os.ReadFile(p)
	f.Add(b)
	f.Add(gzipped(b))
	writePcap(f, p, true, layers.LinkTypeLinuxSLL2, []rec{{data: make([]byte, 40), ts: t0}})
	b, _ = os.ReadFile(p)
	f.Add(b)
	var ng bytes.Buffer
	w, _ := pcapgo.NewNgWriter(&ng, layers.LinkTypeEthernet)
	fr := tcpFrame(f, 22)
	w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(fr), Length: len(fr)}, fr)
	w.Flush()
	f.Add(ng.Bytes())
	f.Add(gzipped(ng.Bytes()))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0})
	f.Add(bytes.Join([][]byte{pcapHeader(40, 1), pcapRecord(1, 100, 100, make([]byte, 100))}, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCapture(t, data)
	})
}

// FuzzPcapngBlocks feeds arbitrary blocks after a valid section header and
// interface description, plain or gzip-compressed, so that the fuzzer
// works on block parsing rather than on finding a file header.
func FuzzPcapngBlocks(f *testing.F) {
	fr := tcpFrame(f, 80)
	good, _ := ngPackets(f, 2)
	head := len(ngSHBBlock()) + len(ngIDBBlock(1, 0))
	f.Add(good[head:], false)
	f.Add(good[head:], true)
	f.Add(ngIDBBlock(101, 64, ngOption(optTSResol, []byte{0x89}), ngOption(optTSOffset, make([]byte, 8))), false)
	f.Add(ngBlock(ngSPB, append([]byte{60, 0, 0, 0}, fr...)), false)
	f.Add(ngBlock(5, make([]byte, 20)), true)
	f.Add(bytes.Join([][]byte{ngSHBBlock(), ngIDBBlock(1, 0), ngEPBBlock(1, 0, 60, 60, fr)}, nil), false)
	f.Add(ngEPBBlock(0, 1, 8<<10, 8<<10, make([]byte, 8<<10)), false)
	f.Fuzz(func(t *testing.T, blocks []byte, gz bool) {
		file := bytes.Join([][]byte{ngSHBBlock(), ngIDBBlock(1, 0), blocks}, nil)
		if gz {
			file = gzipped(file)
		}
		checkCapture(t, file)
	})
}

// checkCapture reads data as a capture file. Whatever it holds, reading
// ends with an error wrapping ErrFormat or with io.EOF, never a panic; no
// packet is longer than MaxRecord; an error is returned again by every
// later Next.
func checkCapture(t *testing.T, data []byte) {
	fx, err := filter.Parse("tcp or arp")
	if err != nil {
		t.Fatal(err)
	}
	file, err := newReader("fuzz", bytes.NewReader(data), int64(len(data)), fx)
	if err != nil {
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("OpenFile: %v does not wrap ErrFormat", err)
		}
		return
	}
	defer file.Close()
	var pkt Packet
	for i := 0; i < 10000; i++ {
		err := file.Next(&pkt)
		if err != nil {
			if err != io.EOF && !errors.Is(err, ErrFormat) {
				t.Fatalf("Next: %v is neither io.EOF nor ErrFormat", err)
			}
			if again := file.Next(&pkt); again != err {
				t.Fatalf("Next after %v: %v", err, again)
			}
			return
		}
		if len(pkt.Data) > MaxRecord || pkt.Length < len(pkt.Data) {
			t.Fatalf("packet of %d bytes, %d on the wire", len(pkt.Data), pkt.Length)
		}
	}
}

// BenchmarkFileNext reads packets from a capture file in the page cache:
// a pcap file, and a pcapng file that declares two interfaces (an Ethernet
// and a raw IP one) and whose packets come from the first.
func BenchmarkFileNext(b *testing.B) {
	fr := tcpFrame(b, 80)
	recs := make([]rec, 10000)
	for i := range recs {
		recs[i] = rec{data: fr, ts: t0.Add(time.Duration(i) * time.Microsecond)}
	}
	dir := b.TempDir()
	pcap := filepath.Join(dir, "bench.pcap")
	writePcap(b, pcap, false, layers.LinkTypeEthernet, recs)
	ng := filepath.Join(dir, "bench.pcapng")
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535}, pcapgo.NgWriterOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535}); err != nil {
		b.Fatal(err)
	}
	for _, r := range recs {
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: r.ts, CaptureLength: len(r.data), Length: len(r.data)}, r.data); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(ng, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, path := range []string{pcap, ng} {
		b.Run(filepath.Ext(path)[1:], func(b *testing.B) {
			b.ReportAllocs()
			var pkt Packet
			var f *File
			for i := 0; i < b.N; i++ {
				if i%len(recs) == 0 {
					b.StopTimer()
					if f != nil {
						f.Close()
					}
					var err error
					if f, err = OpenFile(path, ""); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if err := f.Next(&pkt); err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
		})
	}
}

// A capture read from a stream (standard input): pcap, gzip-compressed
// pcap, and the errors of an empty stream and of one that is not a
// capture, named as given.
func TestOpenReader(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "in.pcap")
	writePcap(t, p, false, layers.LinkTypeEthernet, []rec{{data: tcpFrame(t, 80), ts: t0}, {data: udpFrame(t), ts: t0.Add(time.Second)}, {data: tcpFrame(t, 443), ts: t0.Add(2 * time.Second)}})
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"plain": b, "gzip": gzipped(b)} {
		// A pipe hands out the bytes a few at a time.
		f, err := OpenReader("standard input", io.MultiReader(bytes.NewReader(in[:7]), bytes.NewReader(in[7:])), "tcp")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := readAll(t, f)
		if err != nil || len(got) != 2 || f.Size() != 0 || f.Path() != "standard input" {
			t.Errorf("%s: %d packets, %v, size %d, path %q; want the 2 TCP packets", name, len(got), err, f.Size(), f.Path())
		}
		if err := f.Close(); err != nil {
			t.Errorf("%s: Close: %v", name, err)
		}
	}
	for in, want := range map[string]string{"": "standard input: unreadable capture file: the file is empty", "hello, world": "not a pcap or pcapng file"} {
		_, err := OpenReader("standard input", strings.NewReader(in), "")
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want ErrFormat with %q", in, err, want)
		}
	}
	if _, err := OpenReader("standard input", bytes.NewReader(b), "tcp[13] = 2"); err == nil {
		t.Error("a filter that does not compile was accepted")
	}
}
