package miner

import (
	"math"
	"time"
)

// Per-host state.
//
// An attack of a few packets a second from one host (a password guesser, a
// slow scan, a DNS tunnel) drowns in the window counts of everyone else's
// traffic. The Host* counters look at one host at a time: for each source
// address they keep a count of its recent events of one kind (new
// destination ports, failed connection attempts, ...) that decays with a
// half-life of HalfLife, and a window reports the largest count that any
// host reached in it (a host that was silent in the window does not
// count). Decay is what makes a slow attack visible in a short window: two
// connections a second add up to about 87, where one second holds two.
//
// Memory is fixed when the miner starts, whatever the traffic: a flood from
// a million spoofed sources finds every structure already allocated, and
// evicts entries or adds collisions instead of allocating. Per decoding
// worker:
//
//   - six count-min sketches (Cormode and Muthukrishnan, "An improved data
//     stream summary: the count-min sketch", 2005) of sketchDepth rows of
//     sketchWidth float32 cells, 32 KiB each. A key's estimate is the
//     smallest of its cells: it never falls below the key's true count, and
//     exceeds it by more than ε·M with probability at most δ, where M is the
//     (decayed) total of the other keys, ε = e/2048 = 0.13 % and
//     δ = e⁻⁴ = 1.8 %. Conservative update (a cell is raised only as far as
//     the key's new estimate) makes the excess much smaller in practice;
//     with fewer active keys than cells, estimates are almost always exact.
//     Under a spoofed flood the excess grows with the flood's mass: the
//     estimates of the sketches it feeds rise (new ports and addresses
//     reached about 221 per source during a flood of a million sources in
//     a second), and no host is hidden.
//   - a table of recently seen (source, destination port) and (source,
//     destination address) pairs, recentBuckets × 4 entries (384 KiB): a
//     pair counts as new once per recentTTL. When a bucket is full the
//     oldest pair is evicted and will count again: under a flood of new
//     pairs, counts are overestimated, never underestimated.
//   - a table of TCP connection attempts waiting for an answer,
//     pendingBuckets × 4 entries (192 KiB): a SYN answered by a SYN-ACK
//     succeeded; one answered by a RST, by an ICMP unreachable or by nothing
//     within synTimeout failed. An attempt evicted by a full bucket is
//     forgotten (neither failed nor succeeded), and its SYN-ACK then counts
//     as stray.
//
// Counts use the packets' own clock (the capture file's time on a replay),
// which never goes backwards for them: a packet out of order counts at the
// latest time seen.
//
// With several capture workers the kernel spreads flows over them, and each
// keeps its own state: a host's events are split among the workers, and the
// Host* counters, merged by their maximum, see up to one worker's share.

// HalfLife is the half-life of the per-host counts: a steady rate r of
// events adds up to r·HalfLife/ln 2, 43 times the rate per second, within a
// minute or two; an attack's count falls back below a few events a couple
// of minutes after it stops. On the tuning scenarios of docs/evaluation.md
// a minute detected the same attacks with more false alarms after them.
const HalfLife = 30 * time.Second

const (
	sketchDepth = 4
	sketchWidth = 2048 // a power of two up to 65536: a row index is 16 bits of the key's hash

	recentBuckets  = 4096 // × 4 entries
	pendingBuckets = 2048 // × 4 entries
	ways           = 4

	// recentTTL is how long a (source, port) or (source, address) pair
	// stays known: one seen again later counts as new again.
	recentTTL = 10 * time.Minute
	// synTimeout is how long a connection attempt may wait for its SYN-ACK
	// before it counts as failed (Linux retransmits a SYN after 1 s,
	// Windows after 3 s).
	synTimeout = 5 * time.Second
	// sweepEvery is the packet time in which the table of connection
	// attempts is swept for timeouts once.
	sweepEvery = time.Second

	// maxExp bounds the growth of the decay weight before the sketches are
	// rescaled: e^20 keeps float32 sums of millions of events finite.
	maxExp = 20
)

// Seeds of the key hashes, one per structure. They are fixed so that the
// same capture gives the same counts on every run and every machine.
const (
	seedHost    = 0x243f6a8885a308d3
	seedConn    = 0x13198a2e03707344
	seedPortKey = 0xa4093822299f31d0
	seedAddrKey = 0x082efa98ec4e6c89
	seedFailed  = 0x452821e638d01377
	seedStray   = 0xbe5466cf34e90c6c
	seedAuth    = 0xc0ac29b7c97c50dd
	seedPorts   = 0x3f84d5b5b5470917
	seedAddrs   = 0x9216d5d98979fb1b
	seedDNS     = 0xd1310ba698dfb5ac
)

// sketch is a count-min sketch of decayed counts. A cell holds counts
// multiplied by the decay clock's weight at the time they were added (see
// decayClock); a key's count now is its estimate divided by the weight now.
type sketch struct {
	cells [sketchDepth * sketchWidth]float32
}

// index returns the cell of row r for key hash h.
func index(h uint64, r int) int {
	return r*sketchWidth + int(h>>(16*r))&(sketchWidth-1)
}

// addCU adds g to key h with conservative update and returns the key's new
// estimate.
func (s *sketch) addCU(h uint64, g float32) float32 {
	i0, i1, i2, i3 := index(h, 0), index(h, 1), index(h, 2), index(h, 3)
	c := &s.cells
	m := min(c[i0], c[i1], c[i2], c[i3]) + g
	c[i0], c[i1], c[i2], c[i3] = max(c[i0], m), max(c[i1], m), max(c[i2], m), max(c[i3], m)
	return m
}

// estimate returns the estimate of key h.
func (s *sketch) estimate(h uint64) float32 {
	c := &s.cells
	return min(c[index(h, 0)], c[index(h, 1)], c[index(h, 2)], c[index(h, 3)])
}

// scale multiplies every cell by f.
func (s *sketch) scale(f float32) {
	for i := range s.cells {
		s.cells[i] *= f
	}
}

// decayClock turns the packets' times into weights: an event at time t
// weighs exp(λ(t − origin)), so that a sum of weights divided by the weight
// now is the sum of exp(−λ·age). The weight is recomputed when the clock
// has moved by a quantum (HalfLife/4096, 7 ms: counts are exact to 0.02 %);
// when it would overflow, the origin moves to now and the sketches are
// rescaled.
type decayClock struct {
	lambda  float64 // per nanosecond
	quantum int64
	origin  int64
	now     int64 // the latest packet time
	next    int64 // when the weight is recomputed
	g, inv  float32
	started bool
}

func newDecayClock() decayClock {
	return decayClock{lambda: math.Ln2 / float64(HalfLife), quantum: int64(HalfLife / 4096), g: 1, inv: 1}
}

// advance moves the clock to t (never backwards). When the origin moved,
// it returns true and the factor by which every sketch must be multiplied
// (0 after a long gap: everything decayed).
func (c *decayClock) advance(t int64) (float32, bool) {
	if !c.started {
		c.started = true
		c.origin, c.now, c.next = t, t, t+c.quantum
		return 0, false
	}
	if t <= c.now {
		return 0, false
	}
	c.now = t
	if t < c.next {
		return 0, false
	}
	c.next = t + c.quantum
	x := c.lambda * float64(elapsed(t, c.origin))
	if x <= maxExp {
		c.g = float32(math.Exp(x))
		c.inv = 1 / c.g
		return 0, false
	}
	c.origin = t
	c.g, c.inv = 1, 1
	return float32(math.Exp(-x)), true
}

// entry is a slot of a table: key 0 is free.
type entry struct {
	key uint64
	val uint64
	t   int64
}

// table is a set-associative hash table of fixed size: a key has a bucket
// of 4 slots; a full bucket evicts its oldest entry.
type table struct {
	e    []entry
	mask uint64
}

func newTable(buckets int) table {
	return table{e: make([]entry, buckets*ways), mask: uint64(buckets - 1)}
}

// slot maps a hash to a non-zero key and its bucket.
func (tb *table) slot(h uint64) (key uint64, b []entry) {
	key = h | 1
	i := int((h>>40)&tb.mask) * ways
	return key, tb.e[i : i+ways : i+ways]
}

// find returns the entry of h, or nil.
func (tb *table) find(h uint64) *entry {
	key, b := tb.slot(h)
	for i := range b {
		if b[i].key == key {
			return &b[i]
		}
	}
	return nil
}

// put returns the entry of h and true if it was there, or a slot claimed
// for it (a free one, else the oldest) and false; a claimed slot has key
// set and the rest to be filled.
func (tb *table) put(h uint64) (*entry, bool) {
	key, b := tb.slot(h)
	old := 0
	for i := range b {
		switch {
		case b[i].key == key:
			return &b[i], true
		case b[i].key == 0:
			old = i
			b[i].t = math.MinInt64
		case b[i].t < b[old].t:
			old = i
		}
	}
	b[old] = entry{key: key}
	return &b[old], false
}

// hosts is the per-host state of one decoding worker.
type hosts struct {
	clk decayClock

	failed, stray, auth, ports, addrs, dns sketch

	recent   table // pairs seen: val unused, t last seen
	pending  table // connection attempts: val the initiator's key, t the SYN's time
	swept    int64 // packet time up to which pending is swept
	sweepAt  int   // next bucket to sweep
	sweeping bool
}

// The kinds of per-host counts.
const (
	hFailed = iota
	hStray
	hAuth
	hPorts
	hAddrs
	hDNS
)

func (h *hosts) field(w *window, i int) *float64 {
	switch i {
	case hFailed:
		return &w.c.HostFailed
	case hStray:
		return &w.c.HostStraySYNACK
	case hAuth:
		return &w.c.HostAuth
	case hPorts:
		return &w.c.HostDstPorts
	case hAddrs:
		return &w.c.HostDstAddrs
	}
	return &w.c.HostDNS
}

// note raises the window's count of kind i to v.
func (h *hosts) note(w *window, i int, v float64) {
	f := h.field(w, i)
	*f = max(*f, v)
}

func newHosts() *hosts {
	return &hosts{clk: newDecayClock(), recent: newTable(recentBuckets), pending: newTable(pendingBuckets)}
}

func (h *hosts) sketches() [6]*sketch {
	return [6]*sketch{&h.failed, &h.stray, &h.auth, &h.ports, &h.addrs, &h.dns}
}

// advance moves the clock to the packet time t and sweeps the connection
// attempts that timed out into w.
func (h *hosts) advance(t int64, w *window) {
	if f, rescale := h.clk.advance(t); rescale {
		for _, s := range h.sketches() {
			s.scale(f)
		}
	}
	now := h.clk.now
	if !h.sweeping {
		h.sweeping, h.swept = true, now
		return
	}
	if elapsed(now, h.swept) < uint64(sweepEvery)/pendingBuckets {
		return
	}
	// Sweep the buckets that the time elapsed since the last sweep is due:
	// the whole table once per sweepEvery.
	n := pendingBuckets
	if d := elapsed(now, h.swept); d < uint64(sweepEvery) {
		n = int(d * pendingBuckets / uint64(sweepEvery))
	}
	h.swept = now
	for ; n > 0; n-- {
		b := h.pending.e[h.sweepAt*ways : h.sweepAt*ways+ways]
		for i := range b {
			if b[i].key != 0 && elapsed(now, b[i].t) > uint64(synTimeout) {
				h.fail(b[i].val, w)
				b[i] = entry{}
			}
		}
		h.sweepAt = (h.sweepAt + 1) % pendingBuckets
	}
}

// count returns an estimate in counts now.
func (h *hosts) count(est float32) float64 { return float64(est * h.clk.inv) }

func (h *hosts) fail(initiator uint64, w *window) {
	h.note(w, hFailed, h.count(h.failed.addCU(mix64(initiator^seedFailed), h.clk.g)))
}

// elapsed is the time from then to now, two times of the per-host clock,
// which never goes back: exact even when a crafted file puts them
// centuries apart, beyond what an int64 difference holds.
func elapsed(now, then int64) uint64 { return uint64(now) - uint64(then) }

// newPair counts a new (source, destination port) or (source, destination
// address) pair, and reports whether it was new.
func (h *hosts) newPair(key uint64) bool {
	e, seen := h.recent.put(key)
	now := h.clk.now
	fresh := !seen || elapsed(now, e.t) > uint64(recentTTL)
	e.t = now
	return fresh
}

// hostKey is the hash of a host address shared by every structure.
func hostKey(a addr) uint64 { return hashAddr(a, seedHost) }

// connKey identifies a TCP connection by its initiator's side first.
func connKey(ka, kb uint64, pa, pb uint16) uint64 {
	return mix64(ka^seedConn^uint64(pa)<<16^uint64(pb)) ^ kb
}

// Transport protocols of the destination port pairs.
const (
	pairTCP = 6
	pairUDP = 17
)

// contact counts a contact from host ka (key) to host kb: a new connection
// attempt (proto pairTCP), a UDP datagram to a lower port (pairUDP), or an
// ICMP echo request (proto 0: no port).
func (h *hosts) contact(ka, kb uint64, proto uint8, port uint16, w *window) {
	g := h.clk.g
	if proto != 0 && h.newPair(mix64(ka^seedPortKey^uint64(proto)<<16^uint64(port))) {
		h.note(w, hPorts, h.count(h.ports.addCU(mix64(ka^seedPorts), g)))
	}
	if h.newPair(mix64(ka^seedAddrKey) ^ kb) {
		h.note(w, hAddrs, h.count(h.addrs.addCU(mix64(ka^seedAddrs), g)))
	}
}

// authPort reports the TCP ports of services that take a password, whose
// connection attempts from one source count in HostAuth.
func authPort(p uint16) bool {
	switch p {
	case 21, 22, 23, // FTP, SSH, Telnet
		110, 143, 993, 995, // POP3, IMAP
		1433, 1521, 3306, 5432, 6379, 27017, // SQL Server, Oracle, MySQL, PostgreSQL, Redis, MongoDB
		1883, 8883, // MQTT
		3389,       // RDP
		5900, 5901, // VNC
		5985, 5986: // WinRM
		return true
	}
	return false
}

// syn counts a TCP segment with SYN and without ACK from a:pa to b:pb.
func (h *hosts) syn(ka, kb uint64, pa, pb uint16, w *window) {
	e, seen := h.pending.put(connKey(ka, kb, pa, pb))
	if seen {
		return // a retransmission: the same attempt
	}
	e.val, e.t = ka, h.clk.now
	h.contact(ka, kb, pairTCP, pb, w)
	if authPort(pb) {
		k := mix64(ka^seedAuth^uint64(pb)) ^ uint64(pb)
		h.note(w, hAuth, h.count(h.auth.addCU(k, h.clk.g)))
	}
}

// synack counts a SYN-ACK from b:pb to a:pa: the answer to a's attempt, or
// a stray one.
func (h *hosts) synack(kb, ka uint64, pb, pa uint16, w *window) {
	if e := h.pending.find(connKey(ka, kb, pa, pb)); e != nil {
		*e = entry{}
		return
	}
	h.note(w, hStray, h.count(h.stray.addCU(mix64(ka^seedStray), h.clk.g)))
}

// refused counts a RST from b:pb to a:pa, or an ICMP unreachable about a
// TCP segment from a:pa to b:pb: a's attempt, if one is waiting, failed.
// It reports whether one was.
func (h *hosts) refused(ka, kb uint64, pa, pb uint16, w *window) bool {
	e := h.pending.find(connKey(ka, kb, pa, pb))
	if e == nil {
		return false
	}
	h.fail(e.val, w)
	*e = entry{}
	return true
}

// unreachable counts an ICMP unreachable received by host ka about
// something other than a waiting TCP attempt.
func (h *hosts) unreachable(ka uint64, w *window) { h.fail(ka, w) }

// dnsQuery counts a DNS query of host ka.
func (h *hosts) dnsQuery(ka uint64, w *window) {
	h.note(w, hDNS, h.count(h.dns.addCU(mix64(ka^seedDNS), h.clk.g)))
}
