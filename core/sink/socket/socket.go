// Package socket sends data records and alarms to a Unix or network socket
// (the [exporter.socket] section), for a local program or a collector to
// consume: JSON lines in the format of the console and file sinks, or CSV.
//
// A peer that is not there yet, or goes away, does not stop netspot: each
// message is kept in a bounded backlog (alarms before data) until the
// connection is back, reconnection attempts are spaced out from one second
// up to a minute, and connecting or writing never takes longer than the
// configured timeout, so a dead or stuck peer cannot hold the fan-out. Lost
// messages are counted and logged once per outage (every lost alarm is
// logged).
//
// On a connection (tcp, unix, unixpacket), a CSV stream starts with its
// header line on every new connection. On datagram sockets (udp, unixgram)
// every message is one datagram, and a CSV datagram carries the header line
// before its row, so that each datagram can be read on its own. A message
// cut by a failed write is sent again whole on the next connection: a reader
// should drop an incomplete last line when a connection ends.
package socket

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"netspot/core/event"
	"netspot/core/sink/internal/backoff"
)

// Options are what the sink needs from the program.
type Options struct {
	// Log receives connection changes and losses; nil discards them.
	Log *slog.Logger
	// Now is the clock that spaces out reconnection attempts; time.Now when
	// nil. (Deadlines on the sockets use the system clock.)
	Now func() time.Time
}

// Sink writes to the data and alarm addresses of its Config.
type Sink struct {
	mu     sync.Mutex
	enc    encoder
	csv    *csvEncoder // enc when the format is csv
	data   *peer
	alarm  *peer // may be data
	now    func() time.Time
	log    *slog.Logger
	wg     sync.WaitGroup
	closed bool
	warned bool // a statistic missing from the CSV header was logged
}

// New returns a sink for cfg; series names the run in every message. It
// does not connect: the first Write does, and a peer that is not there yet
// is only logged.
func New(cfg Config, series string, opts Options) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sink{now: opts.Now, log: opts.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Format {
	case "csv":
		s.csv = newCSVEncoder(series, cfg.Tag)
		s.enc = s.csv
	default:
		s.enc = &jsonEncoder{series: series, tag: cfg.Tag}
	}
	newPeer := func(address, role string, header func() []byte) *peer {
		a, _ := ParseAddress(address) // checked by Validate
		return &peer{addr: a, role: role, timeout: cfg.Timeout.D(), max: cfg.Backlog,
			header: header, log: s.log, wg: &s.wg,
			backoff: backoff.Backoff{Min: minRetry, Max: maxRetry}}
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
	return s, nil
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("socket: sink closed")

// Write queues r's messages (its data record for the data address, one per
// alarm for the alarm address) and sends what the peers will take, alarms
// first. It returns an error only when messages were lost.
func (s *Sink) Write(r *event.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	now := s.now()
	if s.alarm != nil {
		for i := range r.Alarms {
			s.alarm.enqueue(message{b: s.enc.alarm(&r.Alarms[i]), alarm: true})
		}
	}
	if s.data != nil {
		s.data.enqueue(message{b: s.enc.data(r)})
		if s.csv != nil && s.csv.unknown != "" && !s.warned {
			s.warned = true
			s.log.Warn("socket: a statistic is not in the CSV header and is not sent", "stat", s.csv.unknown)
		}
	}
	var errs []error
	for _, p := range s.peers() {
		p.flush(now, false)
		if n, a := p.trim(); n > 0 {
			errs = append(errs, fmt.Errorf("socket %s unreachable: %d messages dropped (%d alarms), backlog full", p.addr, n, a))
		}
	}
	return errors.Join(errs...)
}

// peers lists the distinct peers, the alarm one first.
func (s *Sink) peers() []*peer {
	var ps []*peer
	if s.alarm != nil {
		ps = append(ps, s.alarm)
	}
	if s.data != nil && s.data != s.alarm {
		ps = append(ps, s.data)
	}
	return ps
}

// Stats returns the counters of each address, the alarm one first.
func (s *Sink) Stats() []PeerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PeerStats
	for _, p := range s.peers() {
		out = append(out, p.snapshot())
	}
	return out
}

// Close sends what is still in the backlogs, trying once to connect to a
// peer that is down whatever the backoff says, then closes the sockets.
// It takes at most the timeout per address (plus the end of a Write in
// progress). Messages that could not be delivered are logged; an error is
// returned when alarms are among them (as the fan-out does for its own
// losses: lost data is a warning, a lost alarm a failure).
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var errs []error
	for _, p := range s.peers() {
		p.flush(s.now(), true)
		if n := len(p.backlog); n > 0 {
			alarms := 0
			for _, m := range p.backlog {
				p.drop(m, "not delivered at exit")
				if m.alarm {
					alarms++
				}
			}
			p.backlog = nil
			s.log.Warn("socket: messages not delivered at exit", "address", p.addr.String(), "messages", n, "alarms", alarms)
			if alarms > 0 {
				errs = append(errs, fmt.Errorf("socket %s: %d alarms not delivered", p.addr, alarms))
			}
		}
		p.disconnect()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return errors.Join(errs...)
}
