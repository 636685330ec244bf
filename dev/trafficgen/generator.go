package trafficgen

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"netspot/core/config"
)

// Packet is one generated packet: an Ethernet frame (whatever the output
// link type; the Writer converts it) and its time.
type Packet struct {
	Offset time.Duration // since the capture's start
	Data   []byte        // the captured bytes (up to the snaplen); valid until the next call to Next
	Length int           // length on the wire
	Attack int           // index of the attack in Config.Attacks that sent it, or -1 for benign traffic
}

// Generator produces the packets of a scenario in time order, streaming:
// its memory depends on the number of connections in flight, not on the
// length of the capture.
type Generator struct {
	cfg   Config
	lan   *lan
	blk   *block
	f     frame
	quote frame // scratch frame for the datagram an ICMP error quotes

	scratch []byte
	sched   schedule
	seq     uint64
	at      int64 // time of the packet being built, ns since start
	dur     int64
	last    int64

	br        *rng // the benign model's random stream
	hour0     float64
	ntpEpoch  uint32
	startUnix int64

	clients, devices, tvs []*node
	popularity            []float64
	attacks               []*plannedAttack

	packets, bytes uint64
}

// plannedAttack is an attack resolved against the network, with what it
// actually sent.
type plannedAttack struct {
	idx         int
	spec        Attack
	kind        string
	label       string
	start, end  int64
	rate        float64
	scanner     *node // the LAN host that attacks, for scans and sweeps
	victim      *node
	fromLAN     *node
	extSrc      ipAddr
	spoofed     bool
	ports       []uint16
	open        map[uint16]bool
	port, size  int
	addrs       []ipAddr
	local       bool
	alive       float64
	unreachRate float64
	attacker    string
	target      string

	protos []uint8 // IP protocols of a protocol scan

	first, lastT   int64
	packets, bytes uint64
}

// New validates cfg and prepares the generator.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg, dur: int64(cfg.Duration.D())}
	netRNG := newRNG(cfg.Seed, "network")
	g.lan = newLAN(netRNG, cfg.Hosts)
	g.blk = newBlock(newRNG(cfg.Seed, "payload"))
	limit := cfg.Output.Snaplen
	if limit == 0 {
		limit = 1 << 30
	}
	g.f = frame{buf: make([]byte, 0, 2048), limit: limit, blk: g.blk}
	g.quote = frame{buf: make([]byte, 0, 2048), blk: g.blk}
	g.scratch = make([]byte, 0, 2048)
	_, off := cfg.Start.Zone()
	local := cfg.Start.Add(time.Duration(off) * time.Second).UTC()
	g.hour0 = float64(local.Hour()) + float64(local.Minute())/60 + float64(local.Second())/3600
	g.startUnix = cfg.Start.Unix()
	g.ntpEpoch = uint32(g.startUnix + 2208988800)
	for _, h := range g.lan.hosts {
		switch h.role {
		case roleWorkstation, rolePhone:
			g.clients = append(g.clients, h)
		case rolePrinter, roleNAS:
			g.devices = append(g.devices, h)
		case roleTV:
			g.devices = append(g.devices, h)
			g.tvs = append(g.tvs, h)
		}
	}
	if len(g.clients) == 0 {
		g.clients = g.lan.hosts[1:]
	}
	for _, s := range g.lan.servers {
		g.popularity = append(g.popularity, s.pop)
	}
	chat := chatterPerSecond(g.lan)
	if cfg.Rate < 1.25*chat {
		return nil, config.Errorf("rate", "%v packets/s is too low for %d hosts, whose background chatter alone (ARP, mDNS, NTP, ...) is %.1f packets/s: give at least %.1f or fewer hosts", cfg.Rate, cfg.Hosts, chat, 1.25*chat)
	}
	g.startBenign()
	for i := range cfg.Attacks {
		a, err := g.plan(i, cfg.Attacks[i])
		if err != nil {
			return nil, config.Within(fmt.Sprintf("attack[%d]", i), err)
		}
		g.attacks = append(g.attacks, a)
	}
	return g, nil
}

// start adds a source to the schedule; own is the attack it belongs to.
func (g *Generator) start(s source, own int) {
	t := s.next()
	if t == never {
		return
	}
	g.seq++
	g.sched.push(entry{t: t, seq: g.seq, src: s, own: own})
}

// Next fills p with the next packet and reports whether there was one
// before the end of the capture.
func (g *Generator) Next(p *Packet) bool {
	for len(g.sched) > 0 {
		e := g.sched[0]
		if e.t >= g.dur {
			g.sched = g.sched[:0]
			return false
		}
		g.sched.popMin()
		g.f.buf = g.f.buf[:0]
		emitted := e.src.fire(g)
		if t := e.src.next(); t != never {
			e.t = t
			g.sched.push(e)
		}
		if !emitted {
			continue
		}
		if g.at < g.last {
			g.at = g.last // never go back in time (a source planned in the past)
		}
		g.last = g.at
		p.Offset = time.Duration(g.at)
		p.Data = g.f.buf
		p.Length = g.f.wire
		p.Attack = e.own
		g.packets++
		g.bytes += uint64(g.f.wire)
		if e.own >= 0 {
			a := g.attacks[e.own]
			if a.packets == 0 {
				a.first = g.at
			}
			a.lastT = g.at
			a.packets++
			a.bytes += uint64(g.f.wire)
		}
		return true
	}
	return false
}

// plan resolves attack i against the network and starts its source.
func (g *Generator) plan(i int, spec Attack) (*plannedAttack, error) {
	a := &plannedAttack{idx: i, spec: spec, kind: spec.Kind, label: spec.Label, start: int64(spec.At.D()),
		port: spec.Port, size: spec.Size, alive: 0.3, unreachRate: 1000}
	a.end = a.start + int64(spec.Duration.D())
	if a.label == "" {
		a.label = spec.Kind
	}
	r := newRNG(g.cfg.Seed, "attack/"+strconv.Itoa(i)+"/"+spec.Kind)
	l := g.lan
	host := func(ref string, def *node) (*node, error) {
		if ref == "" {
			return def, nil
		}
		n, err := l.findHost(ref)
		if err != nil {
			return nil, err
		}
		return n, nil
	}
	firstClient := g.clients[0]
	nas := l.hosts[0]
	var err error
	dsec := spec.Duration.D().Seconds()
	switch a.kind {
	case "syn-scan", "connect-scan", "fin-scan", "null-scan", "xmas-scan", "udp-scan":
		if a.scanner, err = host(spec.From, firstClient); err != nil {
			return nil, fieldErr("from", err)
		}
		if a.victim, err = host(spec.Target, nas); err != nil {
			return nil, fieldErr("target", err)
		}
		if a.victim == a.scanner {
			return nil, config.Errorf("target", "the target is the scanner itself (%s)", ipString(a.victim.ip4))
		}
		n := spec.Ports
		if n == 0 {
			n = 1000
		}
		a.ports = scanPorts(r, n, a.kind == "udp-scan")
		a.open = map[uint16]bool{}
		for _, p := range openPorts(a.victim) {
			if a.kind == "udp-scan" {
				continue
			}
			a.open[p] = true
		}
		if a.kind == "udp-scan" {
			for _, p := range []uint16{53, 67, 123, 137, 5353} {
				if a.victim.role == roleGateway || p == 5353 || p == 137 {
					a.open[p] = true
				}
			}
		}
		a.rate = float64(n) / dsec
		a.attacker, a.target = ipString(a.scanner.ip4), ipString(a.victim.ip4)
	case "ping-sweep", "arp-scan":
		if a.scanner, err = host(spec.From, firstClient); err != nil {
			return nil, fieldErr("from", err)
		}
		prefix := netip.MustParsePrefix("192.168.1.0/24")
		if spec.Target != "" {
			prefix, _ = netip.ParsePrefix(spec.Target)
		}
		if a.addrs, err = addrsIn(prefix); err != nil {
			return nil, fieldErr("target", err)
		}
		a.local = netip.MustParsePrefix("192.168.1.0/24").Overlaps(prefix)
		if a.kind == "arp-scan" && !a.local {
			return nil, config.Errorf("target", "ARP reaches only the LAN 192.168.1.0/24, not %s", prefix)
		}
		a.rate = float64(len(a.addrs)) / dsec
		a.attacker, a.target = ipString(a.scanner.ip4), prefix.String()
	case "syn-flood", "synack-reflection":
		def := nas
		if a.kind == "synack-reflection" {
			def = firstClient
		}
		if a.victim, err = host(spec.Target, def); err != nil {
			return nil, fieldErr("target", err)
		}
		if a.port == 0 {
			a.port = 443
		}
		a.rate = 1000
		a.attacker, a.target = "spoofed", ipString(a.victim.ip4)
	case "udp-flood":
		if a.victim, err = host(spec.Target, nas); err != nil {
			return nil, fieldErr("target", err)
		}
		a.open = map[uint16]bool{}
		if a.victim.role == roleGateway {
			a.open[53] = true
		}
		a.open[5353] = true
		if a.size == 0 {
			a.size = 512
		}
		a.extSrc = v4(198, 18, byte(r.intn(256)), byte(r.between(1, 254)))
		a.attacker = ipString(a.extSrc)
		switch spec.From {
		case "", "internet":
		case "spoofed":
			a.spoofed, a.attacker = true, "spoofed"
		default:
			if a.fromLAN, err = l.findHost(spec.From); err != nil {
				return nil, fieldErr("from", err)
			}
			a.attacker = ipString(a.fromLAN.ip4)
		}
		a.rate = 1000
		a.target = ipString(a.victim.ip4)
	case "dns-tunnel":
		if a.scanner, err = host(spec.From, firstClient); err != nil {
			return nil, fieldErr("from", err)
		}
		a.rate = 20
		a.attacker, a.target = ipString(a.scanner.ip4), ipString(l.gw.ip4)
	case "ssh-brute", "ftp-brute", "rdp-brute":
		def := nas
		if a.kind == "rdp-brute" {
			def = g.windowsHost(nas)
		}
		if a.victim, err = host(spec.Target, def); err != nil {
			return nil, fieldErr("target", err)
		}
		a.extSrc = v4(198, 18, byte(r.intn(256)), byte(r.between(1, 254)))
		if spec.From != "" && spec.From != "internet" {
			ad, perr := netip.ParseAddr(spec.From)
			if perr != nil || !ad.Is4() || ad.IsPrivate() || ad.IsLoopback() || ad.IsMulticast() || ad.IsUnspecified() {
				return nil, config.Errorf("from", "%q is not a public IPv4 address", spec.From)
			}
			b := ad.As4()
			a.extSrc = v4(b[0], b[1], b[2], b[3])
		}
		a.rate = 2
		if a.kind == "rdp-brute" {
			a.rate = 1
		}
		a.attacker, a.target = ipString(a.extSrc), ipString(a.victim.ip4)
	case "arp-spoof":
		if a.scanner, err = host(spec.From, firstClient); err != nil {
			return nil, fieldErr("from", err)
		}
		def := g.clients[len(g.clients)-1]
		if def == a.scanner {
			def = nas
		}
		if a.victim, err = host(spec.Target, def); err != nil {
			return nil, fieldErr("target", err)
		}
		if a.victim == a.scanner || a.victim == l.gw || a.scanner == l.gw {
			return nil, config.Errorf("target", "the attacker, its victim and the gateway must be three hosts")
		}
		a.rate = 1
		a.attacker, a.target = ipString(a.scanner.ip4), ipString(a.victim.ip4)
	case "icmp-tunnel":
		if a.scanner, err = host(spec.From, firstClient); err != nil {
			return nil, fieldErr("from", err)
		}
		if a.scanner == l.gw {
			return nil, config.Errorf("from", "the tunnel runs from a LAN host, not from the gateway")
		}
		a.extSrc = v4(198, 18, byte(r.intn(256)), byte(r.between(1, 254)))
		if a.size == 0 {
			a.size = 1000
		}
		a.rate = 5
		a.attacker, a.target = ipString(a.scanner.ip4), ipString(a.extSrc)
	case "host-scan":
		if a.scanner, err = host(spec.From, firstClient); err != nil {
			return nil, fieldErr("from", err)
		}
		prefix := netip.MustParsePrefix("192.168.1.0/24")
		if spec.Target != "" {
			prefix, _ = netip.ParsePrefix(spec.Target)
		}
		if a.addrs, err = addrsIn(prefix); err != nil {
			return nil, fieldErr("target", err)
		}
		a.local = netip.MustParsePrefix("192.168.1.0/24").Overlaps(prefix)
		n := spec.Ports
		if n == 0 {
			n = 3
		}
		a.ports = hostScanPorts[:n]
		a.rate = float64(len(a.addrs)) / dsec
		a.attacker, a.target = ipString(a.scanner.ip4), prefix.String()
	case "proto-scan":
		if a.scanner, err = host(spec.From, firstClient); err != nil {
			return nil, fieldErr("from", err)
		}
		if a.victim, err = host(spec.Target, nas); err != nil {
			return nil, fieldErr("target", err)
		}
		if a.victim == a.scanner {
			return nil, config.Errorf("target", "the target is the scanner itself (%s)", ipString(a.victim.ip4))
		}
		for p := 0; p < 256; p++ {
			if !decodedProtocol(uint8(p)) {
				a.protos = append(a.protos, uint8(p))
			}
		}
		for i := len(a.protos) - 1; i > 0; i-- {
			j := r.intn(i + 1)
			a.protos[i], a.protos[j] = a.protos[j], a.protos[i]
		}
		a.rate = float64(len(a.protos)) / dsec
		a.attacker, a.target = ipString(a.scanner.ip4), ipString(a.victim.ip4)
	case "dns-exfil":
		if a.scanner, err = host(spec.From, firstClient); err != nil {
			return nil, fieldErr("from", err)
		}
		a.rate = 2
		a.attacker, a.target = ipString(a.scanner.ip4), ipString(l.gw.ip4)
	}
	if a.victim == l.gw && a.attacker != ipString(l.gw.ip4) && (a.kind == "syn-flood" || a.kind == "synack-reflection" ||
		bruteKind(a.kind) || (a.kind == "udp-flood" && a.fromLAN == nil)) {
		return nil, config.Errorf("target", "%s comes from the Internet, and traffic from the Internet to the gateway itself never crosses the LAN: choose a LAN host", a.kind)
	}
	if a.kind == "udp-flood" && a.port != 0 && decodedUDPPort(uint16(a.port)) && probePayload(uint16(a.port)) == 0 {
		return nil, config.Errorf("port", "udp-flood writes no payload for the protocol of port %d; choose another port", a.port)
	}
	if spec.Rate > 0 {
		a.rate = spec.Rate
	}
	g.startAttack(a, r)
	return a, nil
}

// fieldErr names the key of a problem found with the network model.
func fieldErr(key string, err error) error { return config.Errorf(key, "%v", err) }

// startAttack starts the sources of a planned attack.
func (g *Generator) startAttack(a *plannedAttack, r *rng) {
	gap := int64(1e9 / a.rate)
	switch a.kind {
	case "ssh-brute", "ftp-brute", "rdp-brute":
		p := &poisson{r: r, t: a.start, mean: gap, end: a.end}
		rtt := int64(r.between(40, 180)) * 1e6
		ttl := uint8(r.between(44, 56))
		p.spawn = func(g *Generator, t int64) {
			c := g.newConn(r)
			switch a.kind {
			case "ssh-brute":
				c.app, c.todo = appSSHBrute, r.between(3, 6)
				c.openFromInternet(g, t, a.extSrc, ttl, rtt, a.victim, 22)
			case "ftp-brute":
				c.app, c.todo = appFTPBrute, r.between(1, 3)
				c.openFromInternet(g, t, a.extSrc, ttl, rtt, a.victim, 21)
			default:
				c.app, c.todo = appRDPBrute, 1
				c.openFromInternet(g, t, a.extSrc, ttl, rtt, a.victim, 3389)
			}
			g.start(c, a.idx)
		}
		g.start(p, a.idx)
	case "dns-exfil":
		p := &poisson{r: r, t: a.start, mean: gap, end: a.end}
		h := a.scanner
		seq := 0
		p.spawn = func(g *Generator, t int64) {
			x := g.newExchange(r)
			x.id, x.port = r.u16(), h.ephemeral(r)
			x.qtype, x.rcode = dnsA, dnsNXDomain
			seq++
			x.name = exfilName(r, seq)
			x.isolated = true
			x.add(xstep{t: t, kind: xDNSQuery, from: h, to: g.lan.gw})
			// The gateway forwards the query to the attacker's server.
			x.add(xstep{t: t + int64(r.between(40, 250))*1e6, kind: xDNSReply, from: g.lan.gw, to: h})
			g.start(x, a.idx)
		}
		g.start(p, a.idx)
	case "dns-tunnel":
		p := &poisson{r: r, t: a.start, mean: gap, end: a.end}
		h := a.scanner
		port := uint16(r.between(32768, 60999))
		seq := 0
		p.spawn = func(g *Generator, t int64) {
			x := g.newExchange(r)
			x.id, x.port = r.u16(), port
			x.qtype = dnsTXT
			if r.chance(0.3) {
				x.qtype = dnsNULL
			}
			seq++
			x.off = r.intn(blockSize)
			x.name = tunnelName(r, seq)
			x.edns = true
			x.isolated = true
			x.add(xstep{t: t, kind: xDNSQuery, from: h, to: g.lan.gw})
			x.add(xstep{t: t + int64(r.between(25, 90))*1e6, kind: xDNSReply, from: g.lan.gw, to: h})
			g.start(x, a.idx)
		}
		g.start(p, a.idx)
	default:
		s := &attackSrc{r: r, a: a, t: a.start, end: a.end, gap: gap, tokens: 50, tokT: a.start}
		s.sport = uint16(r.between(32768, 60999))
		s.seqBase = r.u32()
		switch a.kind {
		case "syn-scan", "connect-scan", "fin-scan", "null-scan", "xmas-scan", "udp-scan":
			s.limit = len(a.ports)
		case "ping-sweep", "arp-scan", "host-scan":
			s.limit = len(a.addrs)
		case "proto-scan":
			s.limit = len(a.protos)
		}
		g.start(s, a.idx)
	}
}

// windowsHost returns the first Windows workstation, or def.
func (g *Generator) windowsHost(def *node) *node {
	for _, h := range g.lan.hosts {
		if h.role == roleWorkstation && h.os == osWindows {
			return h
		}
	}
	return def
}

// exfilName returns a query name that carries stolen data: hex-encoded
// chunks in long labels, a sequence number, the attacker's domain.
func exfilName(r *rng, seq int) string {
	var raw [40]byte
	for i := range raw {
		raw[i] = byte(r.u64() >> 56)
	}
	const hexDigits = "0123456789abcdef"
	n := r.between(24, 40)
	var sb strings.Builder
	for i, c := range raw[:n] {
		if i == 28 {
			sb.WriteByte('.') // at most 56 characters a label
		}
		sb.WriteByte(hexDigits[c>>4])
		sb.WriteByte(hexDigits[c&15])
	}
	sb.WriteByte('.')
	sb.WriteString(strconv.FormatInt(int64(seq), 36))
	sb.WriteString(".d.exfil.example.org")
	return sb.String()
}

// tunnelName returns a query name as DNS tunnels (iodine, dnscat2) build
// them: encoded data in long labels under the attacker's domain.
func tunnelName(r *rng, seq int) string {
	var buf [120]byte
	raw := buf[:0]
	for i := 0; i < 60; i++ {
		raw = append(raw, byte(r.u64()>>56))
	}
	enc := appendBase32(nil, raw) // 96 characters
	var sb strings.Builder
	sb.Write(enc[:63])
	sb.WriteByte('.')
	sb.Write(enc[63 : 63+r.between(10, 33)])
	sb.WriteByte('.')
	sb.WriteString(strconv.FormatInt(int64(seq), 36))
	sb.WriteString(".t.tunnel.example.net")
	return sb.String()
}
