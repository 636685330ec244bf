package trafficgen

import "encoding/binary"

// This file is the TCP connection engine: a three-way handshake, messages
// sent in MSS-sized segments paced by slow start and by the path's
// bandwidth, ACKs every second segment (a delayed ACK for an odd last one,
// cancelled when data carries the acknowledgment), TCP timestamps for the
// systems that use them, and a FIN or RST close. What the connection says
// (TLS, HTTP, SSH, FTP) is chosen by its app.

// endpoint is one side of a connection as the mirror port sees it.
type endpoint struct {
	mac   [6]byte
	ip    ipAddr
	port  uint16
	ttl   uint8
	os    osKind
	local bool  // a LAN host: its packets are seen as they leave it
	host  *node // the LAN node, nil for an Internet server
	idv   uint16
	flow  uint32

	seq, rcv   uint32 // next sequence number to send; next expected from the peer
	acked      uint32 // last acknowledgment number sent
	ackedValid bool
	ts         bool
	tsBase     uint32
	peerTS     uint32
	win        uint16
	mss        int
	cwnd       int
	unacked    int
}

func (e *endpoint) nextID() uint16 {
	if e.host != nil {
		return e.host.nextID()
	}
	e.idv++
	return e.idv
}

// ctl is a queued packet without payload: handshake, ACK, FIN, RST.
type ctl struct {
	t     int64
	side  uint8
	flags uint8
	seq   uint32
	ack   uint32
	pure  bool // a data ACK: its sequence number is taken when sent, and it is dropped when a later packet already acknowledged as much
	syn   bool
}

const ctlCap = 96

// appKind is what a connection carries.
type appKind uint8

const (
	appWeb      appKind = iota // HTTPS page loads
	appHTTP                    // plain HTTP downloads
	appDownload                // a large HTTPS download
	appBackup                  // an rsync-over-SSH upload to the NAS
	appSSHBrute                // one SSH login attempt series
	appFTPBrute                // one FTP login attempt series
	appRDPBrute                // one RDP login attempt
)

// tcpConn is one TCP connection. Side 0 opened it.
type tcpConn struct {
	r    *rng
	ep   [2]endpoint
	lag  [2]int64 // from seeing a packet sent to side i to seeing i's reaction
	bps  float64  // path bandwidth in bytes per nanosecond
	q    [ctlCap]ctl
	qn   int
	app  appKind
	step int
	todo int    // requests (or attempts) left
	name string // server name (TLS SNI, HTTP Host)
	big  int    // size of the bulk transfer

	// the message being sent
	tx struct {
		active     bool
		side       int
		size, sent int
		next       int64
		inRound    int
		roundStart int64
		lit        []byte
		record     bool
		off        int
	}
	litBuf [1700]byte
	closed bool
}

func (c *tcpConn) next() int64 {
	t := int64(never)
	if c.qn > 0 {
		t = c.q[0].t
	}
	if c.tx.active && c.qn < ctlCap-4 && c.tx.next < t {
		t = c.tx.next
	}
	return t
}

func (c *tcpConn) fire(g *Generator) bool {
	if c.tx.active && c.qn < ctlCap-4 && (c.qn == 0 || c.tx.next < c.q[0].t) {
		c.sendData(g)
		return true
	}
	k := c.q[0]
	copy(c.q[:c.qn-1], c.q[1:c.qn])
	c.qn--
	e := &c.ep[k.side]
	if k.pure {
		if e.ackedValid && !seqLess(e.acked, k.ack) {
			return false // superseded: a later packet already acknowledged this
		}
		k.seq = e.seq
	}
	c.emit(g, k.t, int(k.side), k.flags, k.seq, k.ack, k.syn, nil)
	return true
}

func seqLess(a, b uint32) bool { return int32(a-b) < 0 }

// push queues a control packet in time order.
func (c *tcpConn) push(k ctl) {
	if c.qn == ctlCap {
		return // cannot happen: data stops before the queue fills
	}
	i := c.qn
	for i > 0 && c.q[i-1].t > k.t {
		c.q[i] = c.q[i-1]
		i--
	}
	c.q[i] = k
	c.qn++
}

// lastQueued is the time of the last queued packet (or t if none is later).
func (c *tcpConn) lastQueued(t int64) int64 {
	if c.qn > 0 && c.q[c.qn-1].t > t {
		return c.q[c.qn-1].t
	}
	return t
}

// emit builds one segment from side s.
func (c *tcpConn) emit(g *Generator, t int64, s int, flags uint8, seq, ack uint32, syn bool, pl *payload) {
	e, p := &c.ep[s], &c.ep[1-s]
	var opts [40]byte
	n := 0
	if syn {
		n = synOptions(opts[:], e, s == 1 && p.ts, uint32(t/1e6))
	} else if e.ts {
		opts[0], opts[1], opts[2], opts[3] = 1, 1, 8, 10
		binary.BigEndian.PutUint32(opts[4:8], e.tsBase+uint32(t/1e6))
		binary.BigEndian.PutUint32(opts[8:12], e.peerTS)
		n = 12
	}
	if e.ts {
		p.peerTS = e.tsBase + uint32(t/1e6)
	}
	if flags&tcpACK != 0 {
		e.acked, e.ackedValid = ack, true
	}
	win := e.win
	if syn {
		win = 64240
		if e.os == osApple {
			win = 65535
		}
	}
	h := l3{src: e.ip, dst: p.ip, ttl: e.ttl, df: true, flow: e.flow}
	if !e.ip.v6 {
		h.id = e.nextID()
	}
	g.f.tcp(l2{dst: p.mac, src: e.mac}, &h, &tcpHdr{sport: e.port, dport: p.port, seq: seq, ack: ack, flags: flags, win: win, opts: opts[:n]}, pl)
	g.at = t
}

// synOptions writes the options of a SYN (or, with reply, of a SYN-ACK
// answering a client that asked for timestamps) as e's system does.
func synOptions(b []byte, e *endpoint, reply bool, now uint32) int {
	mss := uint16(1460)
	if e.ip.v6 {
		mss = 1440
	}
	put := func(p ...byte) int { return copy(b, p) }
	tsv := e.tsBase + now
	var n int
	switch {
	case reply || (e.ts && e.os == osLinux):
		put(2, 4, byte(mss>>8), byte(mss), 4, 2, 8, 10)
		binary.BigEndian.PutUint32(b[8:], tsv)
		binary.BigEndian.PutUint32(b[12:], e.peerTS)
		n = 16 + copy(b[16:], []byte{1, 3, 3, 7})
	case e.ts && e.os == osApple:
		put(2, 4, byte(mss>>8), byte(mss), 1, 3, 3, 6, 1, 1, 8, 10)
		binary.BigEndian.PutUint32(b[12:], tsv)
		binary.BigEndian.PutUint32(b[16:], 0)
		n = 20 + copy(b[20:], []byte{4, 2, 0, 0})
	case e.os == osEmbedded:
		n = put(2, 4, byte(mss>>8), byte(mss))
	default: // Windows, or a server answering a client without timestamps
		n = put(2, 4, byte(mss>>8), byte(mss), 1, 3, 3, 8, 1, 1, 4, 2)
	}
	return n
}

// open sets up the endpoints and queues the handshake at t. The client is a
// LAN host; the server is a LAN host (srvNode) or an Internet server.
func (c *tcpConn) open(g *Generator, t int64, cl *node, srvNode *node, srv *server, v6 bool, dport uint16) {
	r := c.r
	a, b := &c.ep[0], &c.ep[1]
	*a = endpoint{mac: cl.mac, ip: cl.ip4, port: cl.ephemeral(r), ttl: cl.ttl(), os: cl.os, local: true, host: cl, tsBase: cl.tsBase}
	if v6 {
		a.ip = cl.ip6
	}
	a.ts = cl.os == osLinux || cl.os == osApple
	if srvNode != nil {
		*b = lanEndpoint(srvNode, v6, dport)
		c.lag = [2]int64{int64(r.between(30, 200)) * 1e3, int64(r.between(40, 300)) * 1e3}
		c.bps = r.uniform(30, 110) / 1e3 // 30-110 MB/s on the LAN
	} else {
		*b = endpoint{mac: g.lan.gw.mac, ip: srv.ip4, port: dport, ttl: srv.ttl, os: osLinux, idv: r.u16(), tsBase: r.u32()}
		if v6 {
			b.ip = srv.ip6
		}
		c.lag = [2]int64{int64(r.between(30, 250)) * 1e3, r.jitterNS(srv.rtt, 0.15)}
		c.bps = r.uniform(1, 12) / 1e3 // 1-12 MB/s from the Internet
	}
	b.ts = a.ts
	c.handshake(t)
}

func lanEndpoint(n *node, v6 bool, port uint16) endpoint {
	e := endpoint{mac: n.mac, ip: n.ip4, port: port, ttl: n.ttl(), os: n.os, local: true, host: n, tsBase: n.tsBase}
	if v6 {
		e.ip = n.ip6
	}
	return e
}

// openFromInternet sets up a connection from an Internet host (ip, with
// the given round-trip time) to the LAN host srv, and queues the handshake.
func (c *tcpConn) openFromInternet(g *Generator, t int64, ip ipAddr, ttl uint8, rtt int64, srv *node, dport uint16) {
	r := c.r
	c.ep[0] = endpoint{mac: g.lan.gw.mac, ip: ip, port: uint16(r.between(32768, 60999)), ttl: ttl, os: osLinux, idv: r.u16(), tsBase: r.u32(), ts: true}
	c.ep[1] = lanEndpoint(srv, false, dport)
	c.ep[1].host, c.ep[1].idv = nil, r.u16() // its own IP ID counter: attacks leave benign packets unchanged
	c.ep[1].ts = srv.os == osLinux || srv.os == osApple
	c.ep[0].ts = c.ep[1].ts
	c.lag = [2]int64{r.jitterNS(rtt, 0.1), int64(r.between(40, 300)) * 1e3}
	c.bps = r.uniform(0.5, 4) / 1e3
	c.handshake(t)
}

// handshake resets the connection's state and queues SYN, SYN-ACK and ACK.
func (c *tcpConn) handshake(t int64) {
	r := c.r
	a, b := &c.ep[0], &c.ep[1]
	for i := range c.ep {
		e := &c.ep[i]
		e.seq = r.u32()
		e.win = uint16(r.between(500, 2000))
		e.cwnd = 10
		e.mss = 1460
		if e.ip.v6 {
			e.mss = 1440
			e.flow = r.u32() & 0xfffff
		}
		if e.ts {
			e.mss -= 12
		}
	}
	c.qn = 0
	c.tx.active = false
	c.closed = false
	c.step = 0
	t1 := t + c.lag[1]
	t2 := t1 + c.lag[0]
	c.push(ctl{t: t, side: 0, flags: tcpSYN, seq: a.seq, syn: true})
	c.push(ctl{t: t1, side: 1, flags: tcpSYN | tcpACK, seq: b.seq, ack: a.seq + 1, syn: true})
	c.push(ctl{t: t2, side: 0, flags: tcpACK, seq: a.seq + 1, ack: b.seq + 1})
	a.seq++
	b.seq++
	a.rcv, b.rcv = b.seq, a.seq
	c.advance(t2)
}

// send starts a message of size bytes from side s at time t. lit is its
// literal start (in c.litBuf); with record, the rest of every segment is a
// TLS application-data record.
func (c *tcpConn) send(s int, t int64, size int, lit []byte, record bool) {
	tx := &c.tx
	tx.active = true
	tx.side = s
	tx.size = max(size, len(lit))
	tx.sent = 0
	tx.next = t
	tx.inRound = 0
	tx.roundStart = t
	tx.lit = lit
	tx.record = record
	tx.off = c.r.intn(blockSize)
}

func (c *tcpConn) sendData(g *Generator) {
	tx := &c.tx
	s := tx.side
	e, p := &c.ep[s], &c.ep[1-s]
	t := tx.next
	left := tx.size - tx.sent
	n := min(e.mss, left)
	if tx.record && left-n > 0 && left-n < 6 {
		n -= 6 // keep room for a whole record in the last segment
	}
	var pl payload
	pl.n = n
	if tx.sent < len(tx.lit) {
		pl.lit = tx.lit[tx.sent:min(len(tx.lit), tx.sent+n)]
	}
	pl.record = tx.record && n-len(pl.lit) >= 6
	pl.off = (tx.off + tx.sent) % blockSize
	last := tx.sent+n == tx.size
	flags := uint8(tcpACK)
	if last {
		flags |= tcpPSH
	}
	seq := e.seq
	c.emit(g, t, s, flags, seq, e.rcv, false, &pl)
	e.seq += uint32(n)
	tx.sent += n
	p.rcv = e.seq

	// The receiver acknowledges every second segment, and a last odd one
	// after its delayed-ACK timer unless its own data carries the ACK.
	r := 1 - s
	p.unacked++
	if p.unacked >= 2 {
		c.push(ctl{t: t + c.lag[r], side: uint8(r), flags: tcpACK, ack: e.seq, pure: true})
		p.unacked = 0
	} else if last {
		d := int64(40e6)
		if p.os == osWindows {
			d = 100e6
		}
		c.push(ctl{t: t + c.lag[r] + d, side: uint8(r), flags: tcpACK, ack: e.seq, pure: true})
		p.unacked = 0
	}

	// Pacing: back-to-back at the path's bandwidth within a window; a
	// window is sent per round trip and doubles until the path is full.
	gap := int64(float64(n+66) / c.bps)
	gap = c.r.jitterNS(gap, 0.3)
	tx.inRound++
	rt := c.lag[0] + c.lag[1]
	if tx.inRound < e.cwnd {
		tx.next = t + gap
	} else {
		tx.roundStart = max(tx.roundStart+rt, t+gap)
		tx.inRound = 0
		full := int(rt/max(gap, 1)) + 2
		e.cwnd = min(e.cwnd*2, max(full, 10), 512)
		tx.next = tx.roundStart
	}
	if last {
		tx.active = false
		c.advance(t)
	}
}

// close queues the end of the connection, initiated by side s at t (after
// anything still queued): FIN exchange, or a RST. Sequence numbers are not
// advanced here because data ACKs still queued before the FIN must carry
// the sequence number that precedes it.
func (c *tcpConn) close(s int, t int64, rst bool) {
	t = c.lastQueued(t) + 1000
	e, p := &c.ep[s], &c.ep[1-s]
	c.closed = true
	if rst {
		c.push(ctl{t: t, side: uint8(s), flags: tcpRST | tcpACK, seq: e.seq, ack: e.rcv})
		return
	}
	t1 := t + c.lag[1-s]
	t2 := t1 + c.lag[s]
	c.push(ctl{t: t, side: uint8(s), flags: tcpFIN | tcpACK, seq: e.seq, ack: e.rcv})
	c.push(ctl{t: t1, side: uint8(1 - s), flags: tcpFIN | tcpACK, seq: p.seq, ack: e.seq + 1})
	c.push(ctl{t: t2, side: uint8(s), flags: tcpACK, seq: e.seq + 1, ack: p.seq + 1})
}

// think returns a server's processing time before it answers.
func (c *tcpConn) think(mean int64) int64 { return c.r.expNS(mean) + 200e3 }

// advance decides what the connection does once the handshake or a message
// is over at time t.
func (c *tcpConn) advance(t int64) {
	if c.closed {
		return
	}
	r := c.r
	c.step++
	switch c.app {
	case appWeb, appDownload:
		c.advanceTLS(t)
	case appHTTP:
		switch {
		case c.step%2 == 1 && c.todo > 0: // request
			c.todo--
			lit := httpRequest(c.litBuf[:0], c.name, r)
			c.send(0, t+int64(r.between(50, 400))*1e3, len(lit), lit, false)
		case c.step%2 == 0: // response
			size := int(r.lognormal(20e3, 1.2))
			if c.big > 0 {
				size = c.big
			}
			lit := httpResponse(c.litBuf[:0], size)
			c.send(1, t+c.lag[1]+c.think(15e6), len(lit)+size, lit, false)
		default:
			c.close(1, t+c.lag[1]+int64(r.between(1, 15))*1e9, false)
		}
	case appBackup:
		switch c.step {
		case 1:
			lit := append(c.litBuf[:0], "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"...)
			c.send(1, t+c.think(2e6), len(lit), lit, false)
		case 2:
			lit := append(c.litBuf[:0], "SSH-2.0-OpenSSH_9.6\r\n"...)
			c.send(0, t+c.lag[0]+200e3, len(lit), lit, false)
		case 3, 5, 7: // key exchange, then the encrypted upload
			c.send(0, t+c.lag[0]+500e3, []int{0, 0, 0, 1500, 0, 48, 0, c.big}[c.step], nil, false)
		case 4, 6:
			c.send(1, t+c.lag[1]+c.think(3e6), []int{0, 0, 0, 0, 1080, 0, 560}[c.step], nil, false)
		case 8:
			c.send(1, t+c.lag[1]+c.think(20e6), 64, nil, false)
		default:
			c.close(0, t+c.lag[0]+5e6, false)
		}
	case appSSHBrute:
		c.advanceSSHBrute(t)
	case appFTPBrute:
		c.advanceFTPBrute(t)
	case appRDPBrute:
		c.advanceRDPBrute(t)
	}
}

// advanceTLS runs a TLS 1.3 connection: ClientHello, the server's flight,
// the client's Finished with the first request, responses, further requests
// after a think time, then an idle close.
func (c *tcpConn) advanceTLS(t int64) {
	r := c.r
	switch {
	case c.step == 1:
		lit := clientHello(c.litBuf[:0], c.name, r, c.ep[0].os)
		c.send(0, t+int64(r.between(100, 900))*1e3, len(lit), lit, false)
	case c.step == 2:
		lit := serverHello(c.litBuf[:0], r)
		c.send(1, t+c.lag[1]+c.think(3e6), len(lit)+r.between(2400, 4800), lit, true)
	case c.step%2 == 1 && c.todo > 0: // a request (the first one after the Finished)
		c.todo--
		var lit []byte
		size := r.between(300, 1100)
		delay := c.lag[0] + int64(r.between(200, 2000))*1e3
		if c.step == 3 {
			lit = append(c.litBuf[:0], 0x14, 3, 3, 0, 1, 1) // ChangeCipherSpec
			size += 6 + 5 + 53
		} else if r.chance(0.55) {
			delay = int64(r.between(5, 120)) * 1e6 // the page's next resource
		} else {
			delay = r.expNS(4e9) + 300e6 // the user reads, then clicks
		}
		c.send(0, t+delay, size, lit, true)
	case c.step%2 == 0: // the response
		size := int(r.lognormal(3500, 1.5))
		size = min(max(size, 60), 3<<20)
		if c.big > 0 {
			size = c.big
		}
		c.send(1, t+c.lag[1]+c.think(8e6), size, nil, true)
	default: // idle, then closed by either side
		switch x := r.float(); {
		case x < 0.5:
			c.close(0, t+r.expNS(15e9)+1e9, false)
		case x < 0.85:
			c.close(1, t+c.lag[1]+int64(r.between(5, 65))*1e9, false)
		default:
			c.close(0, t+r.expNS(5e9)+100e6, true)
		}
	}
}

// advanceSSHBrute runs one connection of an SSH password guesser: version
// exchange, key exchange, a few failed password attempts, disconnection by
// the server.
func (c *tcpConn) advanceSSHBrute(t int64) {
	r := c.r
	switch c.step {
	case 1:
		lit := append(c.litBuf[:0], "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"...)
		c.send(1, t+c.think(2e6), len(lit), lit, false)
	case 2:
		lit := append(c.litBuf[:0], "SSH-2.0-libssh_0.9.6\r\n"...)
		c.send(0, t+c.lag[0]+100e3, len(lit), lit, false)
	case 3:
		c.send(0, t+200e3, r.between(900, 1100), nil, false) // KEXINIT
	case 4:
		c.send(1, t+c.lag[1]+c.think(1e6), r.between(1000, 1200), nil, false)
	case 5:
		c.send(0, t+c.lag[0]+300e3, 48, nil, false) // ECDH init
	case 6:
		c.send(1, t+c.lag[1]+c.think(4e6), r.between(500, 600), nil, false) // reply, NEWKEYS
	default:
		if c.todo <= 0 {
			c.close(1, t+c.lag[1]+1e6, false)
			return
		}
		if c.step%2 == 1 { // password attempt
			c.send(0, t+c.lag[0]+int64(r.between(1, 30))*1e6, r.between(80, 160), nil, false)
		} else { // failure, after the server's delay
			c.todo--
			c.send(1, t+c.lag[1]+int64(r.between(1500, 2500))*1e6, r.between(36, 64), nil, false)
		}
	}
}

// advanceFTPBrute runs one connection of an FTP password guesser.
func (c *tcpConn) advanceFTPBrute(t int64) {
	r := c.r
	say := func(s int, d int64, text string) {
		lit := append(c.litBuf[:0], text...)
		c.send(s, t+d, len(lit), lit, false)
	}
	switch {
	case c.step == 1:
		say(1, c.think(3e6), "220 (vsFTPd 3.0.5)\r\n")
	case c.todo <= 0 && c.step%4 == 2:
		say(0, c.lag[0]+500e3, "QUIT\r\n")
		c.todo = -1
	case c.todo < 0:
		if c.step%4 == 3 {
			say(1, c.lag[1]+c.think(1e6), "221 Goodbye.\r\n")
		} else {
			c.close(1, t+1e6, false)
		}
	case c.step%4 == 2:
		say(0, c.lag[0]+int64(r.between(1, 20))*1e6, "USER "+ftpUsers[r.intn(len(ftpUsers))]+"\r\n")
	case c.step%4 == 3:
		say(1, c.lag[1]+c.think(1e6), "331 Please specify the password.\r\n")
	case c.step%4 == 0:
		say(0, c.lag[0]+int64(r.between(1, 20))*1e6, "PASS "+guessPassword(r)+"\r\n")
	case c.step%4 == 1:
		c.todo--
		say(1, c.lag[1]+int64(r.between(2500, 3500))*1e6, "530 Login incorrect.\r\n")
	}
}

// x224Request is an RDP client's X.224 connection request (TPKT, the
// mstshash cookie, a negotiation request for TLS and CredSSP).
const x224Request = "\x03\x00\x00\x2b\x26\xe0\x00\x00\x00\x00\x00Cookie: mstshash=administr\r\n\x01\x00\x08\x00\x03\x00\x00\x00"

// x224Confirm is the server's connection confirm selecting CredSSP.
const x224Confirm = "\x03\x00\x00\x13\x0e\xd0\x00\x00\x12\x34\x00\x02\x1f\x08\x00\x02\x00\x00\x00"

// advanceRDPBrute runs one connection of an RDP password guesser: X.224
// negotiation, TLS handshake, a CredSSP (NTLM) login that the server
// refuses, then the server closes.
func (c *tcpConn) advanceRDPBrute(t int64) {
	r := c.r
	client := func(d int64, n int) { c.send(0, t+c.lag[0]+d, n, nil, false) }
	server := func(d int64, n int) { c.send(1, t+c.lag[1]+c.think(d), n, nil, false) }
	switch c.step {
	case 1:
		lit := append(c.litBuf[:0], x224Request...)
		c.send(0, t+int64(r.between(1, 5))*1e6, len(lit), lit, false)
	case 2:
		lit := append(c.litBuf[:0], x224Confirm...)
		c.send(1, t+c.lag[1]+c.think(1e6), len(lit), lit, false)
	case 3:
		client(300e3, r.between(180, 320)) // TLS ClientHello
	case 4:
		server(2e6, r.between(1100, 1600)) // ServerHello, certificate
	case 5:
		client(500e3, r.between(120, 160)) // key exchange, Finished
	case 6:
		server(1e6, 51)
	case 7:
		client(300e3, r.between(60, 90)) // NTLM negotiate
	case 8:
		server(1e6, r.between(250, 350)) // challenge
	case 9:
		client(int64(r.between(1, 20))*1e6, r.between(400, 600)) // authenticate
	case 10:
		server(int64(r.between(100, 300))*1e6, r.between(20, 40)) // logon failure
	default:
		c.close(1, t+c.lag[1]+1e6, false)
	}
}

var ftpUsers = []string{"admin", "root", "ftp", "user", "test", "backup", "guest", "administrator"}

var pwWords = []string{"password", "admin", "letmein", "qwerty", "welcome", "dragon", "monkey", "sunshine", "master", "shadow", "summer", "winter", "office", "secret"}

func guessPassword(r *rng) string {
	w := pwWords[r.intn(len(pwWords))]
	switch r.intn(3) {
	case 0:
		return w
	case 1:
		return w + string(rune('0'+r.intn(10))) + string(rune('0'+r.intn(10)))
	}
	return w + "!"
}
