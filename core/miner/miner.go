// Package miner turns packets into per-period counters: one decoding loop
// per capture worker fills plain counters (no atomics, no goroutine per
// packet), and at each period boundary the miner emits an event.Snapshot.
//
// Time. A capture file is replayed on its packet clock, as fast as the
// machine allows; a live interface uses the wall clock, and a window is
// emitted at each boundary even when no packet came. Windows are aligned on
// multiples of the period, [k·P, (k+1)·P), counted from the Unix epoch.
// Empty windows are emitted. A window's Start..End is the time it covers:
// the first live window starts when capture starts (Partial), the last window
// of a file ends just after its last packet (Partial) and the window flushed
// when the context is cancelled ends then (Partial).
//
// Gaps in files. A packet whose timestamp goes backwards (out of order) is
// counted in the current window. A jump forward is filled with the empty
// windows that live capture would have emitted (a night of silence is
// information), within two bounds that keep the work proportional to the
// file: a gap of at most MaxEmptyWindows periods, and at most
// MaxEmptyWindows empty windows plus EmptyWindowsPerPacket per packet read
// in the whole replay. A jump beyond them (a capture paused for days, files
// joined end to end, a corrupt timestamp, or a file of a few packets
// declaring months) is a discontinuity, handled as a step of the live clock
// is: the current window ends, the windows start again at the packet's
// window, and the jump is logged, without the empty windows in between.
//
// Clock steps. A live window's bounds are wall-clock times, and the wall
// clock can be set while netspot runs: a board without a battery-backed
// clock boots at an old time, and NTP later steps it forward by hours or
// years. The time in between was never observed: when the wall clock moves
// away from the time that really passed (the monotonic clock) by more than
// a period (and at least a second), the current window is cut there
// (Partial) and the windows start again from the new time, the first one
// Partial, instead of emitting every empty window of the gap (forward) or
// holding the current window open until the clock catches up (backward).
//
// Robustness. Malformed packets are counted (Counters.Malformed), never
// fatal. A truncated last record of a file is counted as a malformed packet
// and logged. When a live source fails (interface down or removed), windows
// keep coming with CaptureErr set, and the source is reopened with backoff
// (1 s doubling to 30 s) until it works again.
package miner

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"netspot/core/capture"
	"netspot/core/event"
)

// Bounds on the empty windows that fill gaps in a replayed capture (see
// the package doc): a gap of more than MaxEmptyWindows periods, or one that
// would take the replay past MaxEmptyWindows empty windows plus
// EmptyWindowsPerPacket per packet read so far, restarts the windows at the
// next packet. At a period of 1 s, MaxEmptyWindows is 27 hours: a night,
// or a weekend day, of silence is filled. Real week-long captures of quiet
// devices need up to a few dozen empty windows per packet at 1 s and a few
// hundred at 100 ms.
const (
	MaxEmptyWindows       = 100000
	EmptyWindowsPerPacket = 1000
)

// maxGapLogs is how many unfilled gaps a replay logs one by one; the rest
// are counted in one line at the end.
const maxGapLogs = 5

// Clock is the miner's time source: it times live windows and measures how
// long decoding takes. Tests pass a fake one.
type Clock interface {
	// Now is the wall clock, on which windows are aligned.
	Now() time.Time
	// Elapsed is the time that really passed since a fixed origin, on a
	// clock that setting the wall clock does not move (the monotonic
	// clock): it tells a step of the wall clock from time passing.
	Elapsed() time.Duration
	// After is time.After on this clock.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{ origin time.Time }

func (systemClock) Now() time.Time                         { return time.Now() }
func (c systemClock) Elapsed() time.Duration               { return time.Since(c.origin) }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// LiveSource is a live packet source as the miner uses it.
type LiveSource interface {
	capture.Source
	Stats() (capture.LiveStats, error)
}

// Option changes how New builds a Miner.
type Option func(*options)

type options struct {
	clock  Clock
	open   func(worker int) (LiveSource, error)
	replay capture.Source
	stdin  io.Reader
	limit  *Limit
}

// StdinDevice is the device that reads a capture file from standard input
// (as tcpdump's "-r -"): the reader given WithStdin.
const StdinDevice = "-"

// WithStdin is what the device StdinDevice reads: a pcap or pcapng stream,
// plain or gzip. Without it, that device is not found.
func WithStdin(r io.Reader) Option { return func(o *options) { o.stdin = r } }

// WithLimit ends capture early, as l says.
func WithLimit(l *Limit) Option { return func(o *options) { o.limit = l } }

// WithClock sets the clock (the system clock by default).
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithLiveSources makes the miner capture live from the sources open
// returns, one per worker, instead of opening the configured device. open
// is called again to reopen a worker's source after it failed.
func WithLiveSources(open func(worker int) (LiveSource, error)) Option {
	return func(o *options) { o.open = open }
}

// WithSource makes the miner replay src instead of opening the configured
// device: its packets are taken on their own clock and windowed exactly as
// a capture file's, as fast as they come. It serves packet streams built in
// memory, such as the labelled timelines of netspot eval, which merge several
// captures of different link types. The miner closes src.
func WithSource(src capture.Source) Option { return func(o *options) { o.replay = src } }

// Progress is how far the miner got; read it from any goroutine.
type Progress struct {
	Packets   uint64 // frames counted so far
	BytesRead int64  // bytes of the capture file read so far
	FileSize  int64  // size of the capture file; 0 for live capture
	Truncated uint64 // file records cut short by the end of the file
	Dropped   uint64 // frames the kernel dropped so far (live capture)
}

// Miner reads packets from one source and emits a Snapshot per period.
type Miner struct {
	cfg    Config
	period time.Duration
	log    *slog.Logger
	clock  Clock
	seed   uint64

	file *capture.File
	// replay is what runFile reads: file, or the source given WithSource.
	replay capture.Source
	limit  *Limit // nil: none

	open    func(worker int) (LiveSource, error)
	sources []LiveSource // opened by New, handed to the workers by Run
	grace   time.Duration

	packets atomic.Uint64
	dropped atomic.Uint64

	// Gap bounds of a replay: MaxEmptyWindows and EmptyWindowsPerPacket,
	// smaller in tests.
	gapMax, gapPerPacket int64

	mu     sync.Mutex
	closed bool
}

// New validates c and opens its device: a live interface when c.Device is
// "any" or names an interface, a capture file otherwise. Errors wrap
// capture.ErrNotFound, capture.ErrFormat or capture.ErrUnsupported, or are a
// *capture.PermissionError or a config error naming the key.
func New(c Config, period time.Duration, log *slog.Logger, opts ...Option) (*Miner, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if period <= 0 {
		return nil, fmt.Errorf("miner: period %s must be positive", period)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o := options{clock: systemClock{origin: time.Now()}}
	for _, opt := range opts {
		opt(&o)
	}
	m := &Miner{cfg: c, period: period, log: log, clock: o.clock, gapMax: MaxEmptyWindows, gapPerPacket: EmptyWindowsPerPacket}
	var b [8]byte
	_, _ = rand.Read(b[:])
	m.seed = binary.LittleEndian.Uint64(b[:])

	if o.replay != nil {
		m.replay = o.replay
		return m, nil
	}
	m.limit = o.limit
	live := o.open != nil || isLiveDevice(c.Device)
	if !live {
		var f *capture.File
		var err error
		switch {
		case c.Device != StdinDevice:
			f, err = capture.OpenFile(c.Device, c.Filter)
		case o.stdin == nil:
			err = fmt.Errorf("capture: standard input (device %q): %w: nothing to read it from here", StdinDevice, capture.ErrNotFound)
		default:
			f, err = capture.OpenReader("standard input", o.stdin, c.Filter)
		}
		if err != nil {
			return nil, fmt.Errorf("miner: %w", err)
		}
		m.file, m.replay = f, f
		return m, nil
	}

	timeout, poll, err := liveTimeouts(c, period)
	if err != nil {
		return nil, err
	}
	m.grace = timeout + poll
	m.open = o.open
	if m.open == nil {
		if c.Device == capture.AnyDevice && c.Promiscuous {
			log.Info("promiscuous mode does not apply to \"any\"; capturing what the interfaces receive")
		}
		var group uint16
		if c.Workers > 1 {
			group = uint16(os.Getpid())
			if group == 0 {
				group = 1
			}
		}
		lc := capture.LiveConfig{
			Device:       c.Device,
			Promiscuous:  c.Promiscuous,
			SnapLen:      c.SnapshotLen,
			Filter:       c.Filter,
			RingBytes:    c.RingSizeMB << 20 / c.Workers,
			BlockTimeout: timeout,
			PollTimeout:  poll,
			FanoutGroup:  group,
		}
		m.open = func(int) (LiveSource, error) {
			l, err := capture.OpenLive(lc)
			if err != nil {
				return nil, err
			}
			return l, nil
		}
	}
	for i := 0; i < c.Workers; i++ {
		s, err := m.open(i)
		if err != nil {
			for _, s := range m.sources {
				s.Close()
			}
			return nil, fmt.Errorf("miner: %w", err)
		}
		m.sources = append(m.sources, s)
	}
	return m, nil
}

// liveTimeouts are the kernel's block timeout (the configured one, or one
// from the period) and the poll timeout of a live capture of period.
func liveTimeouts(c Config, period time.Duration) (timeout, poll time.Duration, err error) {
	timeout = c.Timeout.D()
	if timeout == 0 {
		timeout = min(max(period/10, time.Millisecond), 100*time.Millisecond)
	}
	if timeout >= period {
		return 0, 0, fmt.Errorf("miner: timeout %s must be shorter than the period %s", timeout, period)
	}
	return timeout, min(max(period/4, time.Millisecond), 100*time.Millisecond), nil
}

// Check validates c for period and makes sure that its device can be
// opened (an interface of this machine, or a capture file netspot can
// read), without capturing: a reload checks a new [miner] before it stops
// the running capture, so that a typo keeps the old one running. Standard
// input cannot be opened again.
func Check(c Config, period time.Duration) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if period <= 0 {
		return fmt.Errorf("miner: period %s must be positive", period)
	}
	switch {
	case c.Device == StdinDevice:
		return fmt.Errorf("miner: standard input (device %q) cannot be opened again", StdinDevice)
	case isLiveDevice(c.Device):
		_, _, err := liveTimeouts(c, period)
		return err
	}
	f, err := capture.OpenFile(c.Device, c.Filter)
	if err != nil {
		return fmt.Errorf("miner: %w", err)
	}
	return f.Close()
}

// isLiveDevice decides whether name is an interface rather than a file: a
// name with a path separator or a capture file extension is a file.
func isLiveDevice(name string) bool {
	switch name {
	case capture.AnyDevice:
		return true
	case StdinDevice:
		return false
	}
	if strings.ContainsRune(name, '/') || strings.HasSuffix(name, ".pcap") || strings.HasSuffix(name, ".pcapng") || strings.HasSuffix(name, ".gz") {
		return false
	}
	return capture.IsDevice(name)
}

// Live reports whether the miner captures from an interface.
func (m *Miner) Live() bool { return m.replay == nil }

// Progress returns how far the miner got.
func (m *Miner) Progress() Progress {
	p := Progress{Packets: m.packets.Load(), Dropped: m.dropped.Load()}
	if m.file != nil {
		p.BytesRead = m.file.BytesRead()
		p.FileSize = m.file.Size()
		p.Truncated = m.file.Truncated()
	}
	return p
}

// Close releases the capture source. Run must have returned.
func (m *Miner) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	var err error
	if m.replay != nil {
		err = m.replay.Close()
	}
	for _, s := range m.sources {
		if s != nil {
			err = errors.Join(err, s.Close())
		}
	}
	m.sources = nil
	return err
}

// Run reads packets until the file ends or ctx is cancelled, calling emit
// with each window's Snapshot in window order, from one goroutine; emit owns
// the Snapshot. On cancellation the current window is flushed (Partial) and
// Run returns nil. A corrupt capture file ends Run with an error wrapping
// capture.ErrFormat after the windows read so far were emitted.
//
// With a Limit, Run also ends once it is reached, as at the end of a file:
// the last window is flushed (Partial) and Run returns nil.
func (m *Miner) Run(ctx context.Context, emit func(*event.Snapshot)) error {
	if m.limit.reached() {
		return nil
	}
	if m.replay != nil {
		return m.runFile(ctx, emit)
	}
	if m.limit != nil {
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		defer stop()
		m.limit.live(ctx, m, stop)
	}
	return m.runLive(ctx, emit)
}

// floorDiv is a/b rounded down (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func (m *Miner) snapshot(w *window, start, end int64) *event.Snapshot {
	return &event.Snapshot{
		Start:    time.Unix(0, start).UTC(),
		End:      time.Unix(0, end).UTC(),
		Counters: w.counters(),
	}
}

// gapTooLong says why a gap of the given number of empty windows is not
// filled, after filled empty windows and n packets; "" if it is filled.
func (m *Miner) gapTooLong(gap, filled int64, n uint64) string {
	switch {
	case gap <= 0:
		return ""
	case gap > m.gapMax:
		return fmt.Sprintf("longer than %d periods", m.gapMax)
	case filled+gap > m.gapMax+m.gapPerPacket*int64(min(n, 1<<40)):
		return fmt.Sprintf("the capture has given %d empty windows for %d packets; at most %d plus %d per packet are filled", filled, n, m.gapMax, m.gapPerPacket)
	}
	return ""
}

// runFile replays a capture file, or the source given WithSource, on its
// packet clock.
func (m *Miner) runFile(ctx context.Context, emit func(*event.Snapshot)) error {
	P := int64(m.period)
	w := newWindow(m.seed)
	dec := newDecoder()
	var (
		pkt      capture.Packet
		started  bool
		k        int64 // current window index
		end      int64 // its end
		last     int64 // largest timestamp in the current window
		n        uint64
		lastMark = m.clock.Now()
		filled   int64 // empty windows emitted in gaps
		jumps    int   // gaps not filled
		// Packet times are bounded so that window bounds never overflow.
		tmax = int64(math.MaxInt64) - 2*P
	)
	defer func() {
		if jumps > maxGapLogs {
			m.log.Warn("capture timestamps jumped forward more times than logged",
				"gaps_not_filled", jumps, "logged", maxGapLogs)
		}
	}()
	closeWindow := func(partial bool, stop int64) {
		now := m.clock.Now()
		s := m.snapshot(w, k*P, stop)
		s.Partial = partial
		s.Busy = now.Sub(lastMark)
		m.packets.Store(n)
		emit(s)
		w.reset()
		lastMark = m.clock.Now()
	}
	flush := func() {
		if started {
			stop := last + 1
			closeWindow(stop < end, stop)
		}
	}
	for {
		if n&1023 == 0 && ctx.Err() != nil {
			flush()
			return nil
		}
		if m.limit.full(n) {
			m.log.Info("capture stopped: packet count reached", "packets", n)
			break
		}
		err := m.replay.Next(&pkt)
		if err == io.EOF {
			break
		}
		if err != nil {
			flush()
			return fmt.Errorf("miner: %w", err)
		}
		t := max(min(pkt.Time, tmax), -tmax)
		if m.limit.past(t, !started) {
			m.log.Info("capture stopped: duration reached", "duration", m.limit.Duration)
			break
		}
		n++
		switch {
		case !started:
			started = true
			k = floorDiv(t, P)
			end = (k + 1) * P
			last = t
		case t >= end:
			next := floorDiv(t, P)
			closeWindow(false, end)
			gap := next - k - 1
			if why := m.gapTooLong(gap, filled, n); why != "" {
				jumps++
				if jumps <= maxGapLogs {
					m.log.Warn("capture timestamps jump forward; the windows start again at the next packet, without the empty windows in between",
						"from", time.Unix(0, end).UTC(), "to", time.Unix(0, t).UTC(), "periods", gap, "because", why)
				}
				k = next
			} else {
				filled += gap
				for k++; k < next; k++ {
					closeWindow(false, (k+1)*P)
				}
			}
			end = (k + 1) * P
			last = t
		case t > last:
			last = t
		}
		dec.count(&pkt, w)
	}
	var truncated uint64
	if m.file != nil {
		truncated = m.file.Truncated()
	}
	if truncated > 0 {
		m.log.Warn("capture file ends in the middle of a packet record; counted as malformed", "file", m.file.Path())
		if started {
			w.c.Packets += truncated
			w.c.Malformed += truncated
			n += truncated
		}
	}
	if !started {
		// A file without any packet is an error of the reader; here the
		// filter left every packet out (or a WithSource stream was empty).
		if m.file != nil && m.cfg.Filter != "" {
			m.log.Warn("no packet of the capture file matches the filter", "file", m.file.Path(), "filter", m.cfg.Filter)
		} else {
			m.log.Warn("the capture has no packets", "device", m.cfg.Device)
		}
		return nil
	}
	flush()
	return nil
}
