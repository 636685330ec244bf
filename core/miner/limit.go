package miner

import (
	"context"
	"sync/atomic"
	"time"

	"netspot/core/capture"
)

// Limit ends a capture early, as tcpdump's -c does: after Packets packets
// (those the filter keeps), or once Duration of capture time has passed.
// A replay counts time on the packet clock, from its first packet, so that
// the same file gives the same windows whatever the machine; live capture
// counts on the wall clock, from its start. Zero fields set no limit.
//
// One Limit is shared by the successive miners of a run (live capture
// restarted by a reload): the count and the time go on from the first.
// Counting the packets of live capture takes an atomic addition per
// packet, shared by the workers; without a packet limit, nothing is added
// to the per-packet path.
type Limit struct {
	Packets  uint64
	Duration time.Duration

	counted  atomic.Uint64
	deadline atomic.Int64 // Unix ns; 0 until the capture started
	done     atomic.Bool
}

// reached reports whether the limit ended a capture already.
func (l *Limit) reached() bool { return l != nil && l.done.Load() }

// full reports whether n packets of a replay reach the packet limit.
func (l *Limit) full(n uint64) bool {
	if l == nil || l.Packets == 0 || n < l.Packets {
		return false
	}
	l.done.Store(true)
	return true
}

// past reports whether a replayed packet at t (Unix ns) comes after the
// duration; the first packet of the replay starts the time.
func (l *Limit) past(t int64, first bool) bool {
	if l == nil || l.Duration <= 0 {
		return false
	}
	if first {
		l.deadline.CompareAndSwap(0, t+int64(l.Duration))
	}
	if t < l.deadline.Load() {
		return false
	}
	l.done.Store(true)
	return true
}

// live applies the limit to m's live sources: stop (which cancels the
// capture's context) is called once the duration has passed on m's clock,
// or once the sources have delivered Packets packets.
func (l *Limit) live(ctx context.Context, m *Miner, stop context.CancelFunc) {
	if l.Duration > 0 {
		l.deadline.CompareAndSwap(0, m.clock.Now().Add(l.Duration).UnixNano())
		wait := time.Duration(l.deadline.Load() - m.clock.Now().UnixNano())
		go func() {
			select {
			case <-ctx.Done():
			case <-m.clock.After(max(wait, 0)):
				l.done.Store(true)
				m.log.Info("capture stopped: duration reached", "duration", l.Duration)
				stop()
			}
		}()
	}
	if l.Packets == 0 {
		return
	}
	wrap := func(s LiveSource) LiveSource {
		if s == nil {
			return nil
		}
		if _, ok := s.(*limitedSource); ok {
			return s
		}
		return &limitedSource{LiveSource: s, l: l, m: m, stop: stop}
	}
	for i, s := range m.sources {
		m.sources[i] = wrap(s)
	}
	open := m.open
	m.open = func(worker int) (LiveSource, error) {
		s, err := open(worker)
		if err != nil {
			return nil, err
		}
		return wrap(s), nil
	}
}

// limitedSource counts the packets of a live source against a Limit; once
// it is reached, it hands out no more (a packet beyond it is left out, as
// tcpdump -c does) and stops the capture.
type limitedSource struct {
	LiveSource
	l    *Limit
	m    *Miner
	stop context.CancelFunc
}

func (s *limitedSource) Next(p *capture.Packet) error {
	if s.l.done.Load() {
		return capture.ErrTimeout
	}
	if err := s.LiveSource.Next(p); err != nil {
		return err
	}
	n := s.l.counted.Add(1)
	switch {
	case n < s.l.Packets:
		return nil
	case n == s.l.Packets:
		s.l.done.Store(true)
		s.m.log.Info("capture stopped: packet count reached", "packets", n)
		s.stop()
		return nil
	}
	return capture.ErrTimeout // another worker took the last one
}
