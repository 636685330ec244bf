// Package filter compiles tcpdump-style filter expressions to classic BPF
// without libpcap, and runs such programs in user space for capture files.
//
// The supported language is the part of pcap-filter(7) that network
// monitoring uses:
//
//	ether | ip | ip6 | arp | rarp | tcp | udp | sctp | icmp | icmp6 | igmp
//	[ip|ip6|arp] [src|dst|src or dst|src and dst] host ADDR      (IPv4 or IPv6 address)
//	[ip|ip6] [src|dst|...] net ADDR/LEN | net ADDR mask MASK | net 10.1  (short forms as in tcpdump)
//	[tcp|udp|sctp] [src|dst|...] port N|NAME       [tcp|udp|sctp] [src|dst|...] portrange N-M
//	ether [src|dst|...] host MAC        ether proto N|ip|ip6|arp|rarp
//	ip proto N|NAME    ip6 proto N|NAME    proto N|NAME
//	[ether] broadcast | [ether] multicast | ip multicast | ip6 multicast
//	less N | greater N
//	not/!, and/&&, or/|| (same precedence, left to right, as in tcpdump),
//	parentheses; a bare value repeats the previous
//	qualifiers as in tcpdump ("port 53 or 80", "host 10.0.0.1 or 10.0.0.2").
//
// Not supported, with a clear error: host names (use addresses), byte-offset
// expressions such as tcp[13] & 2 != 0, vlan/mpls/pppoe keywords, gateway,
// and protocols outside the list above. VLAN tags are transparent: a filter
// sees every frame as if its 802.1Q/QinQ tags had been removed, both in live
// capture (the kernel removes them before filtering) and in capture files
// (the user-space machine skips them), so "tcp port 80" matches tagged and
// untagged frames alike.
package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Error is a filter that does not parse or compile. Pos is the 1-based
// position of the offending word, 0 when the whole expression is at fault.
type Error struct {
	Expr string
	Pos  int
	Word string
	Msg  string
}

func (e *Error) Error() string {
	expr := e.Expr
	if len(expr) > shownExpr {
		// A filter of kilobytes would bury the message; its start and its
		// length are enough to find it.
		expr = fmt.Sprintf("%s... (%d bytes)", strings.ToValidUTF8(expr[:shownExpr], ""), len(e.Expr))
	}
	word := e.Word
	if len(word) > shownExpr {
		word = strings.ToValidUTF8(word[:shownExpr], "") + "..."
	}
	if e.Word != "" {
		return fmt.Sprintf("filter %q: at %q (word %d): %s", expr, word, e.Pos, e.Msg)
	}
	return fmt.Sprintf("filter %q: %s", expr, e.Msg)
}

// Limits on a filter expression, checked before it is compiled, so that
// whatever it says, compiling it costs memory and time in proportion to
// MaxLength. No filter that fits the kernel's MaxInstructions comes near
// them.
const (
	// MaxLength is the longest expression accepted, in bytes.
	MaxLength = 64 << 10
	// MaxDepth is how deeply parentheses and not may nest.
	MaxDepth = 100
)

// shownExpr is how much of a long expression an error quotes.
const shownExpr = 80

// direction of an address or port qualifier.
type direction uint8

const (
	dirAny direction = iota // src or dst
	dirSrc
	dirDst
	dirBoth // src and dst
)

// qualifiers of a primitive, remembered so that a bare value after and/or
// repeats them.
type qualifiers struct {
	proto string // "", ether, ip, ip6, arp, rarp, tcp, udp, sctp
	dir   direction
	kind  string // host, net, port, portrange
}

type token struct {
	text string
	pos  int
}

func lex(expr string) []token {
	// At most one token a byte: one allocation, bounded by MaxLength.
	toks := make([]token, 0, len(expr))
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || (c == '!' && !strings.HasPrefix(expr[i:], "!=")):
			toks = append(toks, token{text: string(c)})
			i++
		case strings.HasPrefix(expr[i:], "&&") || strings.HasPrefix(expr[i:], "||"):
			toks = append(toks, token{text: expr[i : i+2]})
			i += 2
		default:
			j := i
			for j < len(expr) && !strings.ContainsRune(" \t\n\r()", rune(expr[j])) &&
				!strings.HasPrefix(expr[j:], "&&") && !strings.HasPrefix(expr[j:], "||") {
				j++
			}
			toks = append(toks, token{text: expr[i:j]})
			i = j
		}
	}
	for k := range toks {
		toks[k].pos = k + 1
	}
	return toks
}

type parser struct {
	expr  string
	toks  []token
	i     int
	last  *qualifiers // qualifiers of the previous primitive
	depth int         // parentheses and not around the current word
}

// node is the parsed expression, before it is lowered for a link type.
type node interface{}

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ n node }

// prim is one primitive with its qualifiers and value.
type prim struct {
	q     qualifiers
	value string // address, port, protocol... empty for protocol-only primitives
	// keyword primitives: "proto" (q.proto is the layer, value the number),
	// "broadcast", "multicast", "less", "greater", "" (protocol alone).
	keyword string
	pos     int
}

// Expr is a parsed filter expression.
type Expr struct {
	text string
	root node // nil for the empty expression (accept everything)
}

// String returns the expression as written.
func (e *Expr) String() string { return e.text }

// Parse parses a filter expression. The empty expression accepts everything.
func Parse(expr string) (*Expr, error) {
	if len(expr) > MaxLength {
		return nil, &Error{Expr: expr, Msg: fmt.Sprintf("is %d bytes long, more than the %d accepted", len(expr), MaxLength)}
	}
	p := &parser{expr: expr, toks: lex(expr)}
	if len(p.toks) == 0 {
		return &Expr{text: expr}, nil
	}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.toks) {
		return nil, p.errAt(p.toks[p.i], "unexpected word; expected and, or, or the end of the filter")
	}
	e := &Expr{text: expr, root: n}
	// Lower once for Ethernet so that every semantic error shows at parse
	// time, whatever link the filter is later compiled for.
	if _, err := e.Compile(Ethernet); err != nil {
		return nil, err
	}
	return e, nil
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return &Error{Expr: p.expr, Pos: t.pos, Word: t.text, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) errEnd(format string, args ...any) error {
	return &Error{Expr: p.expr, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) peek() (token, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return token{}, false
}

func (p *parser) next() (token, bool) {
	t, ok := p.peek()
	if ok {
		p.i++
	}
	return t, ok
}

// parseOr reads a chain of primitives joined by and/or. As in
// pcap-filter(7), "and" and "or" have the same precedence and associate to
// the left: "a and b or c and d" is "((a and b) or c) and d".
func (p *parser) parseOr() (node, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for {
		t, ok := p.peek()
		if !ok {
			return l, nil
		}
		isOr := t.text == "or" || t.text == "||"
		if !isOr && t.text != "and" && t.text != "&&" {
			return l, nil
		}
		p.i++
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		if isOr {
			l = orNode{l, r}
		} else {
			l = andNode{l, r}
		}
	}
}

func (p *parser) parseNot() (node, error) {
	t, ok := p.peek()
	if !ok {
		return nil, p.errEnd("unexpected end of the filter")
	}
	switch t.text {
	case "not", "!", "(":
		if p.depth >= MaxDepth {
			return nil, p.errAt(t, "parentheses and not nest more than %d deep", MaxDepth)
		}
		p.depth++
		defer func() { p.depth-- }()
	}
	switch t.text {
	case "not", "!":
		p.i++
		n, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	case "(":
		p.i++
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		c, ok := p.next()
		if !ok {
			return nil, p.errEnd("missing closing parenthesis")
		}
		if c.text != ")" {
			return nil, p.errAt(c, "expected a closing parenthesis")
		}
		return n, nil
	case ")":
		return nil, p.errAt(t, "unexpected closing parenthesis")
	}
	return p.parsePrimitive()
}

var protoWords = map[string]bool{"ether": true, "ip": true, "ip6": true, "arp": true, "rarp": true, "tcp": true, "udp": true, "sctp": true, "icmp": true, "icmp6": true, "igmp": true}

var unsupportedWords = map[string]string{
	"vlan":       "vlan is not supported: VLAN tags are transparent to the filter (it sees the frame without them)",
	"mpls":       "mpls is not supported",
	"pppoed":     "pppoe is not supported",
	"pppoes":     "pppoe is not supported",
	"gateway":    "gateway is not supported",
	"wlan":       "802.11 filters are not supported",
	"type":       "802.11 filters are not supported",
	"subtype":    "802.11 filters are not supported",
	"ifname":     "pflog filters are not supported",
	"inbound":    "inbound/outbound are not supported",
	"outbound":   "inbound/outbound are not supported",
	"len":        "arithmetic comparisons (len, tcp[13], ...) are not supported; use less N or greater N",
	"decnet":     "decnet is not supported",
	"atalk":      "atalk is not supported",
	"aarp":       "aarp is not supported",
	"iso":        "iso is not supported",
	"stp":        "stp is not supported",
	"ipx":        "ipx is not supported",
	"netbeui":    "netbeui is not supported",
	"lat":        "lat is not supported",
	"sca":        "sca is not supported",
	"moprc":      "moprc is not supported",
	"mopdl":      "mopdl is not supported",
	"protochain": "protochain is not supported; use ip6 proto N (extension headers are not followed, as in tcpdump's proto)",
}

func isKeyword(s string) bool {
	switch s {
	case "and", "or", "not", "&&", "||", "!", "(", ")", "src", "dst", "host", "net", "port", "portrange",
		"proto", "broadcast", "multicast", "less", "greater", "mask":
		return true
	}
	return protoWords[s]
}

func (p *parser) parsePrimitive() (node, error) {
	start, _ := p.peek()
	if msg, ok := unsupportedWords[start.text]; ok {
		return nil, p.errAt(start, "%s", msg)
	}
	if strings.ContainsAny(start.text, "[]") {
		return nil, p.errAt(start, "byte-offset expressions such as tcp[13] are not supported")
	}
	// A bare value repeats the previous primitive's qualifiers.
	if !isKeyword(start.text) {
		if p.last == nil {
			return nil, p.errAt(start, "unknown word; expected a primitive such as host, net, port, tcp or udp (host names are not supported: use an address)")
		}
		p.i++
		pr := prim{q: *p.last, value: start.text, pos: start.pos}
		return pr, nil
	}

	var q qualifiers
	if protoWords[start.text] {
		q.proto = start.text
		p.i++
	}
	t, ok := p.peek()
	// Protocol-only forms and keyword primitives.
	if ok {
		switch t.text {
		case "proto":
			p.i++
			v, ok := p.next()
			if !ok {
				return nil, p.errEnd("proto needs a protocol number or name")
			}
			if q.proto != "" && q.proto != "ip" && q.proto != "ip6" && q.proto != "ether" {
				return nil, p.errAt(t, "proto applies to ether, ip or ip6, not %s", q.proto)
			}
			return prim{q: q, keyword: "proto", value: strings.TrimPrefix(v.text, `\`), pos: v.pos}, nil
		case "broadcast", "multicast":
			p.i++
			if q.proto != "" && q.proto != "ether" && q.proto != "ip" && q.proto != "ip6" {
				return nil, p.errAt(t, "%s applies to ether, ip or ip6, not %s", t.text, q.proto)
			}
			if t.text == "broadcast" && (q.proto == "ip" || q.proto == "ip6") {
				return nil, p.errAt(t, "ip broadcast needs the network mask and is not supported; use ether broadcast")
			}
			return prim{q: q, keyword: t.text, pos: t.pos}, nil
		case "less", "greater":
			if q.proto != "" {
				return nil, p.errAt(t, "%s takes no protocol qualifier", t.text)
			}
			p.i++
			v, ok := p.next()
			if !ok {
				return nil, p.errEnd("%s needs a length", t.text)
			}
			return prim{keyword: t.text, value: v.text, pos: v.pos}, nil
		}
	}
	// Direction.
	if ok && (t.text == "src" || t.text == "dst") {
		p.i++
		q.dir = dirSrc
		if t.text == "dst" {
			q.dir = dirDst
		}
		if t2, ok2 := p.peek(); ok2 && (t2.text == "or" || t2.text == "and") && p.i+1 < len(p.toks) {
			if t3 := p.toks[p.i+1]; (t.text == "src" && t3.text == "dst") || (t.text == "dst" && t3.text == "src") {
				p.i += 2
				q.dir = dirAny
				if t2.text == "and" {
					q.dir = dirBoth
				}
			}
		}
		t, ok = p.peek()
	}
	if ok {
		switch t.text {
		case "host", "net", "port", "portrange":
			p.i++
			q.kind = t.text
		}
	}
	if q.kind == "" && q.dir != dirAny {
		// "src 10.0.0.1" means "src host 10.0.0.1"; "ether src MAC" too.
		q.kind = "host"
	}
	if q.kind == "" && q.dir == dirAny && !(ok && t.text == "host") {
		if q.proto == "" {
			return nil, p.errAt(start, "expected a primitive")
		}
		// A protocol alone: "tcp", "ip6", "arp".
		if q.proto == "ether" {
			return nil, p.errAt(start, "ether needs host, src, dst, proto, broadcast or multicast")
		}
		p.last = nil
		return prim{q: q, pos: start.pos}, nil
	}
	v, ok := p.next()
	if !ok {
		return nil, p.errEnd("%s needs a value", q.kind)
	}
	if isKeyword(v.text) {
		return nil, p.errAt(v, "%s needs a value", q.kind)
	}
	pr := prim{q: q, value: v.text, pos: v.pos}
	if q.kind == "net" {
		if m, ok := p.peek(); ok && m.text == "mask" {
			p.i++
			mv, ok := p.next()
			if !ok {
				return nil, p.errEnd("mask needs a value")
			}
			pr.value += " mask " + mv.text
		}
	}
	qq := q
	p.last = &qq
	return pr, nil
}

// parsePort reads a port number or one of a few well-known service names.
func parsePort(s string) (uint16, bool) {
	if n, err := strconv.ParseUint(s, 10, 16); err == nil {
		return uint16(n), true
	}
	n, ok := serviceNames[s]
	return n, ok
}

// serviceNames are the service names accepted for ports (tcpdump reads
// /etc/services; a firmware image has a minimal one, so the common names
// are built in).
var serviceNames = map[string]uint16{
	"ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "bootps": 67, "bootpc": 68,
	"tftp": 69, "http": 80, "www": 80, "pop3": 110, "ntp": 123, "netbios-ns": 137, "netbios-dgm": 138,
	"netbios-ssn": 139, "imap": 143, "snmp": 161, "snmp-trap": 162, "bgp": 179, "ldap": 389, "https": 443,
	"microsoft-ds": 445, "syslog": 514, "submission": 587, "ldaps": 636, "imaps": 993, "pop3s": 995,
	"openvpn": 1194, "mqtt": 1883, "nfs": 2049, "mysql": 3306, "rdp": 3389, "ms-wbt-server": 3389,
	"mdns": 5353, "postgresql": 5432, "http-alt": 8080, "secure-mqtt": 8883, "dns": 53,
}

var ipProtoNames = map[string]uint8{
	"icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "udp": 17, "ipv6": 41, "gre": 47, "esp": 50, "ah": 51,
	"icmp6": 58, "sctp": 132, "vrrp": 112, "pim": 103,
}

var etherProtoNames = map[string]uint16{"ip": 0x0800, "ip6": 0x86dd, "arp": 0x0806, "rarp": 0x8035}

// parseNet reads "a.b.c.d/len", "a.b.c.d mask m.m.m.m", IPv6 "x::/len", a
// plain address (host route) and tcpdump's short IPv4 forms ("10", "192.168",
// "172.16.1" are /8, /16, /24).
func parseNet(s string) (netip.Prefix, error) {
	if a, m, ok := strings.Cut(s, " mask "); ok {
		addr, err := netip.ParseAddr(a)
		if err != nil || !addr.Is4() {
			return netip.Prefix{}, fmt.Errorf("net ... mask needs an IPv4 network address")
		}
		mask, err := netip.ParseAddr(m)
		if err != nil || !mask.Is4() {
			return netip.Prefix{}, fmt.Errorf("invalid mask %q", m)
		}
		mb := mask.As4()
		v := uint32(mb[0])<<24 | uint32(mb[1])<<16 | uint32(mb[2])<<8 | uint32(mb[3])
		ones := 0
		for ones < 32 && v&(1<<(31-ones)) != 0 {
			ones++
		}
		if ones < 32 && v<<ones != 0 {
			return netip.Prefix{}, fmt.Errorf("mask %q is not contiguous", m)
		}
		return checkNet(netip.PrefixFrom(addr, ones))
	}
	if strings.Contains(s, "/") {
		// tcpdump accepts short forms with a length too ("10/8").
		a, l, _ := strings.Cut(s, "/")
		if !strings.Contains(a, ":") && strings.Count(a, ".") < 3 {
			a = expandShortV4(a)
		}
		pfx, err := netip.ParsePrefix(a + "/" + l)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid network %q", s)
		}
		return checkNet(pfx)
	}
	if !strings.Contains(s, ":") && strings.Count(s, ".") < 3 {
		parts := strings.Count(s, ".") + 1
		addr, err := netip.ParseAddr(expandShortV4(s))
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid network %q", s)
		}
		return checkNet(netip.PrefixFrom(addr, 8*parts))
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid network %q", s)
	}
	return netip.PrefixFrom(addr.WithZone(""), addr.BitLen()), nil
}

func expandShortV4(s string) string {
	for strings.Count(s, ".") < 3 {
		s += ".0"
	}
	return s
}

// checkNet refuses a network address with host bits set, as tcpdump does:
// "net 10.1.2.3/8" is almost always a typo.
func checkNet(p netip.Prefix) (netip.Prefix, error) {
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("network %s has host bits set (did you mean %s?)", p, p.Masked())
	}
	return p, nil
}
