package filter

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// Target says what the bytes a program sees start with.
type Target uint8

// Targets, one per link layer that capture decodes.
const (
	Ethernet Target = iota // Ethernet header (VLAN tags already removed)
	SLL                    // Linux cooked v1 header (16 bytes)
	SLL2                   // Linux cooked v2 header (20 bytes)
	RawIP                  // IPv4 or IPv6 header, by version nibble
	RawIPv4                // IPv4 header only
	RawIPv6                // IPv6 header only
	Null                   // 4-byte BSD loopback family, then IP
	// Network is a Linux packet socket without link header (SOCK_DGRAM):
	// the bytes start at the network header and the EtherType is read with
	// the kernel's SKF_AD_PROTOCOL ancillary load.
	Network
)

var targetNames = [...]string{"Ethernet", "Linux SLL", "Linux SLL2", "raw IP", "raw IPv4", "raw IPv6", "BSD loopback", "cooked network"}

func (t Target) String() string {
	if int(t) < len(targetNames) {
		return targetNames[t]
	}
	return fmt.Sprintf("target(%d)", uint8(t))
}

// netOffset is where the network header starts for t.
func (t Target) netOffset() uint32 {
	switch t {
	case Ethernet:
		return 14
	case SLL:
		return 16
	case SLL2:
		return 20
	case Null:
		return 4
	}
	return 0
}

// Accept is the value a matching program returns: the whole packet.
const Accept = 0x40000

// Classic BPF ancillary offsets (linux/filter.h).
const (
	skfAdOff      = 0xfffff000 // SKF_AD_OFF (-0x1000)
	skfAdProtocol = 0
)

// Compile lowers the expression to a classic BPF program for target. It
// fails when a primitive makes no sense on that link (ether host on raw IP).
func (e *Expr) Compile(t Target) ([]bpf.RawInstruction, error) {
	c := &compiler{expr: e.text, t: t, nh: t.netOffset()}
	var tree test
	if e.root == nil {
		tree = always(true)
	} else {
		var err error
		tree, err = c.lower(e.root)
		if err != nil {
			return nil, err
		}
	}
	return c.generate(tree)
}

// test is the lowered form: a tree of and/or/not over comparisons.
type test interface{}

type tAnd struct{ l, r test }
type tOr struct{ l, r test }
type tNot struct{ n test }
type always bool

// loadKind is where a comparison's operand comes from.
type loadKind uint8

const (
	ldAbs   loadKind = iota // packet[off]
	ldTrans                 // packet[nh + IPv4 header length + off]
	ldLen                   // wire length
	ldProto                 // EtherType (ancillary)
)

type cmpOp uint8

const (
	opEq  cmpOp = iota
	opGt        // A > k
	opGe        // A >= k
	opSet       // A & k != 0
)

type cmp struct {
	load loadKind
	size uint8 // 1, 2 or 4
	off  uint32
	mask uint32 // applied before the comparison when not 0
	op   cmpOp
	k    uint32
}

func and(ts ...test) test {
	var r test
	for _, t := range ts {
		if r == nil {
			r = t
		} else {
			r = tAnd{r, t}
		}
	}
	if r == nil {
		return always(true)
	}
	return r
}

func or(ts ...test) test {
	var r test
	for _, t := range ts {
		if r == nil {
			r = t
		} else {
			r = tOr{r, t}
		}
	}
	if r == nil {
		return always(false)
	}
	return r
}

type compiler struct {
	expr string
	t    Target
	nh   uint32
}

func (c *compiler) errf(p prim, format string, args ...any) error {
	return &Error{Expr: c.expr, Pos: p.pos, Word: p.value, Msg: fmt.Sprintf(format, args...)}
}

func (c *compiler) lower(n node) (test, error) {
	switch n := n.(type) {
	case andNode:
		l, err := c.lower(n.l)
		if err != nil {
			return nil, err
		}
		r, err := c.lower(n.r)
		if err != nil {
			return nil, err
		}
		return tAnd{l, r}, nil
	case orNode:
		l, err := c.lower(n.l)
		if err != nil {
			return nil, err
		}
		r, err := c.lower(n.r)
		if err != nil {
			return nil, err
		}
		return tOr{l, r}, nil
	case notNode:
		x, err := c.lower(n.n)
		if err != nil {
			return nil, err
		}
		return tNot{x}, nil
	case prim:
		return c.prim(n)
	}
	return nil, fmt.Errorf("filter: internal error: node %T", n)
}

// etherType tests the frame's EtherType.
func (c *compiler) etherType(et uint16) test {
	switch c.t {
	case Ethernet:
		return cmp{load: ldAbs, size: 2, off: 12, k: uint32(et)}
	case SLL:
		return cmp{load: ldAbs, size: 2, off: 14, k: uint32(et)}
	case SLL2:
		return cmp{load: ldAbs, size: 2, off: 0, k: uint32(et)}
	case Network:
		return cmp{load: ldProto, k: uint32(et)}
	case RawIP, Null:
		switch et {
		case 0x0800:
			return cmp{load: ldAbs, size: 1, off: c.nh, mask: 0xf0, k: 0x40}
		case 0x86dd:
			return cmp{load: ldAbs, size: 1, off: c.nh, mask: 0xf0, k: 0x60}
		}
		return always(false)
	case RawIPv4:
		return always(et == 0x0800)
	case RawIPv6:
		return always(et == 0x86dd)
	}
	return always(false)
}

func (c *compiler) ip() test  { return c.etherType(0x0800) }
func (c *compiler) ip6() test { return c.etherType(0x86dd) }

func (c *compiler) hasEtherHeader() bool { return c.t == Ethernet }

// ipProto tests the IPv4 protocol or IPv6 next header field (no extension
// headers are followed, as in tcpdump).
func (c *compiler) ipProto(v4, v6 bool, proto uint8) test {
	var alts []test
	if v4 {
		alts = append(alts, and(c.ip(), cmp{load: ldAbs, size: 1, off: c.nh + 9, k: uint32(proto)}))
	}
	if v6 {
		alts = append(alts, and(c.ip6(), cmp{load: ldAbs, size: 1, off: c.nh + 6, k: uint32(proto)}))
	}
	return or(alts...)
}

func dirTest(dir direction, src, dst test) test {
	switch dir {
	case dirSrc:
		return src
	case dirDst:
		return dst
	case dirBoth:
		return and(src, dst)
	}
	return or(src, dst)
}

func (c *compiler) prim(p prim) (test, error) {
	switch p.keyword {
	case "less", "greater":
		n, err := strconv.ParseUint(p.value, 10, 32)
		if err != nil {
			return nil, c.errf(p, "%s needs a length in bytes", p.keyword)
		}
		if p.keyword == "less" { // len <= n
			return tNot{cmp{load: ldLen, op: opGt, k: uint32(n)}}, nil
		}
		return cmp{load: ldLen, op: opGe, k: uint32(n)}, nil
	case "broadcast", "multicast":
		switch p.q.proto {
		case "", "ether":
			if !c.hasEtherHeader() {
				return nil, c.errf(p, "ether %s needs an Ethernet link, but the capture is %s", p.keyword, c.t)
			}
			if p.keyword == "multicast" {
				return cmp{load: ldAbs, size: 1, off: 0, op: opSet, k: 1}, nil
			}
			return and(cmp{load: ldAbs, size: 4, off: 0, k: 0xffffffff}, cmp{load: ldAbs, size: 2, off: 4, k: 0xffff}), nil
		case "ip":
			return and(c.ip(), cmp{load: ldAbs, size: 1, off: c.nh + 16, op: opGe, k: 224}), nil
		case "ip6":
			return and(c.ip6(), cmp{load: ldAbs, size: 1, off: c.nh + 24, k: 0xff}), nil
		}
	case "proto":
		return c.protoNumber(p)
	}
	if p.q.kind == "" {
		return c.protoAlone(p)
	}
	switch p.q.kind {
	case "host":
		if p.q.proto == "ether" {
			return c.etherHost(p)
		}
		return c.host(p)
	case "net":
		return c.net(p)
	case "port", "portrange":
		return c.port(p)
	}
	return nil, c.errf(p, "unsupported primitive")
}

func (c *compiler) protoAlone(p prim) (test, error) {
	switch p.q.proto {
	case "ip":
		return c.ip(), nil
	case "ip6":
		return c.ip6(), nil
	case "arp":
		return c.etherType(0x0806), nil
	case "rarp":
		return c.etherType(0x8035), nil
	case "tcp":
		return c.ipProto(true, true, 6), nil
	case "udp":
		return c.ipProto(true, true, 17), nil
	case "sctp":
		return c.ipProto(true, true, 132), nil
	case "icmp":
		return c.ipProto(true, false, 1), nil
	case "igmp":
		return c.ipProto(true, false, 2), nil
	case "icmp6":
		return c.ipProto(false, true, 58), nil
	}
	return nil, &Error{Expr: c.expr, Pos: p.pos, Word: p.q.proto, Msg: "this protocol needs a qualifier"}
}

func (c *compiler) protoNumber(p prim) (test, error) {
	if p.q.proto == "ether" {
		v, ok := etherProtoNames[p.value]
		if !ok {
			n, err := strconv.ParseUint(p.value, 0, 16)
			if err != nil {
				return nil, c.errf(p, "ether proto needs a number (0x0800) or ip, ip6, arp, rarp")
			}
			v = uint16(n)
		}
		return c.etherType(v), nil
	}
	v, ok := ipProtoNames[p.value]
	if !ok {
		n, err := strconv.ParseUint(p.value, 0, 8)
		if err != nil {
			return nil, c.errf(p, "proto needs a protocol number (0-255) or a name such as tcp, udp, icmp, gre, esp")
		}
		v = uint8(n)
	}
	return c.ipProto(p.q.proto != "ip6", p.q.proto != "ip", v), nil
}

func (c *compiler) etherHost(p prim) (test, error) {
	mac, err := net.ParseMAC(p.value)
	if err != nil || len(mac) != 6 {
		return nil, c.errf(p, "ether host needs a MAC address such as 00:11:22:33:44:55")
	}
	if !c.hasEtherHeader() {
		return nil, c.errf(p, "ether host needs an Ethernet link, but the capture is %s", c.t)
	}
	at := func(off uint32) test {
		return and(
			cmp{load: ldAbs, size: 4, off: off, k: uint32(mac[0])<<24 | uint32(mac[1])<<16 | uint32(mac[2])<<8 | uint32(mac[3])},
			cmp{load: ldAbs, size: 2, off: off + 4, k: uint32(mac[4])<<8 | uint32(mac[5])},
		)
	}
	return dirTest(p.q.dir, at(6), at(0)), nil
}

// addrTest compares the bytes of pfx (masked) at off.
func addrTest(off uint32, pfx netip.Prefix) test {
	b := pfx.Addr().AsSlice()
	bits := pfx.Bits()
	var ts []test
	for i := 0; i+4 <= len(b) && bits > 0; i += 4 {
		w := uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
		mask := uint32(0xffffffff)
		if bits < 32 {
			mask = ^(uint32(0xffffffff) >> bits)
		}
		bits -= 32
		t := cmp{load: ldAbs, size: 4, off: off + uint32(i), k: w & mask}
		if mask != 0xffffffff {
			t.mask = mask
		}
		ts = append(ts, t)
	}
	return and(ts...)
}

func (c *compiler) addrMatch(p prim, pfx netip.Prefix) (test, error) {
	proto := p.q.proto
	if pfx.Addr().Is4() {
		if proto == "ip6" {
			return nil, c.errf(p, "ip6 with an IPv4 address")
		}
		var alts []test
		if proto == "" || proto == "ip" {
			alts = append(alts, and(c.ip(), dirTest(p.q.dir, addrTest(c.nh+12, pfx), addrTest(c.nh+16, pfx))))
		}
		// As in tcpdump, a host or net without protocol also matches the
		// sender and target protocol addresses of ARP and RARP.
		if proto == "" || proto == "arp" || proto == "rarp" {
			for _, et := range []uint16{0x0806, 0x8035} {
				if (proto == "arp" && et != 0x0806) || (proto == "rarp" && et != 0x8035) {
					continue
				}
				if c.t == RawIP || c.t == RawIPv4 || c.t == RawIPv6 || c.t == Null {
					if proto != "" {
						return nil, c.errf(p, "%s needs a link with ARP, but the capture is %s", proto, c.t)
					}
					continue
				}
				alts = append(alts, and(c.etherType(et), dirTest(p.q.dir, addrTest(c.nh+14, pfx), addrTest(c.nh+24, pfx))))
			}
		}
		if len(alts) == 0 {
			return nil, c.errf(p, "%s cannot have an IPv4 address", proto)
		}
		return or(alts...), nil
	}
	if proto != "" && proto != "ip6" {
		return nil, c.errf(p, "%s with an IPv6 address", proto)
	}
	return and(c.ip6(), dirTest(p.q.dir, addrTest(c.nh+8, pfx), addrTest(c.nh+24, pfx))), nil
}

func (c *compiler) host(p prim) (test, error) {
	if p.q.proto != "" && p.q.proto != "ip" && p.q.proto != "ip6" && p.q.proto != "arp" && p.q.proto != "rarp" {
		return nil, c.errf(p, "host cannot follow %s", p.q.proto)
	}
	addr, err := netip.ParseAddr(p.value)
	if err != nil {
		if strings.Contains(p.value, "/") {
			return nil, c.errf(p, "host takes an address; use net for a network")
		}
		return nil, c.errf(p, "host needs an IPv4 or IPv6 address (host names are not supported)")
	}
	addr = addr.WithZone("")
	if addr.Is4In6() {
		addr = addr.Unmap()
	}
	return c.addrMatch(p, netip.PrefixFrom(addr, addr.BitLen()))
}

func (c *compiler) net(p prim) (test, error) {
	if p.q.proto != "" && p.q.proto != "ip" && p.q.proto != "ip6" && p.q.proto != "arp" && p.q.proto != "rarp" {
		return nil, c.errf(p, "net cannot follow %s", p.q.proto)
	}
	pfx, err := parseNet(p.value)
	if err != nil {
		return nil, c.errf(p, "%v", err)
	}
	return c.addrMatch(p, pfx)
}

func (c *compiler) port(p prim) (test, error) {
	var lo, hi uint16
	if p.q.kind == "portrange" {
		a, b, ok := strings.Cut(p.value, "-")
		var okA, okB bool
		lo, okA = parsePort(a)
		hi, okB = parsePort(b)
		if !ok || !okA || !okB {
			return nil, c.errf(p, "portrange needs two ports, as in 1024-65535")
		}
		if lo > hi {
			lo, hi = hi, lo
		}
	} else {
		n, ok := parsePort(p.value)
		if !ok {
			return nil, c.errf(p, "port needs a number (0-65535) or a known service name such as http, https, domain, ssh")
		}
		lo, hi = n, n
	}
	var protos []uint8
	switch p.q.proto {
	case "":
		protos = []uint8{6, 17, 132}
	case "tcp":
		protos = []uint8{6}
	case "udp":
		protos = []uint8{17}
	case "sctp":
		protos = []uint8{132}
	case "ip", "ip6":
		protos = []uint8{6, 17, 132}
	default:
		return nil, c.errf(p, "%s has no ports", p.q.proto)
	}
	match := func(load loadKind, off uint32) test {
		if lo == hi {
			return cmp{load: load, size: 2, off: off, k: uint32(lo)}
		}
		return and(cmp{load: load, size: 2, off: off, op: opGe, k: uint32(lo)}, tNot{cmp{load: load, size: 2, off: off, op: opGt, k: uint32(hi)}})
	}
	var alts []test
	if p.q.proto != "ip6" {
		var ps []test
		for _, pr := range protos {
			ps = append(ps, cmp{load: ldAbs, size: 1, off: c.nh + 9, k: uint32(pr)})
		}
		alts = append(alts, and(c.ip(), or(ps...),
			tNot{cmp{load: ldAbs, size: 2, off: c.nh + 6, op: opSet, k: 0x1fff}}, // not a later fragment
			dirTest(p.q.dir, match(ldTrans, 0), match(ldTrans, 2))))
	}
	if p.q.proto != "ip" {
		var ps []test
		for _, pr := range protos {
			ps = append(ps, cmp{load: ldAbs, size: 1, off: c.nh + 6, k: uint32(pr)})
		}
		alts = append(alts, and(c.ip6(), or(ps...),
			dirTest(p.q.dir, match(ldAbs, c.nh+40), match(ldAbs, c.nh+42))))
	}
	return or(alts...), nil
}

// --- code generation ---------------------------------------------------

// insn is an instruction whose jump targets are still labels.
type insn struct {
	raw        bpf.RawInstruction
	jt, jf, ja int // label ids, -1 when unused
}

type gen struct {
	code   []insn
	labels []int // label id -> instruction index, -1 until placed
	nh     uint32
	full   bool // more than maxGenerated instructions: generation stopped
}

// maxGenerated bounds the instructions generated before the jumps to the
// next instruction are dropped: far more than a program of MaxInstructions
// needs, and a bound on what a long filter costs to compile.
const maxGenerated = 4 * MaxInstructions

func (g *gen) newLabel() int {
	g.labels = append(g.labels, -1)
	return len(g.labels) - 1
}

func (g *gen) place(l int) { g.labels[l] = len(g.code) }

func (g *gen) emit(raw bpf.RawInstruction) {
	g.code = append(g.code, insn{raw: raw, jt: -1, jf: -1, ja: -1})
}

func (g *gen) emitJump(raw bpf.RawInstruction, jt, jf int) {
	g.code = append(g.code, insn{raw: raw, jt: jt, jf: jf, ja: -1})
}

// dropNextJumps drops every unconditional jump to the instruction that
// follows it, once the instructions between are dropped too: jumps go
// forward only, so one pass from the end decides each jump after all those
// it depends on. Labels placed later (yes, no) are never next.
func (g *gen) dropNextJumps() {
	n := len(g.code)
	keep := make([]bool, n)
	keptFrom := make([]int, n+1) // kept instructions in [i, n)
	for i := n - 1; i >= 0; i-- {
		keep[i] = true
		if l := g.code[i].ja; l >= 0 {
			if to := g.labels[l]; to > i && to <= n && keptFrom[i+1] == keptFrom[to] {
				keep[i] = false
			}
		}
		keptFrom[i] = keptFrom[i+1]
		if keep[i] {
			keptFrom[i]++
		}
	}
	// An instruction's new index is the number kept before it.
	newIndex := make([]int, n+1)
	code := g.code[:0]
	for i := range n {
		newIndex[i] = len(code)
		if keep[i] {
			code = append(code, g.code[i])
		}
	}
	newIndex[n] = len(code)
	g.code = code
	for l, at := range g.labels {
		if at >= 0 {
			g.labels[l] = newIndex[at]
		}
	}
}

const (
	opLd   = 0x00
	opLdx  = 0x01
	opAlu  = 0x04
	opJmp  = 0x05
	opRet  = 0x06
	szW    = 0x00
	szH    = 0x08
	szB    = 0x10
	mAbs   = 0x20
	mInd   = 0x40
	mLen   = 0x80
	mMsh   = 0xa0
	aluAnd = 0x50
	jA     = 0x00
	jEq    = 0x10
	jGt    = 0x20
	jGe    = 0x30
	jSet   = 0x40
	srcK   = 0x00
)

func sizeCode(n uint8) uint16 {
	switch n {
	case 1:
		return szB
	case 2:
		return szH
	}
	return szW
}

// compile emits code for t that jumps to label yes when t holds, no otherwise.
func (g *gen) compile(t test, yes, no int) {
	if len(g.code) > maxGenerated {
		g.full = true
		return
	}
	switch t := t.(type) {
	case tAnd:
		m := g.newLabel()
		g.compile(t.l, m, no)
		g.place(m)
		g.compile(t.r, yes, no)
	case tOr:
		m := g.newLabel()
		g.compile(t.l, yes, m)
		g.place(m)
		g.compile(t.r, yes, no)
	case tNot:
		g.compile(t.n, no, yes)
	case always:
		target := no
		if t {
			target = yes
		}
		g.code = append(g.code, insn{raw: bpf.RawInstruction{Op: opJmp | jA}, jt: -1, jf: -1, ja: target})
	case cmp:
		switch t.load {
		case ldAbs:
			g.emit(bpf.RawInstruction{Op: opLd | sizeCode(t.size) | mAbs, K: t.off})
		case ldTrans:
			g.emit(bpf.RawInstruction{Op: opLdx | szB | mMsh, K: g.nh})
			g.emit(bpf.RawInstruction{Op: opLd | sizeCode(t.size) | mInd, K: g.nh + t.off})
		case ldLen:
			g.emit(bpf.RawInstruction{Op: opLd | szW | mLen})
		case ldProto:
			g.emit(bpf.RawInstruction{Op: opLd | szW | mAbs, K: skfAdOff + skfAdProtocol})
		}
		if t.mask != 0 {
			g.emit(bpf.RawInstruction{Op: opAlu | aluAnd | srcK, K: t.mask})
		}
		var op uint16
		switch t.op {
		case opEq:
			op = jEq
		case opGt:
			op = jGt
		case opGe:
			op = jGe
		case opSet:
			op = jSet
		}
		g.emitJump(bpf.RawInstruction{Op: opJmp | op | srcK, K: t.k}, yes, no)
	}
}

// MaxInstructions is the kernel's limit for a classic BPF program.
const MaxInstructions = 4096

func (c *compiler) generate(t test) ([]bpf.RawInstruction, error) {
	g := &gen{nh: c.nh}
	yes, no := g.newLabel(), g.newLabel()
	g.compile(t, yes, no)
	if g.full {
		return nil, &Error{Expr: c.expr, Msg: fmt.Sprintf("compiles to more than %d instructions, the kernel's limit", MaxInstructions)}
	}
	g.dropNextJumps()
	g.place(yes)
	g.emit(bpf.RawInstruction{Op: opRet | srcK, K: Accept})
	g.place(no)
	g.emit(bpf.RawInstruction{Op: opRet | srcK, K: 0})
	if len(g.code) > MaxInstructions {
		return nil, &Error{Expr: c.expr, Msg: fmt.Sprintf("compiles to %d instructions, more than the kernel's %d", len(g.code), MaxInstructions)}
	}
	out := make([]bpf.RawInstruction, len(g.code))
	for i, in := range g.code {
		out[i] = in.raw
		if in.ja >= 0 {
			out[i].K = uint32(g.labels[in.ja] - i - 1)
		}
		if in.jt >= 0 {
			jt, jf := g.labels[in.jt]-i-1, g.labels[in.jf]-i-1
			if jt > 255 || jf > 255 {
				return nil, &Error{Expr: c.expr, Msg: "too large: a jump spans more than 255 instructions; simplify the filter"}
			}
			out[i].Jt, out[i].Jf = uint8(jt), uint8(jf)
		}
	}
	return out, nil
}
