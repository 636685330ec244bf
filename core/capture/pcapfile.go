package capture

import (
	"encoding/binary"
	"fmt"
	"io"
)

// pcapHdr is what a pcap file header says.
type pcapHdr struct {
	bo    binary.ByteOrder
	nanos bool
	snap  int // snapshot length, adjusted as libpcap does
	dlt   uint32
	link  Link
}

// readPcapHeader reads the 24-byte pcap file header.
func (f *File) readPcapHeader() error {
	b, err := f.s.peek(24)
	if err != nil {
		return headerError(err)
	}
	h := &f.pcap
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4:
		h.bo = binary.LittleEndian
	case 0xa1b23c4d:
		h.bo, h.nanos = binary.LittleEndian, true
	case 0xd4c3b2a1:
		h.bo = binary.BigEndian
	case 0x4d3cb2a1:
		h.bo, h.nanos = binary.BigEndian, true
	}
	if major := h.bo.Uint16(b[4:]); major != 2 {
		return fmt.Errorf("unsupported major version %d (pcap files are version 2)", major)
	}
	h.snap = adjustSnaplen(h.bo.Uint32(b[16:]))
	// The upper 16 bits of the field hold FCS flags (libpcap's LT_LINKTYPE).
	h.dlt = h.bo.Uint32(b[20:]) & 0xffff
	return f.s.skip(24)
}

// nextRecord reads the next pcap record. A record longer than MaxRecord is
// corrupt (libpcap refuses it too); of a record longer than the file's
// snapshot length, the first snapshot-length bytes are kept and the rest
// is skipped, as libpcap does.
func (f *File) nextRecord(r *rawPacket) error {
	start := f.s.off
	h, err := f.s.peek(16)
	switch {
	case err == io.EOF:
		return io.EOF
	case err == io.ErrUnexpectedEOF:
		return f.cut()
	case err != nil:
		return f.readFailed(f.recordName(), start, err)
	}
	bo := f.pcap.bo
	sec, frac := bo.Uint32(h[0:]), bo.Uint32(h[4:])
	caplen, wire := bo.Uint32(h[8:]), bo.Uint32(h[12:])
	if caplen > MaxRecord {
		return f.corrupt(f.recordName(), start, "capture length %d exceeds %d bytes, the largest record libpcap reads", caplen, MaxRecord)
	}
	n := 16 + int(caplen)
	b, err := f.s.peek(n)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return f.cut()
	case err != nil:
		return f.readFailed(f.recordName(), start, err)
	}
	keep := min(int(caplen), f.pcap.snap)
	r.data = b[16 : 16+keep]
	r.wire = int(wire)
	ns := int64(frac)
	if !f.pcap.nanos {
		ns *= 1000
	}
	r.time = int64(sec)*1e9 + ns
	r.link = f.pcap.link
	return f.s.skip(int64(n))
}

// recordName names the record about to be read, for errors.
func (f *File) recordName() string { return fmt.Sprintf("record %d", f.records+1) }
