package trafficgen

import "math"

// This file is the benign model: the background chatter every LAN has (ARP,
// NTP, mDNS, SSDP, neighbour discovery, the odd ping), whose volume depends
// on the number of hosts, and the users' activity (web pages, downloads,
// backups), whose volume makes up the rest of the requested packet rate and
// follows a slowly wandering intensity: a log-normal factor driven by an
// Ornstein-Uhlenbeck process, times an optional office-hours profile.

// chatter kinds and their rates per host per second.
type chatterKind int

const (
	chARPHost chatterKind = iota // a host refreshes the gateway's address
	chARPGateway
	chNTP
	chMDNS
	chSSDPSearch
	chSSDPNotify
	chND
	chRA
	chPing
	chatterKinds
)

// chatterRate returns the events per second of kind k on l, and the mean
// number of packets of one event.
func chatterRate(l *lan, k chatterKind) (perSec, packets float64) {
	n := float64(len(l.hosts))
	v6 := 0.0
	var win, mdns, tv float64
	for _, h := range l.hosts {
		if h.has6 {
			v6++
		}
		if h.os == osWindows || h.role == rolePhone {
			win++
		}
		if h.os != osWindows {
			mdns++
		}
		if h.role == roleTV {
			tv++
		}
	}
	switch k {
	case chARPHost:
		return n / 75, 2
	case chARPGateway:
		return n / 240, 2
	case chNTP:
		return n / 900, 2
	case chMDNS:
		return mdns / 90, 1 + 0.5 + 0.5*v6/n
	case chSSDPSearch:
		return win / 300, 3 + 2
	case chSSDPNotify:
		return (1 + tv) / 600, 3
	case chND:
		return v6 / 45, 2
	case chRA:
		return 1.0 / 400, 1
	case chPing:
		return 1.0 / 600, 8
	}
	return 0, 0
}

// chatterPerSecond is the mean packet rate of the background chatter.
func chatterPerSecond(l *lan) float64 {
	var s float64
	for k := chatterKind(0); k < chatterKinds; k++ {
		r, p := chatterRate(l, k)
		s += r * p
	}
	return s
}

// Activity kinds and their share of the users' packets.
type activityKind int

const (
	actWeb activityKind = iota
	actHTTP
	actBulk
	activityKinds
)

var activityShare = [activityKinds]float64{actWeb: 0.62, actHTTP: 0.08, actBulk: 0.30}

// activityPackets is the mean number of packets of one activity, measured
// on long runs of the model (see TestMeanRate, which fails when the model
// drifts away from these figures); for bulk transfers it is per unit of the
// requested packet rate.
var activityPackets = [activityKinds]float64{actWeb: 215, actHTTP: 80, actBulk: 15.5}

// poisson is a source of events at a constant rate that calls spawn.
type poisson struct {
	r     *rng
	t     int64
	mean  int64 // mean interval, ns
	end   int64 // no events from then on; 0 for none
	spawn func(g *Generator, t int64)
}

func (p *poisson) next() int64 {
	if p.end > 0 && p.t >= p.end {
		return never
	}
	return p.t
}

func (p *poisson) fire(g *Generator) bool {
	p.spawn(g, p.t)
	p.t += p.r.expNS(p.mean) + 1
	return false
}

// intensity is the users' activity over time: a non-homogeneous Poisson
// process whose rate is constant within each second.
type intensity struct {
	r       *rng
	t       int64
	base    float64 // events per second at factor 1
	sigma   float64 // wander
	x       float64 // Ornstein-Uhlenbeck state
	sec     int64   // the second the factor was computed for
	factor  float64
	diurnal bool
	hour0   float64 // local hour of day at t = 0
	spawn   func(g *Generator, t int64)
}

// officeHours is the relative activity of an office LAN by local hour,
// averaging 1 over the day.
var officeHours = [24]float64{0.15, 0.12, 0.1, 0.1, 0.1, 0.12, 0.2, 0.45, 0.9, 1.3, 1.45, 1.4,
	1.1, 1.25, 1.45, 1.4, 1.3, 1.0, 0.7, 0.5, 0.4, 0.35, 0.25, 0.2}

func officeFactor(hour float64) float64 {
	var mean float64
	for _, v := range officeHours {
		mean += v
	}
	mean /= 24
	h := math.Mod(hour, 24)
	i := int(h)
	f := h - float64(i)
	a, b := officeHours[i], officeHours[(i+1)%24]
	return (a + float64(f*(b-a))) / mean
}

// tau is the correlation time of the wander, in seconds.
const tau = 240.0

func (in *intensity) factorAt(sec int64) float64 {
	for in.sec < sec {
		in.sec++
		a := expf(-1 / tau)
		in.x = float64(in.x*a) + float64(float64(in.sigma*math.Sqrt(1-float64(a*a)))*in.r.normal())
		in.factor = expf(in.x - float64(in.sigma*in.sigma)/2)
		if in.diurnal {
			in.factor *= officeFactor(in.hour0 + float64(in.sec)/3600)
		}
	}
	return in.factor
}

func (in *intensity) next() int64 { return in.t }

func (in *intensity) fire(g *Generator) bool {
	in.spawn(g, in.t)
	// Next arrival: consume an Exp(1) amount of the integrated rate.
	need := in.r.exp()
	t := in.t
	for {
		sec := t / 1e9
		rate := in.base * in.factorAt(sec)
		end := (sec + 1) * 1e9
		avail := float64(rate * float64(end-t) / 1e9)
		if rate > 0 && avail >= need {
			t += int64(need/rate*1e9) + 1
			break
		}
		need -= avail
		t = end
		if t >= g.dur {
			t = never
			break
		}
	}
	in.t = t
	return false
}

// startBenign starts the benign processes.
func (g *Generator) startBenign() {
	r := newRNG(g.cfg.Seed, "benign")
	g.br = r
	l := g.lan
	for k := chatterKind(0); k < chatterKinds; k++ {
		rate, _ := chatterRate(l, k)
		if rate <= 0 {
			continue
		}
		k := k
		p := &poisson{r: r, mean: int64(1e9 / rate)}
		p.t = p.r.expNS(p.mean)
		p.spawn = func(g *Generator, t int64) { g.chatter(k, t) }
		g.start(p, -1)
	}
	budget := g.cfg.Rate - chatterPerSecond(l)
	for k := activityKind(0); k < activityKinds; k++ {
		per := activityPackets[k]
		if k == actBulk {
			per *= g.cfg.Rate
		}
		k := k
		in := &intensity{r: r, base: budget * activityShare[k] / per, sigma: g.cfg.Wander, factor: 1,
			diurnal: g.cfg.Diurnal, hour0: g.hour0, sec: 0}
		in.factor = in.factorAt(0)
		in.spawn = func(g *Generator, t int64) { g.activity(k, t) }
		in.t = 0
		in.fire0(g)
		g.start(in, -1)
	}
}

// fire0 draws the first arrival without spawning anything.
func (in *intensity) fire0(g *Generator) {
	spawn := in.spawn
	in.spawn = func(*Generator, int64) {}
	in.fire(g)
	in.spawn = spawn
}

// clients are the hosts with users.
func (g *Generator) client(r *rng) *node { return g.clients[r.intn(len(g.clients))] }

func (g *Generator) newExchange(r *rng) *exchange {
	x := &exchange{r: r}
	return x
}

// chatter starts one background event of kind k at t.
func (g *Generator) chatter(k chatterKind, t int64) {
	r := g.br
	l := g.lan
	h := l.hosts[r.intn(len(l.hosts))]
	gw := l.gw
	x := g.newExchange(r)
	switch k {
	case chARPHost:
		uni := 0
		if h.os == osLinux || h.os == osApple {
			uni = 1 // a unicast probe of a stale entry
		}
		x.add(xstep{t: t, kind: xARPRequest, from: h, to: gw, a: uni})
		x.add(xstep{t: t + int64(r.between(200, 900))*1e3, kind: xARPReply, from: gw, to: h})
	case chARPGateway:
		x.add(xstep{t: t, kind: xARPRequest, from: gw, to: h})
		x.add(xstep{t: t + int64(r.between(300, 3000))*1e3, kind: xARPReply, from: h, to: gw})
	case chNTP:
		if h.role == rolePrinter {
			return
		}
		s := l.ntp[r.intn(len(l.ntp))]
		x.port = h.ephemeral(r)
		x.add(xstep{t: t, kind: xNTPRequest, from: h, srv: s})
		x.add(xstep{t: t + s.rtt, kind: xNTPReply, to: h, srv: s})
	case chMDNS:
		if h.os == osWindows {
			return
		}
		x.name = mdnsServices[r.intn(len(mdnsServices))]
		x.add(xstep{t: t, kind: xMDNSQuery, from: h})
		if h.has6 {
			x.v6 = true // the same query goes out on both families
			x.add(xstep{t: t + int64(r.between(50, 400))*1e3, kind: xMDNSQuery, from: h})
			g.start(x, -1)
			x = g.newExchange(r)
			x.name = mdnsServices[r.intn(len(mdnsServices))]
		}
		if dev := g.device(r, h); dev != nil && r.chance(0.5) {
			x.add(xstep{t: t + int64(r.between(20, 120))*1e6, kind: xMDNSReply, from: dev})
		}
	case chSSDPSearch:
		if h.os != osWindows && h.role != rolePhone {
			return
		}
		x.port = h.ephemeral(r)
		x.qtype = uint16(r.intn(len(ssdpTargets)))
		for i := 0; i < 3; i++ {
			x.add(xstep{t: t + int64(i)*int64(r.between(90, 110))*1e6, kind: xSSDPSearch, from: h})
		}
		x.add(xstep{t: t + int64(r.between(5, 900))*1e6, kind: xSSDPReply, from: gw, to: h})
		if dev := g.device(r, h); dev != nil {
			x.add(xstep{t: t + int64(r.between(5, 900))*1e6 + 1, kind: xSSDPReply, from: dev, to: h})
		}
		x.sortSteps()
	case chSSDPNotify:
		from := gw
		if tvs := g.tvs; len(tvs) > 0 && r.chance(0.6) {
			from = tvs[r.intn(len(tvs))]
		}
		for i := 0; i < 3; i++ {
			x.qtype = uint16(r.intn(len(ssdpTargets)))
			x.add(xstep{t: t + int64(i)*int64(r.between(1, 30))*1e6, kind: xSSDPNotify, from: from})
		}
	case chND:
		if !h.has6 {
			return
		}
		x.v6 = true
		x.add(xstep{t: t, kind: xNS, from: h, to: gw})
		x.add(xstep{t: t + int64(r.between(200, 900))*1e3, kind: xNA, from: gw, to: h})
	case chRA:
		x.v6 = true
		x.add(xstep{t: t, kind: xRA, from: gw})
	case chPing:
		c := g.client(r)
		x.id = r.u16()
		var srv *server
		var to *node
		if r.chance(0.5) {
			to = gw
		} else {
			srv = l.servers[r.intn(len(l.servers))]
		}
		for i := 0; i < 4; i++ {
			ts := t + int64(i)*1e9 + int64(r.between(0, 2000))*1e3
			x.add(xstep{t: ts, kind: xEchoRequest, from: c, to: to, srv: srv, a: i + 1})
			rtt := int64(r.between(200, 900)) * 1e3
			if srv != nil {
				rtt = r.jitterNS(srv.rtt, 0.1)
			}
			x.add(xstep{t: ts + rtt, kind: xEchoReply, from: to, to: c, srv: srv, a: i + 1})
		}
		x.sortSteps()
	}
	if x.n > 0 {
		g.start(x, -1)
	}
}

// sortSteps orders the steps by time (a few, insertion sort).
func (x *exchange) sortSteps() {
	for i := 1; i < x.n; i++ {
		for j := i; j > 0 && x.steps[j].t < x.steps[j-1].t; j-- {
			x.steps[j], x.steps[j-1] = x.steps[j-1], x.steps[j]
		}
	}
}

// device returns a host that answers discovery (printer, TV, NAS), not h.
func (g *Generator) device(r *rng, h *node) *node {
	if len(g.devices) == 0 {
		return nil
	}
	d := g.devices[r.intn(len(g.devices))]
	if d == h {
		return nil
	}
	return d
}

// activity starts one user activity of kind k at t.
func (g *Generator) activity(k activityKind, t int64) {
	r := g.br
	switch k {
	case actWeb:
		g.webVisit(r, t)
	case actHTTP:
		c := g.client(r)
		s := g.lan.servers[12+r.intn(4)] // update and package mirrors
		t = g.lookup(r, c, s, t)
		conn := g.newConn(r)
		conn.app, conn.name, conn.todo = appHTTP, s.name, r.between(1, 3)
		conn.open(g, t, c, nil, s, false, 80)
		g.start(conn, -1)
	case actBulk:
		g.bulk(r, t)
	}
}

func (g *Generator) newConn(r *rng) *tcpConn {
	return &tcpConn{r: r}
}

// lookup plans the DNS resolution of s by c at t (unless cached) and returns
// when the answer arrives.
func (g *Generator) lookup(r *rng, c *node, s *server, t int64) int64 {
	if r.chance(0.3) {
		return t // in the host's cache
	}
	end := t
	for _, q := range [2]uint16{dnsA, dnsAAAA} {
		if q == dnsAAAA && !c.has6 {
			continue
		}
		x := g.newExchange(r)
		x.id = r.u16()
		x.port = c.ephemeral(r)
		x.name = s.name
		x.qtype = q
		x.edns = c.os == osWindows || c.os == osApple
		if q == dnsA {
			x.ans, x.hasAns = s.ip4, true
		} else if s.has6 {
			x.ans, x.hasAns = s.ip6, true
		}
		if r.chance(0.25) {
			x.cname = "edge" + itoa(r.intn(40)) + ".cdn.example.net"
		}
		qt := t + int64(q/28)*int64(r.between(20, 300))*1e3
		var d int64
		if c.dns == g.lan.gw.ip4 {
			d = int64(r.between(300, 1500)) * 1e3 // cached by the gateway
			if r.chance(0.3) {
				d += r.jitterNS(s.rtt+15e6, 0.5) // asked upstream
			}
			x.add(xstep{t: qt, kind: xDNSQuery, from: c, to: g.lan.gw})
			x.add(xstep{t: qt + d, kind: xDNSReply, from: g.lan.gw, to: c})
		} else {
			d = r.jitterNS(g.lan.dns.rtt, 0.3)
			x.add(xstep{t: qt, kind: xDNSQuery, from: c, srv: g.lan.dns})
			x.add(xstep{t: qt + d, kind: xDNSReply, to: c, srv: g.lan.dns})
		}
		g.start(x, -1)
		end = max(end, qt+d)
	}
	return end + int64(r.between(100, 2000))*1e3
}

// webVisit plans a page load: a few names looked up, then one to a few TLS
// connections to each.
func (g *Generator) webVisit(r *rng, t int64) {
	c := g.client(r)
	l := g.lan
	nDomains := 1 + r.intn(3)
	for d := 0; d < nDomains; d++ {
		s := l.servers[g.zipf(r)]
		if r.chance(0.03) { // a typo or a search-domain suffix: NXDOMAIN, no connection
			x := g.newExchange(r)
			x.id, x.port, x.qtype, x.rcode = r.u16(), c.ephemeral(r), dnsA, 3
			x.name = "wpad.example.com"
			x.add(xstep{t: t, kind: xDNSQuery, from: c, to: l.gw})
			x.add(xstep{t: t + int64(r.between(500, 30000))*1e3, kind: xDNSReply, from: l.gw, to: c})
			g.start(x, -1)
			continue
		}
		ready := g.lookup(r, c, s, t+int64(d)*int64(r.between(5, 200))*1e6)
		conns := 1 + r.intn(2)
		if r.chance(0.2) {
			conns += 2
		}
		v6 := c.has6 && s.has6 && r.chance(0.7)
		for i := 0; i < conns; i++ {
			conn := g.newConn(r)
			conn.app, conn.name = appWeb, s.name
			conn.todo = 1 + int(r.exp()*3)
			conn.open(g, ready+int64(i)*int64(r.between(1, 50))*1e6, c, nil, s, v6, 443)
			g.start(conn, -1)
		}
	}
}

// zipf picks a server index, popular ones more often.
func (g *Generator) zipf(r *rng) int { return r.weighted(g.popularity) }

// bulk plans a large transfer whose packet rate is a fraction of the
// requested rate: a download over HTTPS, or a backup to the NAS over SSH.
func (g *Generator) bulk(r *rng, t int64) {
	c := g.client(r)
	frac := r.uniform(0.1, 0.35)
	dur := r.lognormal(60, 0.5)
	dur = min(dur, 600)
	pps := frac * g.cfg.Rate
	data := pps * 2 / 3 // data segments per second (an ACK every two)
	size := int(float64(data*dur) * 1400)
	size = max(size, 20000)
	conn := g.newConn(r)
	conn.big = size
	nas := g.lan.hosts[0]
	if c != nas && r.chance(0.4) {
		conn.app = appBackup
		conn.open(g, t, c, nas, nil, c.has6 && nas.has6 && r.chance(0.5), 22)
	} else {
		s := g.lan.servers[r.intn(len(g.lan.servers))]
		t = g.lookup(r, c, s, t)
		conn.app, conn.name, conn.todo = appDownload, s.name, 1
		conn.open(g, t, c, nil, s, c.has6 && s.has6 && r.chance(0.5), 443)
	}
	conn.bps = data * 1514 / 1e9
	g.start(conn, -1)
}
