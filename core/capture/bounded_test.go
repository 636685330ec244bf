package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Byte-level builders for capture files, so that tests can write what no
// well-behaved writer would: absurd lengths, damaged blocks, odd options.

// pcapHeader is a little-endian microsecond pcap file header.
func pcapHeader(snaplen, dlt uint32) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(b[4:], 2)
	binary.LittleEndian.PutUint16(b[6:], 4)
	binary.LittleEndian.PutUint32(b[16:], snaplen)
	binary.LittleEndian.PutUint32(b[20:], dlt)
	return b
}

// pcapRecord is a record header declaring caplen bytes, followed by data.
func pcapRecord(sec, caplen, wire uint32, data []byte) []byte {
	b := make([]byte, 16, 16+len(data))
	binary.LittleEndian.PutUint32(b[0:], sec)
	binary.LittleEndian.PutUint32(b[8:], caplen)
	binary.LittleEndian.PutUint32(b[12:], wire)
	return append(b, data...)
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// ngBlock is a little-endian pcapng block of type typ around body.
func ngBlock(typ uint32, body []byte) []byte {
	body = pad4(append([]byte(nil), body...))
	n := uint32(12 + len(body))
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint32(b, n)
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, n)
}

func ngSHBBlock() []byte {
	body := binary.LittleEndian.AppendUint32(nil, ngMagic)
	body = binary.LittleEndian.AppendUint16(body, 1)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint64(body, ^uint64(0))
	return ngBlock(ngSHB, body)
}

// ngOption is one option: code, length, value padded to 4 bytes.
func ngOption(code uint16, value []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(value)))
	return pad4(append(b, value...))
}

func ngIDBBlock(dlt uint16, snaplen uint32, opts ...[]byte) []byte {
	body := binary.LittleEndian.AppendUint16(nil, dlt)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint32(body, snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, ngOption(optEnd, nil)...)
	}
	return ngBlock(ngIDB, body)
}

// ngEPBBlock is an enhanced packet block declaring caplen bytes and holding data.
func ngEPBBlock(iface uint32, ts uint64, caplen, wire uint32, data []byte) []byte {
	body := binary.LittleEndian.AppendUint32(nil, iface)
	body = binary.LittleEndian.AppendUint32(body, uint32(ts>>32))
	body = binary.LittleEndian.AppendUint32(body, uint32(ts))
	body = binary.LittleEndian.AppendUint32(body, caplen)
	body = binary.LittleEndian.AppendUint32(body, wire)
	return ngBlock(ngEPB, append(body, data...))
}

// ngPackets is a pcapng file of one Ethernet interface and n packets, one
// millisecond apart, and the offset of each packet block.
func ngPackets(t testing.TB, n int) ([]byte, []int) {
	fr := tcpFrame(t, 80)
	b := append(ngSHBBlock(), ngIDBBlock(1, 0)...)
	var offs []int
	for i := range n {
		offs = append(offs, len(b))
		ts := uint64(t0.UnixMicro()) + uint64(i)*1000
		b = append(b, ngEPBBlock(0, ts, uint32(len(fr)), uint32(len(fr)), fr)...)
	}
	return b, offs
}

func writeFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// allocated runs fn and returns the bytes it allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// readUntilError reads a file to its end and returns the packets and the
// last error (nil at a clean end).
func readUntilError(t *testing.T, path string) (n int, data [][]byte, err error) {
	t.Helper()
	f, err := OpenFile(path, "")
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	var p Packet
	for {
		err := f.Next(&p)
		if err == io.EOF {
			return n, data, nil
		}
		if err != nil {
			return n, data, err
		}
		n++
		data = append(data, append([]byte(nil), p.Data...))
	}
}

// TestMemoryBombs: a file declaring a huge record or block costs no more
// memory than any other file. Each case is read whole (packets, then the
// error); what it allocates is bounded by the read buffers, not by what
// the file declares or holds.
func TestMemoryBombs(t *testing.T) {
	const budget = 2 << 20 // read buffers (about 0.4 MiB) and a gzip decompressor, with room
	fr := tcpFrame(t, 80)
	zeros := make([]byte, 8<<20)
	ng := append(ngSHBBlock(), ngIDBBlock(1, 0)...)
	cases := []struct {
		name    string
		file    []byte
		packets int
		says    string // "" when the file reads to its end without error
	}{
		{"pcap gzip record of 1 GiB", gzipped(bytes.Join([][]byte{
			pcapHeader(1<<31, 1), pcapRecord(1, uint32(len(fr)), uint32(len(fr)), fr),
			pcapRecord(2, 1<<30, 1<<30, zeros)}, nil)),
			1, "record 2 at byte 100 of the decompressed data (after 1 packet record): capture length 1073741824 exceeds 262144"},
		{"pcap record of 300 MB", bytes.Join([][]byte{
			pcapHeader(0, 1), pcapRecord(1, uint32(len(fr)), uint32(len(fr)), fr),
			pcapRecord(2, 300<<20, 300<<20, zeros)}, nil),
			1, "record 2 at byte 100 (after 1 packet record): capture length 314572800 exceeds 262144"},
		{"pcap record of 4 GiB", bytes.Join([][]byte{pcapHeader(0, 1), pcapRecord(1, ^uint32(0), ^uint32(0), zeros)}, nil),
			0, "record 1 at byte 24 (after 0 packet records): capture length 4294967295 exceeds"},
		{"pcapng block of 1 GiB", bytes.Join([][]byte{ng,
			ngEPBBlock(0, 1, uint32(len(fr)), uint32(len(fr)), fr),
			binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, ngEPB), 1<<30), zeros}, nil),
			1, "enhanced packet block at byte 140 (after 1 packet record): block length 1073741824 exceeds 16777216"},
		{"pcapng gzip block of 1 GiB", gzipped(bytes.Join([][]byte{ng,
			binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0x0bad), 1<<30), zeros}, nil)),
			0, "block of type 0xbad at byte 48 of the decompressed data (after 0 packet records): block length 1073741824 exceeds"},
		// libpcap reads a packet block of up to 16 MiB, keeping the
		// snapshot length: so does netspot, without holding the block.
		{"pcapng packet of 8 MiB", bytes.Join([][]byte{ng,
			ngEPBBlock(0, 1, 8<<20, 8<<20, zeros),
			ngEPBBlock(0, 2, uint32(len(fr)), uint32(len(fr)), fr)}, nil),
			2, ""},
		// An interface description block of 16 MiB, mostly options.
		{"pcapng options of 16 MiB", bytes.Join([][]byte{ng,
			ngIDBBlock(1, 0, bytes.Repeat(ngOption(2, make([]byte, 65532)), 255)),
			ngEPBBlock(1, 2, uint32(len(fr)), uint32(len(fr)), fr)}, nil),
			1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "bomb.pcap"
			if c.file[0] == 0x1f {
				name += ".gz"
			}
			p := writeFile(t, name, c.file)
			var (
				n    int
				data [][]byte
				err  error
			)
			alloc := allocated(func() { n, data, err = readUntilError(t, p) })
			if n != c.packets {
				t.Errorf("%d packets, want %d", n, c.packets)
			}
			switch {
			case c.says == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case c.says != "" && (!errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.says)):
				t.Errorf("error %v, want ErrFormat saying %q", err, c.says)
			}
			for _, d := range data {
				if len(d) > MaxRecord {
					t.Errorf("a packet of %d bytes kept", len(d))
				}
			}
			t.Logf("allocated %d bytes", alloc)
			if alloc > budget {
				t.Errorf("reading allocated %d bytes, want at most %d", alloc, budget)
			}
		})
	}
	// The 8 MiB packet is kept up to libpcap's maximum snapshot length,
	// with its length on the wire.
	p := writeFile(t, "big.pcapng", bytes.Join([][]byte{ng, ngEPBBlock(0, 1, 8<<20, 9<<20, zeros)}, nil))
	f, err := OpenFile(p, "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pkt Packet
	if err := f.Next(&pkt); err != nil || len(pkt.Data) != MaxRecord || pkt.Length != 9<<20 {
		t.Errorf("8 MiB packet: %d bytes of %d, err %v; want %d of %d", len(pkt.Data), pkt.Length, err, MaxRecord, 9<<20)
	}
}

// TestSnaplenCaps: of a record longer than the snapshot length its file or
// interface declares, the first snapshot-length bytes are kept, as libpcap
// does, and the next record is read where it starts.
func TestSnaplenCaps(t *testing.T) {
	fr := tcpFrame(t, 80)
	long := append(append([]byte(nil), fr...), bytes.Repeat([]byte{0xee}, 100)...)
	check := func(t *testing.T, path string) {
		f, err := OpenFile(path, "")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		got, err := readAll(t, f)
		if err != nil || len(got) != 2 {
			t.Fatalf("%d packets, err %v", len(got), err)
		}
		if !bytes.Equal(got[0].Data, long[:40]) || got[0].Length != len(long)+4 {
			t.Errorf("long record: %d bytes kept of %d; want the first 40 of %d", len(got[0].Data), got[0].Length, len(long)+4)
		}
		if !bytes.Equal(got[1].Data, fr[:40]) {
			t.Errorf("next record: % x", got[1].Data)
		}
	}
	t.Run("pcap", func(t *testing.T) {
		check(t, writeFile(t, "snap.pcap", bytes.Join([][]byte{pcapHeader(40, 1),
			pcapRecord(1, uint32(len(long)), uint32(len(long)+4), long),
			pcapRecord(2, uint32(len(fr)), uint32(len(fr)), fr)}, nil)))
	})
	t.Run("pcapng", func(t *testing.T) {
		check(t, writeFile(t, "snap.pcapng", bytes.Join([][]byte{ngSHBBlock(), ngIDBBlock(1, 40),
			ngEPBBlock(0, 1, uint32(len(long)), uint32(len(long)+4), long),
			ngEPBBlock(0, 2, uint32(len(fr)), uint32(len(fr)), fr)}, nil)))
	})
}

// TestCorruptPcapngBlock: a damaged block in the middle of a pcapng file
// is an ErrFormat that gives the block's byte offset, after the packets
// before it; it is never taken as the end of the file.
func TestCorruptPcapngBlock(t *testing.T) {
	good, offs := ngPackets(t, 6)
	at := offs[3] // the fourth packet block
	n := int(binary.LittleEndian.Uint32(good[at+4:]))
	put := func(off int, v uint32) func(b []byte) {
		return func(b []byte) { binary.LittleEndian.PutUint32(b[at+off:], v) }
	}
	cases := []struct {
		name   string
		damage func(b []byte)
		says   string
	}{
		{"length not a multiple of 4", put(4, uint32(n+2)), fmt.Sprintf("block length %d is not a multiple of 4", n+2)},
		{"huge length", put(4, 0xdeadbeec), "block length 3735928556 exceeds 16777216"},
		{"length shorter than the fixed fields", put(4, 16), "block length 16 is shorter than the 32 bytes"},
		{"length longer", put(4, uint32(n+4)), fmt.Sprintf("block length %d at its start but 6 at its end", n+4)},
		{"length shorter", put(4, uint32(n-4)), fmt.Sprintf("captured length 60 does not fit in a block of %d bytes", n-4)},
		{"length shorter, by more than the options", put(4, uint32(n-64)), fmt.Sprintf("block length %d is shorter than the 32 bytes", n-64)},
		{"length past the end of the file", put(4, uint32(n+4096)), fmt.Sprintf("block length %d at its start but %d at the end of its packet", n+4096, n)},
		{"length beyond the options allowed", put(4, uint32(n+200000)), fmt.Sprintf("block length %d leaves 200000 bytes after its packet of 60 bytes; at most 131072", n+200000)},
		{"trailing length", put(n-4, 7), fmt.Sprintf("block length %d at its start but 7 at its end", n)},
		{"zeroed", func(b []byte) { clear(b[at : at+32]) }, "block of type 0x0 at byte"},
		{"unknown interface", put(8, 5), "packet of interface 5, but the section declares 1 interfaces"},
		{"captured length larger than the block", put(20, 1000), fmt.Sprintf("captured length 1000 does not fit in a block of %d bytes", n)},
	}
	for _, c := range cases {
		b := append([]byte(nil), good...)
		c.damage(b)
		for _, gz := range []bool{false, true} {
			name, file, where := c.name, b, fmt.Sprintf("at byte %d (after 3 packet records)", at)
			if gz {
				name, file, where = name+" (gzip)", gzipped(b), fmt.Sprintf("at byte %d of the decompressed data (after 3 packet records)", at)
			}
			t.Run(name, func(t *testing.T) {
				n, _, err := readUntilError(t, writeFile(t, "damaged.pcapng", file))
				if n != 3 || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), where) || !strings.Contains(err.Error(), c.says) {
					t.Errorf("%d packets, err %v; want 3, then ErrFormat %s saying %q", n, err, where, c.says)
				}
			})
		}
	}
	// Damage to a block netspot skips (statistics, name resolution, or a
	// type it does not know) is found all the same.
	stats := ngBlock(5, make([]byte, 20))
	binary.LittleEndian.PutUint32(stats[len(stats)-4:], 99)
	b := bytes.Join([][]byte{good[:at], stats, good[at:]}, nil)
	if n, _, err := readUntilError(t, writeFile(t, "stats.pcapng", b)); n != 3 || !errors.Is(err, ErrFormat) ||
		!strings.Contains(err.Error(), fmt.Sprintf("block of type 0x5 at byte %d", at)) {
		t.Errorf("damaged statistics block: %d packets, err %v", n, err)
	}
	// Undamaged, those blocks are skipped.
	stats = ngBlock(5, make([]byte, 20))
	b = bytes.Join([][]byte{good[:at], stats, ngBlock(0x0bad, []byte("custom")), good[at:]}, nil)
	if n, _, err := readUntilError(t, writeFile(t, "stats.pcapng", b)); n != 6 || err != nil {
		t.Errorf("statistics and unknown blocks: %d packets, err %v; want 6", n, err)
	}
}

// TestCorruptPcapRecord: a damaged record in the middle of a pcap file is
// an ErrFormat with its number and byte offset, after the packets before it.
func TestCorruptPcapRecord(t *testing.T) {
	fr := tcpFrame(t, 80)
	var recs [][]byte
	for i := range 5 {
		recs = append(recs, pcapRecord(uint32(i), uint32(len(fr)), uint32(len(fr)), fr))
	}
	b := bytes.Join(append([][]byte{pcapHeader(65535, 1)}, recs...), nil)
	at := 24 + 3*len(recs[0])
	binary.LittleEndian.PutUint32(b[at+8:], 0x41414141) // the fourth record's capture length
	for _, gz := range []bool{false, true} {
		file, where := b, fmt.Sprintf("record 4 at byte %d (after 3 packet records)", at)
		if gz {
			file, where = gzipped(b), fmt.Sprintf("record 4 at byte %d of the decompressed data", at)
		}
		n, _, err := readUntilError(t, writeFile(t, "damaged.pcap", file))
		if n != 3 || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), where) {
			t.Errorf("gzip %v: %d packets, err %v; want 3, then ErrFormat at %q", gz, n, err, where)
		}
	}
}

// TestCutPcapng: a pcapng file cut anywhere in its last block is read to
// the cut, which is counted, and ends without error; so is a gzip stream
// cut short.
func TestCutPcapng(t *testing.T) {
	good, offs := ngPackets(t, 4)
	last := offs[3]
	for _, cut := range []int{last + 3, last + 8, last + 20, last + 40, len(good) - 2} {
		f, err := OpenFile(writeFile(t, "cut.pcapng", good[:cut]), "")
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, f)
		if len(got) != 3 || err != nil || f.Truncated() != 1 {
			t.Errorf("cut at %d: %d packets, err %v, truncated %d; want 3, none, 1", cut, len(got), err, f.Truncated())
		}
		f.Close()
	}
	z := gzipped(good)
	f, err := OpenFile(writeFile(t, "cut.pcapng.gz", z[:len(z)-12]), "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, err := readAll(t, f); err != nil || f.Truncated() != 1 || len(got) > 4 {
		t.Errorf("cut gzip stream: %d packets, err %v, truncated %d", len(got), err, f.Truncated())
	}
}

// TestCorruptGzip: damaged compressed data or a wrong checksum is an
// ErrFormat, never a clean end.
func TestCorruptGzip(t *testing.T) {
	good, _ := ngPackets(t, 200)
	z := gzipped(good)
	checksum := append([]byte(nil), z...)
	checksum[len(checksum)-8] ^= 0xff
	n, _, err := readUntilError(t, writeFile(t, "sum.pcapng.gz", checksum))
	if n != 200 || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "gzip data") {
		t.Errorf("wrong checksum: %d packets, err %v; want 200, then ErrFormat", n, err)
	}
	damaged := append([]byte(nil), z...)
	for i := len(z) / 2; i < len(z)/2+16; i++ {
		damaged[i] ^= 0x55
	}
	if _, _, err := readUntilError(t, writeFile(t, "bad.pcapng.gz", damaged)); !errors.Is(err, ErrFormat) {
		t.Errorf("damaged compressed data: err %v, want ErrFormat", err)
	}
}

// TestGzipPcapng: a gzip-compressed pcapng file reads as the plain one.
func TestGzipPcapng(t *testing.T) {
	good, _ := ngPackets(t, 5)
	_, want, err := readUntilError(t, writeFile(t, "a.pcapng", good))
	if err != nil {
		t.Fatal(err)
	}
	n, got, err := readUntilError(t, writeFile(t, "a.pcapng.gz", gzipped(good)))
	if err != nil || n != 5 || !bytes.Equal(bytes.Join(got, nil), bytes.Join(want, nil)) {
		t.Errorf("gzip pcapng: %d packets, err %v", n, err)
	}
}

// TestPcapngTimestamps: if_tsresol (powers of 10 and 2) and if_tsoffset
// are applied; a timestamp beyond any plausible date is bounded.
func TestPcapngTimestamps(t *testing.T) {
	fr := tcpFrame(t, 80)
	epb := func(iface uint32, ts uint64) []byte {
		return ngEPBBlock(iface, ts, uint32(len(fr)), uint32(len(fr)), fr)
	}
	offset := binary.LittleEndian.AppendUint64(nil, 1000)
	b := bytes.Join([][]byte{ngSHBBlock(),
		ngIDBBlock(1, 0), // microseconds
		ngIDBBlock(1, 0, ngOption(optTSResol, []byte{9})),    // nanoseconds
		ngIDBBlock(1, 0, ngOption(optTSResol, []byte{0x83})), // 1/8 s
		ngIDBBlock(1, 0, ngOption(optTSOffset, offset)),      // µs, +1000 s
		ngIDBBlock(1, 0, ngOption(optTSResol, []byte{0})),    // seconds
		epb(0, 1_700_000_000_123_456), epb(1, 1_700_000_000_123_456_789),
		epb(2, 1_700_000_000*8+3), epb(3, 5_000_001), epb(4, ^uint64(0)),
	}, nil)
	f, err := OpenFile(writeFile(t, "ts.pcapng", b), "")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := readAll(t, f)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{1_700_000_000_123_456_000, 1_700_000_000_123_456_789, 1_700_000_000_375_000_000, 1_005_000_001_000, maxTime * 1e9}
	for i, p := range got {
		if p.Time != want[i] {
			t.Errorf("packet %d: time %d, want %d", i, p.Time, want[i])
		}
	}
	// A resolution finer than 64 bits can count is a corrupt interface.
	b = bytes.Join([][]byte{ngSHBBlock(), ngIDBBlock(1, 0, ngOption(optTSResol, []byte{20})), epb(0, 1)}, nil)
	if _, _, err := readUntilError(t, writeFile(t, "res.pcapng", b)); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "timestamp resolution") {
		t.Errorf("resolution 10^-20: %v", err)
	}
}

// TestPcapngSectionsAndInterfaces: a big-endian section after a
// little-endian one, simple and obsolete packet blocks, an option that
// overruns its block, and too many interfaces.
func TestPcapngSectionsAndInterfaces(t *testing.T) {
	fr := tcpFrame(t, 80)
	// A big-endian section: every field swapped.
	be := func(typ uint32, body []byte) []byte {
		n := uint32(12 + len(body))
		b := binary.BigEndian.AppendUint32(nil, typ)
		b = binary.BigEndian.AppendUint32(b, n)
		b = append(b, body...)
		return binary.BigEndian.AppendUint32(b, n)
	}
	shb := binary.BigEndian.AppendUint32(nil, ngMagic)
	shb = binary.BigEndian.AppendUint16(shb, 1)
	shb = binary.BigEndian.AppendUint16(shb, 0)
	shb = binary.BigEndian.AppendUint64(shb, ^uint64(0))
	idb := binary.BigEndian.AppendUint16(nil, 101) // raw IP
	idb = binary.BigEndian.AppendUint16(idb, 0)
	idb = binary.BigEndian.AppendUint32(idb, 0)
	spb := pad4(append(binary.BigEndian.AppendUint32(nil, uint32(len(fr)-14)), fr[14:]...))
	pb := binary.BigEndian.AppendUint16(nil, 0) // interface
	pb = binary.BigEndian.AppendUint16(pb, 0)   // drops
	pb = binary.BigEndian.AppendUint64(pb, 0)
	pb = binary.BigEndian.AppendUint32(pb, uint32(len(fr)-14))
	pb = binary.BigEndian.AppendUint32(pb, uint32(len(fr)-14))
	pb = pad4(append(pb, fr[14:]...))
	little, _ := ngPackets(t, 1)
	b := bytes.Join([][]byte{little, be(ngSHB, shb), be(ngIDB, idb), be(ngSPB, spb), be(ngPB, pb)}, nil)
	f, err := OpenFile(writeFile(t, "be.pcapng", b), "tcp port 80")
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, f)
	f.Close()
	if err != nil || len(got) != 3 || got[0].Link != LinkEthernet || got[1].Link != LinkRaw || got[2].Link != LinkRaw ||
		!bytes.Equal(got[2].Data, fr[14:]) {
		t.Fatalf("%d packets %v, err %v", len(got), got, err)
	}

	// A packet before any interface, an option running past its block.
	for _, c := range []struct {
		name string
		file []byte
		says string
	}{
		{"no interface", bytes.Join([][]byte{ngSHBBlock(), ngBlock(ngSPB, pad4(append([]byte{60, 0, 0, 0}, fr...)))}, nil), "a packet before any interface"},
		{"option overrun", func() []byte {
			idb := ngIDBBlock(1, 0, ngOption(2, []byte("eth0")))
			binary.LittleEndian.PutUint16(idb[18:], 200) // the option's length
			return bytes.Join([][]byte{ngSHBBlock(), idb}, nil)
		}(), "option 2 of 200 bytes runs past the end of the block"},
		{"too many interfaces", bytes.Join([][]byte{ngSHBBlock(), bytes.Repeat(ngIDBBlock(1, 0), MaxInterfaces+1)}, nil),
			fmt.Sprintf("more than %d interfaces in one section", MaxInterfaces)},
		{"version 2", func() []byte {
			b := ngSHBBlock()
			binary.LittleEndian.PutUint16(b[12:], 2)
			return b
		}(), "unsupported pcapng major version 2"},
	} {
		if _, _, err := readUntilError(t, writeFile(t, "x.pcapng", c.file)); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want ErrFormat saying %q", c.name, err, c.says)
		}
	}
}
