package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
)

// pcapng block types.
const (
	ngSHB = 0x0a0d0d0a // section header (the same in either byte order)
	ngIDB = 1          // interface description
	ngPB  = 2          // packet (obsolete)
	ngSPB = 3          // simple packet
	ngEPB = 6          // enhanced packet
)

// maxPacketOptions is the most bytes a packet block may hold after its
// packet: the options allowance of libpcap's MAX_BLOCKSIZE_FOR_SNAPLEN.
const maxPacketOptions = 128 << 10

// ngMagic is the byte-order magic of a section header.
const ngMagic = 0x1a2b3c4d

// Interface description options netspot reads.
const (
	optEnd      = 0
	optTSResol  = 9
	optTSOffset = 14
)

// ngSection is the state of the current pcapng section.
type ngSection struct {
	bo     binary.ByteOrder
	ifaces []ngIface
}

// ngIface is an interface declared in the current section.
type ngIface struct {
	link   Link
	snap   int    // snapshot length, adjusted as libpcap does
	units  uint64 // timestamp units per second
	offset int64  // seconds added to every timestamp (if_tsoffset)
}

func (f *File) u32(b []byte) uint32 { return f.sec.bo.Uint32(b) }

// blockName names a block for errors.
func blockName(typ uint32) string {
	switch typ {
	case ngSHB:
		return "pcapng section header block"
	case ngIDB:
		return "interface description block"
	case ngPB:
		return "packet block"
	case ngSPB:
		return "simple packet block"
	case ngEPB:
		return "enhanced packet block"
	}
	return fmt.Sprintf("block of type 0x%x", typ)
}

// minBlock is the shortest valid length of a block of type typ.
func minBlock(typ uint32) uint32 {
	switch typ {
	case ngSHB:
		return 28
	case ngIDB:
		return 20
	case ngPB, ngEPB:
		return 32
	case ngSPB:
		return 16
	}
	return 12
}

// blockHeader reads the type and length of the block at the reader, and
// checks the length before anything else is read.
func (f *File) blockHeader() (typ, length uint32, err error) {
	start := f.s.off
	h, err := f.s.peek(8)
	switch {
	case err == io.EOF:
		return 0, 0, io.EOF
	case err == io.ErrUnexpectedEOF:
		return 0, 0, f.cut()
	case err != nil:
		return 0, 0, f.readFailed("block", start, err)
	}
	typ = binary.LittleEndian.Uint32(h)
	if typ == ngSHB {
		// The byte order of a section, its header's length included, is
		// that of the byte-order magic that follows.
		b, err := f.s.peek(12)
		switch {
		case err == io.ErrUnexpectedEOF:
			return 0, 0, f.cut()
		case err != nil:
			return 0, 0, f.readFailed(blockName(typ), start, err)
		}
		switch {
		case binary.LittleEndian.Uint32(b[8:]) == ngMagic:
			f.sec.bo = binary.LittleEndian
		case binary.BigEndian.Uint32(b[8:]) == ngMagic:
			f.sec.bo = binary.BigEndian
		default:
			return 0, 0, f.corrupt(blockName(typ), start, "byte-order magic %08x, want %08x", binary.LittleEndian.Uint32(b[8:]), ngMagic)
		}
	} else if f.sec.bo == nil {
		return 0, 0, f.corrupt(blockName(typ), start, "the file does not start with a section header block")
	}
	if typ != ngSHB {
		typ = f.u32(h)
	}
	length = f.u32(h[4:])
	switch {
	case length%4 != 0:
		return 0, 0, f.corrupt(blockName(typ), start, "block length %d is not a multiple of 4", length)
	case length < minBlock(typ):
		return 0, 0, f.corrupt(blockName(typ), start, "block length %d is shorter than the %d bytes of its fixed fields", length, minBlock(typ))
	case length > MaxBlock:
		return 0, 0, f.corrupt(blockName(typ), start, "block length %d exceeds %d bytes, the largest block libpcap reads", length, MaxBlock)
	}
	return typ, length, nil
}

// endBlock skips the rest of a block, of which done bytes were consumed,
// and checks that its trailing length repeats the leading one.
func (f *File) endBlock(typ uint32, start int64, length uint32, done int64) error {
	if err := f.skip(int64(length) - done - 4); err != nil {
		return err
	}
	return f.trailer(typ, start, length)
}

func (f *File) trailer(typ uint32, start int64, length uint32) error {
	t, err := f.s.peek(4)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return f.cut()
	case err != nil:
		return f.readFailed(blockName(typ), start, err)
	}
	if got := f.u32(t); got != length {
		return f.corrupt(blockName(typ), start, "block length %d at its start but %d at its end", length, got)
	}
	return f.skip(4)
}

// skip consumes n bytes of the block being read; the end of the file there
// means the file was cut.
func (f *File) skip(n int64) error {
	switch err := f.s.skip(n); {
	case err == io.ErrUnexpectedEOF:
		return f.cut()
	case err != nil:
		return f.readFailed("block", f.s.off, err)
	}
	return nil
}

// readSectionHeader reads a section header block: it starts a new section,
// whose interfaces are declared anew.
func (f *File) readSectionHeader() error {
	start := f.s.off
	typ, length, err := f.blockHeader()
	if err != nil {
		return err
	}
	b, err := f.s.peek(24)
	switch {
	case err == io.ErrUnexpectedEOF:
		return f.cut()
	case err != nil:
		return f.readFailed(blockName(typ), start, err)
	}
	if major := f.sec.bo.Uint16(b[12:]); major != 1 {
		return f.corrupt(blockName(typ), start, "unsupported pcapng major version %d (pcapng files are version 1)", major)
	}
	f.sec.ifaces = f.sec.ifaces[:0]
	return f.endBlock(typ, start, length, 0)
}

// readInterface reads an interface description block, with the options
// that say how its timestamps are written.
func (f *File) readInterface(start int64, length uint32) error {
	if len(f.sec.ifaces) >= MaxInterfaces {
		return f.corrupt(blockName(ngIDB), start, "more than %d interfaces in one section", MaxInterfaces)
	}
	b, err := f.s.peek(16)
	switch {
	case err == io.ErrUnexpectedEOF:
		return f.cut()
	case err != nil:
		return f.readFailed(blockName(ngIDB), start, err)
	}
	dlt := uint32(f.sec.bo.Uint16(b[8:]))
	link, _ := linkFromDLT(dlt)
	ifc := ngIface{link: link, snap: adjustSnaplen(f.u32(b[12:])), units: 1e6}
	if err := f.skip(16); err != nil {
		return err
	}
	// Options, up to the trailing length.
	left := int64(length) - 16 - 4
	for left >= 4 {
		o, err := f.s.peek(4)
		switch {
		case err == io.ErrUnexpectedEOF || err == io.EOF:
			return f.cut()
		case err != nil:
			return f.readFailed(blockName(ngIDB), start, err)
		}
		code, olen := f.sec.bo.Uint16(o), int64(f.sec.bo.Uint16(o[2:]))
		if err := f.skip(4); err != nil {
			return err
		}
		left -= 4
		if code == optEnd {
			break
		}
		padded := (olen + 3) &^ 3
		if padded > left {
			return f.corrupt(blockName(ngIDB), start, "option %d of %d bytes runs past the end of the block", code, olen)
		}
		if (code == optTSResol && olen >= 1) || (code == optTSOffset && olen >= 8) {
			v, err := f.s.peek(int(olen))
			switch {
			case err == io.ErrUnexpectedEOF || err == io.EOF:
				return f.cut()
			case err != nil:
				return f.readFailed(blockName(ngIDB), start, err)
			}
			if code == optTSResol {
				units, ok := tsUnits(v[0])
				if !ok {
					return f.corrupt(blockName(ngIDB), start, "timestamp resolution %#x is finer than a unit per second fits in 64 bits", v[0])
				}
				ifc.units = units
			} else {
				ifc.offset = int64(f.sec.bo.Uint64(v))
			}
		}
		if err := f.skip(padded); err != nil {
			return err
		}
		left -= padded
	}
	if err := f.endBlock(ngIDB, start, length, int64(length)-4-left); err != nil {
		return err
	}
	f.sec.ifaces = append(f.sec.ifaces, ifc)
	return nil
}

// tsUnits reads an if_tsresol value: 10^-v seconds, or 2^-(v&0x7f) when
// the high bit is set. It is false when a second's units overflow 64 bits.
func tsUnits(v byte) (uint64, bool) {
	if v&0x80 != 0 {
		e := v & 0x7f
		if e > 63 {
			return 0, false
		}
		return 1 << e, true
	}
	if v > 19 {
		return 0, false
	}
	u := uint64(1)
	for range v {
		u *= 10
	}
	return u, true
}

// nsTime turns a pcapng timestamp of interface ifc into Unix nanoseconds,
// bounded by ±maxTime seconds.
func nsTime(ifc *ngIface, ts uint64) int64 {
	sec, frac := ts/ifc.units, ts%ifc.units
	var ns uint64
	switch ifc.units {
	case 1e9:
		ns = frac
	case 1e6:
		ns = frac * 1e3
	default:
		hi, lo := bits.Mul64(frac, 1e9)
		ns, _ = bits.Div64(hi, lo, ifc.units) // frac < units: no overflow
	}
	s := int64(min(sec, maxTime)) + max(min(ifc.offset, maxTime), -maxTime)
	s = max(min(s, maxTime), -maxTime)
	return s*1e9 + int64(ns)
}

// nextBlock reads blocks until the next packet. Blocks other than packets
// and interface descriptions are skipped (as pcapng readers must), their
// lengths checked all the same.
func (f *File) nextBlock(r *rawPacket) error {
	for {
		start := f.s.off
		typ, length, err := f.blockHeader()
		if err != nil {
			return err
		}
		switch typ {
		case ngSHB:
			if err := f.readSectionHeader(); err != nil {
				return err
			}
		case ngIDB:
			if err := f.readInterface(start, length); err != nil {
				return err
			}
		case ngEPB, ngPB, ngSPB:
			return f.packetBlock(r, typ, start, length)
		default:
			if err := f.endBlock(typ, start, length, 0); err != nil {
				return err
			}
		}
	}
}

// packetBlock reads a packet block whose header was checked. The block is
// taken in place in the read buffer when it fits (a packet of MaxRecord
// bytes with up to 64 KiB of options does); otherwise the packet's kept
// bytes are copied out and the rest skipped.
func (f *File) packetBlock(r *rawPacket, typ uint32, start int64, length uint32) error {
	name := blockName(typ)
	hdr := 28
	if typ == ngSPB {
		hdr = 12
	}
	h, err := f.s.peek(hdr)
	switch {
	case err == io.ErrUnexpectedEOF:
		return f.cut()
	case err != nil:
		return f.readFailed(name, start, err)
	}
	var (
		ifc    *ngIface
		caplen uint32
		wire   uint32
		ts     uint64
	)
	room := length - uint32(hdr) - 4 // bytes for data and options
	if typ == ngSPB {
		if len(f.sec.ifaces) == 0 {
			return f.corrupt(name, start, "a packet before any interface description block")
		}
		ifc = &f.sec.ifaces[0]
		wire = f.u32(h[8:])
		caplen = min(wire, uint32(ifc.snap))
		if caplen > room {
			return f.corrupt(name, start, "packet of %d bytes does not fit in a block of %d bytes", caplen, length)
		}
	} else {
		id := f.u32(h[8:])
		if typ == ngPB {
			id = uint32(f.sec.bo.Uint16(h[8:]))
		}
		if int64(id) >= int64(len(f.sec.ifaces)) {
			return f.corrupt(name, start, "packet of interface %d, but the section declares %d interfaces", id, len(f.sec.ifaces))
		}
		ifc = &f.sec.ifaces[id]
		ts = uint64(f.u32(h[12:]))<<32 | uint64(f.u32(h[16:]))
		caplen, wire = f.u32(h[20:]), f.u32(h[24:])
		if caplen > room || (caplen+3)&^3 > room {
			return f.corrupt(name, start, "captured length %d does not fit in a block of %d bytes", caplen, length)
		}
	}
	// What follows the packet is options (padding for a simple packet
	// block): libpcap allows them 128 KiB, and so does netspot. More is a
	// damaged length, which must not pass for a file cut short.
	packet := (caplen + 3) &^ 3
	if extra := room - packet; extra > maxPacketOptions {
		return f.corrupt(name, start, "block length %d leaves %d bytes after its packet of %d bytes; at most %d of options are allowed", length, extra, caplen, maxPacketOptions)
	}
	keep := min(int(caplen), ifc.snap)
	if int(length) <= readBuffer {
		b, err := f.s.peek(int(length))
		switch {
		case err == io.ErrUnexpectedEOF:
			// A block without options that ends where its packet does,
			// followed by more of the file: its leading length is damaged,
			// the file is not cut.
			if bare := uint32(hdr) + packet + 4; bare < length && uint32(len(b)) >= bare && f.u32(b[bare-4:]) == bare {
				return f.corrupt(name, start, "block length %d at its start but %d at the end of its packet", length, bare)
			}
			return f.cut()
		case err != nil:
			return f.readFailed(name, start, err)
		}
		if got := f.u32(b[length-4:]); got != length {
			return f.corrupt(name, start, "block length %d at its start but %d at its end", length, got)
		}
		r.data = b[hdr : hdr+keep]
		if err := f.skip(int64(length)); err != nil {
			return err
		}
	} else {
		if err := f.skip(int64(hdr)); err != nil {
			return err
		}
		b, err := f.s.peek(keep)
		switch {
		case err == io.ErrUnexpectedEOF || (err == io.EOF && keep > 0):
			return f.cut()
		case err != nil && err != io.EOF:
			return f.readFailed(name, start, err)
		}
		if f.big == nil {
			f.big = make([]byte, MaxRecord)
		}
		r.data = f.big[:copy(f.big, b)]
		if err := f.endBlock(typ, start, length, int64(hdr)); err != nil {
			return err
		}
	}
	r.wire = int(wire)
	r.link = ifc.link
	r.time = 0 // a simple packet block has no timestamp
	if typ != ngSPB {
		r.time = nsTime(ifc, ts)
	}
	return nil
}
