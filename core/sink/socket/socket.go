// Package socket sends data records and alarms to a Unix or network socket
// (the [exporter.socket] section), for a local program or a collector to
// consume: JSON lines in the format of the console and file sinks, or CSV.
//
// The sink is a transport on the fan-out's queue (see package sink): a
// peer that is not there yet, goes away or does not read within the
// timeout makes Write return an Unreachable error, and the fan-out keeps
// the Record (alarms before data, up to backlog Records) and writes it
// again later. Connecting and sending one Record never take longer than
// the timeout, so a dead or stuck peer cannot hold netspot up, and Close
// makes a Write in progress return at once.
//
// Each address remembers the last Record it received, and how many of its
// messages: a Record written again after a partial failure (one address
// reachable, the other not) sends each message once. A message cut by a
// failed write on a connection is sent again whole on the next connection:
// a reader should drop an incomplete last line when a connection ends.
//
// On a connection (tcp, unix, unixpacket), a CSV stream starts with its
// header line on every new connection. On datagram sockets (udp, unixgram)
// every message is one datagram, and a CSV datagram carries the header line
// before its row, so that each datagram can be read on its own. A message
// too large for a datagram is dropped, not retried: Write goes on with the
// other messages and then reports the loss with a plain error, so that the
// fan-out counts the Record as failed; a dropped alarm is logged as an error.
package socket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"netspot/core/event"
	"netspot/core/sink"
)

// Sink writes to the data and alarm addresses of its Config.
type Sink struct {
	enc     encoder
	csv     *csvEncoder // enc when the format is csv
	peers   []*peer     // the alarm address first; one when data and alarm share it
	data    *peer
	alarm   *peer // may be data
	timeout time.Duration
	log     *slog.Logger
	warned  bool // a statistic missing from the CSV header was logged

	// lostFor is the Record whose messages in lost were too large to send.
	lostFor *event.Record
	lost    []error

	ctx    context.Context // canceled by Close: ends a connection attempt
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and the peers' connections
	closed bool
	wg     sync.WaitGroup // hang-up watchers
}

// peer is one destination address and its connection. Only Write changes
// it, except conn, which Close may also close and clear (under Sink.mu).
type peer struct {
	addr   Address
	role   string // "data", "alarm", or "data and alarm"
	header func() []byte
	conn   net.Conn
	hungUp chan struct{} // closed when the connection's peer hangs up
	once   bool          // connected at least once

	// last is the Record this address was sent last, and done how many of
	// its messages it received.
	last *event.Record
	done int
}

// errClosed is returned by Write after Close.
var errClosed = fmt.Errorf("socket sink closed: %w", net.ErrClosed)

// New returns a sink for cfg; env.Series names the run in every message.
// It does not connect: the first Write does.
func New(cfg Config, env sink.Env) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sink{timeout: cfg.Timeout.D(), log: env.Log}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	switch cfg.Format {
	case "csv":
		s.csv = newCSVEncoder(env.Series, cfg.Tag)
		s.enc = s.csv
	default:
		s.enc = &jsonEncoder{series: env.Series, tag: cfg.Tag}
	}
	newPeer := func(address, role string, header func() []byte) *peer {
		a, _ := ParseAddress(address) // checked by Validate
		return &peer{addr: a, role: role, header: header}
	}
	if cfg.Data != "" {
		s.data = newPeer(cfg.Data, "data", s.enc.dataHeader)
	}
	switch {
	case cfg.Alarm == "":
	case cfg.Alarm == cfg.Data:
		s.alarm = s.data
		s.data.role = "data and alarm"
	default:
		s.alarm = newPeer(cfg.Alarm, "alarm", s.enc.alarmHeader)
	}
	if s.alarm != nil {
		s.peers = append(s.peers, s.alarm)
	}
	if s.data != nil && s.data != s.alarm {
		s.peers = append(s.peers, s.data)
	}
	return s, nil
}

// Write sends r's messages (one per alarm to the alarm address, then its
// data record to the data address) to each address that has not received
// them yet, all within one timeout. An address that cannot be reached, or
// does not take a message in time, makes it return an Unreachable error
// (the other address still has its turn if time is left): the fan-out
// writes r again later.
func (s *Sink) Write(r *event.Record) error {
	deadline := time.Now().Add(s.timeout)
	if s.lostFor != r {
		s.lostFor, s.lost = r, nil
	}
	var down []error
	for _, p := range s.peers {
		if p.last != r {
			p.last, p.done = r, 0
		}
		n := s.count(p, r)
		if p.done < n && !time.Now().Before(deadline) {
			// The other address took all the time: this one is left
			// alone (its connection is fine) until the next attempt.
			down = append(down, fmt.Errorf("socket %s: not tried, the timeout was spent on the other address", p.addr))
			continue
		}
		for ; p.done < n; p.done++ {
			msg, alarm := s.message(p, r, p.done)
			err := s.send(p, msg, deadline)
			if errors.Is(err, syscall.EMSGSIZE) {
				s.tooLarge(p, r, msg, alarm)
				continue
			}
			if err != nil {
				down = append(down, fmt.Errorf("socket %s: %w", p.addr, err))
				break
			}
		}
	}
	if len(down) > 0 {
		return sink.Unreachable(errors.Join(down...))
	}
	err := errors.Join(s.lost...)
	s.lostFor, s.lost = nil, nil
	return err
}

// count returns the number of r's messages for p.
func (s *Sink) count(p *peer, r *event.Record) int {
	n := 0
	if p == s.alarm {
		n += len(r.Alarms)
	}
	if p == s.data {
		n++
	}
	return n
}

// message encodes r's message i for p: its alarms first (for the alarm
// address), then its data record.
func (s *Sink) message(p *peer, r *event.Record, i int) (msg []byte, alarm bool) {
	if p == s.alarm && i < len(r.Alarms) {
		return s.enc.alarm(&r.Alarms[i]), true
	}
	msg = s.enc.data(r)
	if s.csv != nil && s.csv.unknown != "" && !s.warned {
		s.warned = true
		s.log.Warn("a statistic is not in the CSV header and is not sent", "stat", s.csv.unknown)
	}
	return msg, false
}

// tooLarge notes a message that no datagram can carry: it is dropped.
func (s *Sink) tooLarge(p *peer, r *event.Record, msg []byte, alarm bool) {
	kind := "data"
	if alarm {
		kind = "alarm"
		s.log.Error("alarm dropped: too large for a datagram", "address", p.addr.String(), "bytes", len(msg))
	}
	s.lost = append(s.lost, fmt.Errorf("socket %s: %s message of window %s dropped: %d bytes, too large for a datagram",
		p.addr, kind, r.Start.UTC().Format(time.RFC3339), len(msg)))
}

// send writes one message to p, connecting first if needed. On a datagram
// socket a CSV message is preceded by its header in the same datagram, so
// that each datagram stands alone. A failed write ends the connection,
// except EMSGSIZE, which only concerns the message.
func (s *Sink) send(p *peer, b []byte, deadline time.Time) error {
	c, err := s.connection(p, deadline)
	if err != nil {
		return err
	}
	if p.addr.Datagram() {
		if h := p.header(); h != nil {
			b = append(append(make([]byte, 0, len(h)+len(b)), h...), b...)
		}
	}
	err = write(c, b, deadline)
	if err != nil && !errors.Is(err, syscall.EMSGSIZE) {
		s.disconnect(p, c)
	}
	return err
}

func write(c net.Conn, b []byte, deadline time.Time) error {
	if err := c.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := c.Write(b)
	return err
}

// connection returns p's connection, making a new one (with its header
// on a stream) if there is none or if its peer hung up.
func (s *Sink) connection(p *peer, deadline time.Time) (net.Conn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	c := p.conn
	if c != nil && p.hungUp != nil {
		select {
		case <-p.hungUp:
			c.Close()
			p.conn, c = nil, nil
			s.log.Debug("socket peer hung up: connecting again", "address", p.addr.String())
		default:
		}
	}
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}

	d := net.Dialer{Deadline: deadline}
	c, err := d.DialContext(s.ctx, p.addr.Network, p.addr.Addr)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return nil, errClosed
	}
	p.conn, p.hungUp = c, nil
	if !p.addr.Datagram() {
		p.hungUp = make(chan struct{})
		s.wg.Add(1)
		go watch(c, p.hungUp, &s.wg)
	}
	s.mu.Unlock()
	if !p.once {
		p.once = true
		s.log.Info("socket connected", "address", p.addr.String(), "for", p.role)
	} else {
		s.log.Debug("socket connected again", "address", p.addr.String(), "for", p.role)
	}
	if !p.addr.Datagram() {
		if h := p.header(); h != nil {
			if err := write(c, h, deadline); err != nil {
				s.disconnect(p, c)
				return nil, err
			}
		}
	}
	return c, nil
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

// disconnect closes c, p's connection unless Close got there first.
func (s *Sink) disconnect(p *peer, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Close() // also ends the watcher
	if p.conn == c {
		p.conn = nil
	}
}

// Close closes the connections, which makes a Write in progress return,
// and waits for their watchers. What is still queued is the fan-out's.
func (s *Sink) Close() error {
	s.cancel()
	s.mu.Lock()
	s.closed = true
	for _, p := range s.peers {
		if p.conn != nil {
			p.conn.Close()
			p.conn = nil
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
