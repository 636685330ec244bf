package filter

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// Program is a validated classic BPF program that runs in user space. It is
// what filters packets read from a capture file, so that a filter means the
// same on a file as on a live interface. It does not allocate per packet.
type Program struct {
	code []bpf.RawInstruction
	// skipVLAN makes the 802.1Q/QinQ tags of an Ethernet frame invisible,
	// as they are to the kernel's filter after VLAN offload.
	skipVLAN bool
}

// NewProgram validates code as the kernel would (jumps in range, no
// division by a zero constant, scratch memory in range, ends with a return).
// With skipVLAN, an Ethernet frame's VLAN tags are hidden from the program.
func NewProgram(code []bpf.RawInstruction, skipVLAN bool) (*Program, error) {
	if len(code) == 0 || len(code) > MaxInstructions {
		return nil, fmt.Errorf("filter: program of %d instructions (want 1 to %d)", len(code), MaxInstructions)
	}
	for i, in := range code {
		left := len(code) - i - 1
		switch in.Op & 0x07 {
		case opLd, opLdx:
			mode := in.Op & 0xe0
			if mode == 0x60 && in.K >= 16 { // BPF_MEM
				return nil, fmt.Errorf("filter: instruction %d: scratch slot %d out of range", i, in.K)
			}
		case 0x02, 0x03: // ST, STX
			if in.K >= 16 {
				return nil, fmt.Errorf("filter: instruction %d: scratch slot %d out of range", i, in.K)
			}
		case opAlu:
			op := in.Op & 0xf0
			if (op == 0x30 || op == 0x90) && in.Op&0x08 == 0 && in.K == 0 {
				return nil, fmt.Errorf("filter: instruction %d: division by zero", i)
			}
		case opJmp:
			if in.Op&0xf0 == jA {
				if int(in.K) >= left || in.K > 1<<30 {
					return nil, fmt.Errorf("filter: instruction %d: jump past the end", i)
				}
			} else if int(in.Jt) >= left || int(in.Jf) >= left {
				return nil, fmt.Errorf("filter: instruction %d: jump past the end", i)
			}
		}
	}
	if last := code[len(code)-1].Op & 0x07; last != opRet {
		return nil, errors.New("filter: program does not end with a return")
	}
	return &Program{code: append([]bpf.RawInstruction(nil), code...), skipVLAN: skipVLAN}, nil
}

// packet is what the program reads: the frame, with VLAN tags skipped.
type packet struct {
	b     []byte
	cut   int // tags occupy b[cut:cut+skip]; loads at or after cut are shifted
	skip  int
	proto uint16
}

func (p *packet) at(off uint32, n uint32) ([]byte, bool) {
	if off >= skfAdOff {
		return nil, false
	}
	o := uint64(off)
	if p.skip > 0 && o >= uint64(p.cut) {
		o += uint64(p.skip)
	}
	if o+uint64(n) > uint64(len(p.b)) {
		return nil, false
	}
	return p.b[o : o+uint64(n)], true
}

func (p *packet) load(off, size uint32) (uint32, bool) {
	if off == skfAdOff+skfAdProtocol {
		return uint32(p.proto), true
	}
	b, ok := p.at(off, size)
	if !ok {
		return 0, false
	}
	switch size {
	case 1:
		return uint32(b[0]), true
	case 2:
		return uint32(binary.BigEndian.Uint16(b)), true
	}
	return binary.BigEndian.Uint32(b), true
}

// vlanTags returns how many bytes of 802.1Q/802.1ad tags follow the MAC
// addresses of an Ethernet frame.
func vlanTags(b []byte) int {
	n := 0
	for 12+n+4 <= len(b) {
		switch binary.BigEndian.Uint16(b[12+n:]) {
		case 0x8100, 0x88a8, 0x9100:
			n += 4
		default:
			return n
		}
	}
	return n
}

// Match runs the program on a packet: data is the captured bytes, wireLen
// the original length, proto the EtherType for the Network target. It
// reports whether the program accepts the packet. A load out of the
// captured bytes rejects it, as in the kernel.
func (p *Program) Match(data []byte, wireLen int, proto uint16) bool {
	pkt := packet{b: data, proto: proto}
	if p.skipVLAN {
		if n := vlanTags(data); n > 0 {
			pkt.cut, pkt.skip = 12, n
			wireLen -= n
		}
	}
	var a, x uint32
	var mem [16]uint32
	sizeOf := func(op uint16) uint32 {
		switch op & 0x18 {
		case szB:
			return 1
		case szH:
			return 2
		}
		return 4
	}
	for pc := 0; pc < len(p.code); pc++ {
		in := p.code[pc]
		switch in.Op & 0x07 {
		case opLd:
			switch in.Op & 0xe0 {
			case 0x00: // IMM
				a = in.K
			case mAbs:
				v, ok := pkt.load(in.K, sizeOf(in.Op))
				if !ok {
					return false
				}
				a = v
			case mInd:
				v, ok := pkt.load(x+in.K, sizeOf(in.Op))
				if !ok || x+in.K < x {
					return false
				}
				a = v
			case mLen:
				a = uint32(wireLen)
			case 0x60: // MEM
				a = mem[in.K&15]
			default:
				return false
			}
		case opLdx:
			switch in.Op & 0xe0 {
			case 0x00:
				x = in.K
			case mLen:
				x = uint32(wireLen)
			case 0x60:
				x = mem[in.K&15]
			case mMsh:
				b, ok := pkt.at(in.K, 1)
				if !ok {
					return false
				}
				x = uint32(b[0]&0x0f) * 4
			default:
				return false
			}
		case 0x02: // ST
			mem[in.K&15] = a
		case 0x03: // STX
			mem[in.K&15] = x
		case opAlu:
			v := in.K
			if in.Op&0x08 != 0 {
				v = x
			}
			switch in.Op & 0xf0 {
			case 0x00:
				a += v
			case 0x10:
				a -= v
			case 0x20:
				a *= v
			case 0x30:
				if v == 0 {
					return false
				}
				a /= v
			case 0x40:
				a |= v
			case aluAnd:
				a &= v
			case 0x60:
				a <<= v & 31
			case 0x70:
				a >>= v & 31
			case 0x80:
				a = -a
			case 0x90:
				if v == 0 {
					return false
				}
				a %= v
			case 0xa0:
				a ^= v
			default:
				return false
			}
		case opJmp:
			v := in.K
			if in.Op&0x08 != 0 {
				v = x
			}
			var cond bool
			switch in.Op & 0xf0 {
			case jA:
				pc += int(in.K)
				continue
			case jEq:
				cond = a == v
			case jGt:
				cond = a > v
			case jGe:
				cond = a >= v
			case jSet:
				cond = a&v != 0
			default:
				return false
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case opRet:
			if in.Op&0x18 == 0x10 { // RET A
				return a != 0
			}
			return in.K != 0
		case 0x07: // MISC
			if in.Op&0xf8 == 0 { // TAX
				x = a
			} else { // TXA
				a = x
			}
		}
	}
	return false
}
