package socket

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"netspot/core/sink/internal/backoff"
)

// Reconnection waits: from minRetry, doubling after each failure, up to
// maxRetry. A peer that hangs up is called back at once.
const (
	minRetry = time.Second
	maxRetry = time.Minute
)

// message is one encoded record or alarm, kept until it is sent.
type message struct {
	b     []byte
	alarm bool
}

type peerState uint8

const (
	stateNew peerState = iota // never connected yet
	stateUp
	stateDown
)

// peer is one destination address: its connection, the messages not yet
// sent, and when to try again. It is used under the Sink's lock.
type peer struct {
	addr    Address
	role    string // "data", "alarm", or "data and alarm"
	timeout time.Duration
	max     int // backlog limit
	header  func() []byte
	log     *slog.Logger
	wg      *sync.WaitGroup // reader goroutines

	conn    net.Conn
	hungUp  chan struct{} // closed when a connection's peer hangs up
	backlog []message     // oldest first
	retryAt time.Time
	backoff backoff.Backoff
	state   peerState

	// outage counts what was dropped since the peer was last reachable,
	// for the log line that reports its return.
	outageDropped, outageAlarms uint64
	dataDropLogged              bool // the first data drop of an outage is logged
	stats                       PeerStats
}

// PeerStats counts what happened to the messages for one address.
type PeerStats struct {
	Address       string
	Role          string // data, alarm, or data and alarm
	Connected     bool
	Sent          uint64 // messages written to the socket
	Backlog       int    // messages waiting for the peer
	Dropped       uint64 // messages lost: backlog full, too large for a datagram, or left at exit
	DroppedAlarms uint64 // alarm messages among Dropped
}

func (p *peer) enqueue(m message) { p.backlog = append(p.backlog, m) }

// flush sends the backlog, connecting first if needed and if the backoff
// allows it. Everything it does ends by time.Now()+timeout. A peer that
// cannot be reached leaves the backlog in place.
func (p *peer) flush(now time.Time, ignoreBackoff bool) {
	if len(p.backlog) == 0 {
		return
	}
	deadline := time.Now().Add(p.timeout)
	if p.conn != nil && p.peerHungUp() {
		p.disconnect()
		p.retryAt = time.Time{} // call back at once: it is probably restarting
	}
	if p.conn == nil {
		if !ignoreBackoff && now.Before(p.retryAt) {
			return
		}
		if err := p.connect(deadline); err != nil {
			p.down(now, err)
			return
		}
	}
	for len(p.backlog) > 0 {
		m := p.backlog[0]
		if err := p.write(m.b, deadline); err != nil {
			if errors.Is(err, syscall.EMSGSIZE) {
				p.backlog = p.backlog[1:]
				p.drop(m, "message larger than a datagram can carry")
				continue
			}
			p.disconnect()
			p.down(now, err)
			return
		}
		p.backlog[0] = message{}
		p.backlog = p.backlog[1:]
		p.stats.Sent++
	}
	p.backlog = nil // let the array go; a new one is made at the next message
	p.up()
}

func (p *peer) connect(deadline time.Time) error {
	d := net.Dialer{Deadline: deadline}
	conn, err := d.Dial(p.addr.Network, p.addr.Addr)
	if err != nil {
		return err
	}
	p.conn = conn
	if !p.addr.Datagram() {
		p.hungUp = make(chan struct{})
		p.wg.Add(1)
		go watch(conn, p.hungUp, p.wg)
		if h := p.header(); h != nil {
			if err := p.write(h, deadline); err != nil {
				p.disconnect()
				return err
			}
		}
	}
	return nil
}

// watch reads a connection until it ends, discarding what the peer sends
// (nothing, normally), so that a peer that hangs up is noticed before the
// next message is written into a dead connection.
func watch(conn net.Conn, hungUp chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	defer close(hungUp)
	buf := make([]byte, 512)
	for {
		if _, err := conn.Read(buf); err != nil {
			return
		}
	}
}

func (p *peer) peerHungUp() bool {
	select {
	case <-p.hungUp:
		return true
	default:
		return false
	}
}

// write sends one message. On a datagram socket a CSV message is preceded
// by its header in the same datagram, so that each datagram stands alone.
func (p *peer) write(b []byte, deadline time.Time) error {
	if err := p.conn.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if p.addr.Datagram() {
		if h := p.header(); h != nil {
			b = append(append(make([]byte, 0, len(h)+len(b)), h...), b...)
		}
	}
	_, err := p.conn.Write(b)
	return err
}

func (p *peer) disconnect() {
	if p.conn != nil {
		p.conn.Close() // also ends the reader goroutine
		p.conn = nil
	}
}

func (p *peer) down(now time.Time, err error) {
	p.retryAt = now.Add(p.backoff.Next())
	if p.state != stateDown {
		p.log.Warn("socket peer unreachable: messages are kept until it is back",
			"address", p.addr.String(), "for", p.role, "err", err, "backlog_limit", p.max)
	}
	p.state = stateDown
}

func (p *peer) up() {
	switch p.state {
	case stateNew:
		p.log.Info("socket connected", "address", p.addr.String(), "for", p.role)
	case stateDown:
		p.log.Info("socket peer reachable again", "address", p.addr.String(), "for", p.role,
			"dropped", p.outageDropped, "dropped_alarms", p.outageAlarms)
	}
	if p.state == stateDown {
		p.outageDropped, p.outageAlarms = 0, 0
		p.dataDropLogged = false
	}
	p.state = stateUp
	p.backoff.Reset()
}

// trim drops the oldest messages beyond the backlog limit, data before
// alarms. It returns how many it dropped and how many were alarms.
func (p *peer) trim() (dropped, alarms int) {
	for len(p.backlog) > p.max {
		victim := 0
		for i, m := range p.backlog {
			if !m.alarm {
				victim = i
				break
			}
		}
		m := p.backlog[victim]
		copy(p.backlog[victim:], p.backlog[victim+1:])
		p.backlog[len(p.backlog)-1] = message{}
		p.backlog = p.backlog[:len(p.backlog)-1]
		p.drop(m, "backlog full")
		dropped++
		if m.alarm {
			alarms++
		}
	}
	return dropped, alarms
}

// drop counts a lost message. Every lost alarm is logged; lost data only
// once until the peer is back from an outage.
func (p *peer) drop(m message, why string) {
	p.stats.Dropped++
	p.outageDropped++
	if m.alarm {
		p.stats.DroppedAlarms++
		p.outageAlarms++
		p.log.Error("socket: alarm dropped", "address", p.addr.String(), "reason", why,
			"dropped_alarms_total", p.stats.DroppedAlarms)
		return
	}
	if !p.dataDropLogged {
		p.dataDropLogged = true
		p.log.Warn("socket: dropping data messages", "address", p.addr.String(), "reason", why)
	}
}

func (p *peer) snapshot() PeerStats {
	st := p.stats
	st.Address = p.addr.String()
	st.Role = p.role
	st.Connected = p.conn != nil
	st.Backlog = len(p.backlog)
	return st
}
