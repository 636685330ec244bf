package miner

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"netspot/core/capture"
	"netspot/core/config"
	"netspot/core/event"
)

// base is a whole second, so that 1 s windows start on it.
var base = time.Unix(1700000000, 0).UTC()

func synFrame(t testing.TB, src net.IP, sport uint16) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: net.IPv4(192, 168, 1, 1)}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: 443, SYN: true}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// writeCapture writes a nanosecond pcap with one SYN per offset.
func writeCapture(t testing.TB, offsets ...time.Duration) string {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriterNanos(&b)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, off := range offsets {
		fr := synFrame(t, net.IPv4(10, 0, byte(i>>8), byte(i)), uint16(1024+i))
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: base.Add(off), CaptureLength: len(fr), Length: len(fr)}, fr); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(t.TempDir(), "c.pcap")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fileConfig(path string) Config {
	c := DefaultConfig()
	c.Device = path
	return c
}

// window is what a test expects of a Snapshot.
type win struct {
	start, end time.Duration // from base
	partial    bool
	packets    uint64
}

func collect(t *testing.T, m *Miner, ctx context.Context) ([]*event.Snapshot, error) {
	t.Helper()
	var out []*event.Snapshot
	err := m.Run(ctx, func(s *event.Snapshot) { out = append(out, s) })
	return out, err
}

func checkWindows(t *testing.T, got []*event.Snapshot, want []win) {
	t.Helper()
	if len(got) != len(want) {
		for _, s := range got {
			t.Logf("%s..%s partial=%v packets=%d", s.Start.Sub(base), s.End.Sub(base), s.Partial, s.Packets)
		}
		t.Fatalf("%d windows, want %d", len(got), len(want))
	}
	for i, w := range want {
		s := got[i]
		if !s.Start.Equal(base.Add(w.start)) || !s.End.Equal(base.Add(w.end)) || s.Partial != w.partial || s.Packets != w.packets {
			t.Errorf("window %d: %s..%s partial=%v packets=%d; want %s..%s partial=%v packets=%d", i,
				s.Start.Sub(base), s.End.Sub(base), s.Partial, s.Packets, w.start, w.end, w.partial, w.packets)
		}
	}
}

const ms = time.Millisecond

func TestFileWindows(t *testing.T) {
	cases := []struct {
		name    string
		offsets []time.Duration
		period  time.Duration
		want    []win
	}{
		{"aligned with an empty window", []time.Duration{200 * ms, 500 * ms, 1100 * ms, 3700 * ms}, time.Second, []win{
			{0, time.Second, false, 2},
			{time.Second, 2 * time.Second, false, 1},
			{2 * time.Second, 3 * time.Second, false, 0},
			{3 * time.Second, 3700*ms + 1, true, 1},
		}},
		{"backwards timestamps count in the current window", []time.Duration{200 * ms, 1500 * ms, 1100 * ms, 900 * ms}, time.Second, []win{
			{0, time.Second, false, 1},
			{time.Second, 1500*ms + 1, true, 3},
		}},
		{"last packet on the last nanosecond: a whole window", []time.Duration{0, time.Second - 1}, time.Second, []win{
			{0, time.Second, false, 2},
		}},
		{"windows aligned on the period, not on the first packet", []time.Duration{7 * time.Second, 12 * time.Second}, 5 * time.Second, []win{
			{5 * time.Second, 10 * time.Second, false, 1},
			{10 * time.Second, 12*time.Second + 1, true, 1},
		}},
		{"a gap longer than MaxEmptyWindows is skipped", []time.Duration{500 * ms, (MaxEmptyWindows + 10) * time.Second}, time.Second, []win{
			{0, time.Second, false, 1},
			{(MaxEmptyWindows + 10) * time.Second, (MaxEmptyWindows+10)*time.Second + 1, true, 1},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(fileConfig(writeCapture(t, c.offsets...)), c.period, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Live() {
				t.Fatal("a file is not live")
			}
			got, err := collect(t, m, context.Background())
			if err != nil {
				t.Fatal(err)
			}
			checkWindows(t, got, c.want)
			if p := m.Progress(); p.Packets != uint64(len(c.offsets)) || p.BytesRead != p.FileSize || p.FileSize == 0 {
				t.Errorf("progress %+v", p)
			}
		})
	}
}

func TestFileEmptyAndBroken(t *testing.T) {
	// A header without packets: no window, and ErrFormat (an empty file).
	p := writeCapture(t)
	m, err := New(fileConfig(p), time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := collect(t, m, context.Background())
	if !errors.Is(err, capture.ErrFormat) || !strings.Contains(err.Error(), "no packets") || len(got) != 0 {
		t.Errorf("empty capture: %d windows, err %v; want none and ErrFormat", len(got), err)
	}
	m.Close()

	// Packets that the filter leaves out: no window, no error.
	c := fileConfig(writeCapture(t, 100*ms))
	c.Filter = "udp"
	if m, err = New(c, time.Second, nil); err != nil {
		t.Fatal(err)
	}
	if got, err = collect(t, m, context.Background()); err != nil || len(got) != 0 {
		t.Errorf("filtered out: %d windows, err %v; want none and no error", len(got), err)
	}
	m.Close()

	// A truncated last record is counted as malformed in the last window.
	p = writeCapture(t, 100*ms, 200*ms, 1300*ms)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-7], 0o644)
	m, err = New(fileConfig(p), time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err = collect(t, m, context.Background())
	if err != nil || len(got) != 1 || got[0].Packets != 3 || got[0].Malformed != 1 || got[0].TCP != 2 {
		t.Errorf("truncated: %d windows, err %v, last %+v", len(got), err, got)
	}
	if m.Progress().Truncated != 1 {
		t.Errorf("progress: %+v", m.Progress())
	}
	m.Close()

	// A corrupt record: the windows before it, then ErrFormat.
	p = writeCapture(t, 100*ms, 1200*ms, 2300*ms)
	b, _ = os.ReadFile(p)
	binary.LittleEndian.PutUint32(b[24+16+len(synFrame(t, net.IPv4(1, 1, 1, 1), 1))*2+16+8:], 1<<30)
	os.WriteFile(p, b, 0o644)
	m, err = New(fileConfig(p), time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err = collect(t, m, context.Background())
	if !errors.Is(err, capture.ErrFormat) || len(got) != 2 || !got[1].Partial {
		t.Errorf("corrupt: %d windows, err %v", len(got), err)
	}
	m.Close()
}

func TestFileCancel(t *testing.T) {
	var offs []time.Duration
	for i := 0; i < 5000; i++ {
		offs = append(offs, time.Duration(i)*ms)
	}
	m, err := New(fileConfig(writeCapture(t, offs...)), time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var got []*event.Snapshot
	err = m.Run(ctx, func(s *event.Snapshot) {
		got = append(got, s)
		cancel()
	})
	if err != nil {
		t.Fatal(err)
	}
	// Cancelled after the first window: at most 1023 more packets are read
	// before the flush, which is partial.
	if len(got) != 2 || got[0].Packets != 1000 || !got[1].Partial || got[1].Packets == 0 || got[1].Packets > 1024 {
		t.Fatalf("windows: %d, %+v", len(got), got)
	}
}

func TestNewErrors(t *testing.T) {
	c := fileConfig(filepath.Join(t.TempDir(), "missing.pcap"))
	if _, err := New(c, time.Second, nil); !errors.Is(err, capture.ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
	c.Device = "no-such-interface-or-file"
	if _, err := New(c, time.Second, nil); !errors.Is(err, capture.ErrNotFound) {
		t.Errorf("missing device: %v", err)
	}
	c = fileConfig(writeCapture(t, 0))
	if _, err := New(c, 0, nil); err == nil {
		t.Error("zero period accepted")
	}
	c.SnapshotLen = 10
	var fe *config.FieldError
	if _, err := New(c, time.Second, nil); !errors.As(err, &fe) || fe.Key != "snapshot_len" {
		t.Errorf("bad snapshot_len: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	d := DefaultConfig()
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := []struct {
		key    string
		modify func(c *Config)
	}{
		{"device", func(c *Config) { c.Device = " " }},
		{"snapshot_len", func(c *Config) { c.SnapshotLen = 0 }},
		{"snapshot_len", func(c *Config) { c.SnapshotLen = 1 << 20 }},
		{"timeout", func(c *Config) { c.Timeout = config.Duration(-time.Second) }},
		{"timeout", func(c *Config) { c.Timeout = config.Duration(time.Minute) }},
		{"timeout", func(c *Config) { c.Timeout = config.Duration(time.Microsecond) }},
		{"ring_size_mb", func(c *Config) { c.RingSizeMB = 0 }},
		{"ring_size_mb", func(c *Config) { c.RingSizeMB = MaxRingSizeMB + 1 }},
		{"workers", func(c *Config) { c.Workers = 0 }},
		{"workers", func(c *Config) { c.Workers = 1000 }},
		{"ring_size_mb", func(c *Config) { c.Workers = 4; c.RingSizeMB = 2 }},
		{"filter", func(c *Config) { c.Filter = "tcp port http-ish" }},
	}
	if strconv.IntSize == 32 {
		// 2 GiB in bytes overflows an int: refused rather than wrapped
		// to a negative size.
		cases = append(cases, struct {
			key    string
			modify func(c *Config)
		}{"ring_size_mb", func(c *Config) { c.RingSizeMB = 2048 }})
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.modify(&c)
		err := c.Validate()
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Key != tc.key {
			t.Errorf("%+v: got %v, want an error on %q", c, err, tc.key)
		}
	}
}

// fakeClock moves only when the code under test waits on it: After jumps
// to the deadline at once, so timing logic runs without real sleeps.
// Time passing moves the wall clock (now) and the elapsed time together;
// setWall moves the wall clock alone, as setting the system clock does.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	elapsed time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Elapsed() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.elapsed
}

// set lets time pass up to t.
func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.elapsed += t.Sub(c.now)
		c.now = t
	}
}

// setWall sets the wall clock to t, forward or back, without time passing.
func (c *fakeClock) setWall(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.elapsed += d
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// step is one thing a scripted source does on Next.
type step struct {
	at    time.Duration // packet timestamp, or the clock after a timeout
	pkt   []byte        // nil: a poll timeout
	err   error         // a failure
	drops uint64        // reported by the next Stats
	// setWall: the wall clock is set to at (forward or back) rather than
	// reached by time passing.
	setWall bool
	// wait: poll timeouts, the clock untouched, until another source
	// brought it to at.
	wait bool
}

// scripted is a LiveSource that plays steps, then stops the test.
type scripted struct {
	clock   *fakeClock
	steps   []step
	stop    func()
	drops   uint64
	closed  bool
	stopped bool
}

func (s *scripted) Next(p *capture.Packet) error {
	if len(s.steps) == 0 {
		if !s.stopped {
			s.stopped = true
			s.stop()
		}
		return capture.ErrTimeout
	}
	st := s.steps[0]
	if st.wait {
		if s.clock.Now().Before(base.Add(st.at)) {
			return capture.ErrTimeout
		}
		s.steps = s.steps[1:]
		return capture.ErrTimeout
	}
	s.steps = s.steps[1:]
	s.drops += st.drops
	if st.setWall {
		s.clock.setWall(base.Add(st.at))
	} else {
		s.clock.set(base.Add(st.at))
	}
	switch {
	case st.err != nil:
		return st.err
	case st.pkt == nil:
		return capture.ErrTimeout
	}
	*p = capture.Packet{Data: st.pkt, Length: len(st.pkt), Time: base.Add(st.at).UnixNano(), Link: capture.LinkEthernet}
	return nil
}

func (s *scripted) Stats() (capture.LiveStats, error) {
	d := s.drops
	s.drops = 0
	return capture.LiveStats{Drops: d}, nil
}

func (s *scripted) Close() error { s.closed = true; return nil }

func TestLiveWindows(t *testing.T) {
	clk := &fakeClock{now: base.Add(300 * ms)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pkt := synFrame(t, net.IPv4(10, 1, 1, 1), 5555)
	src := &scripted{clock: clk, stop: cancel, steps: []step{
		{at: 500 * ms, pkt: pkt},
		{at: 900 * ms, pkt: pkt, drops: 3},
		{at: 1200 * ms}, // timeout; grace is 200 ms: window 0 closes
		{at: 1500 * ms, pkt: pkt},
		{at: 3300 * ms, drops: 2}, // long silence: windows 1 and 2 close
	}}
	m, err := New(DefaultConfig(), time.Second, nil, WithClock(clk), WithLiveSources(func(int) (LiveSource, error) { return src, nil }))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Live() {
		t.Fatal("not live")
	}
	got, err := collect(t, m, ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkWindows(t, got, []win{
		{300 * ms, time.Second, true, 2}, // capture started mid-window
		{time.Second, 2 * time.Second, false, 1},
		{2 * time.Second, 3 * time.Second, false, 0}, // empty, still emitted
		{3 * time.Second, 3300 * ms, true, 0},        // flushed on cancel
	})
	// Drops are read when a window closes and belong to that window.
	if got[0].Dropped != 3 || got[1].Dropped != 2 || got[2].Dropped != 0 {
		t.Errorf("drops: %d %d %d", got[0].Dropped, got[1].Dropped, got[2].Dropped)
	}
	if p := m.Progress(); p.Packets != 3 || p.Dropped != 5 {
		t.Errorf("progress %+v", p)
	}
	m.Close()
	if !src.closed {
		t.Error("source not closed")
	}
}

func TestLiveFailureAndRecovery(t *testing.T) {
	clk := &fakeClock{now: base}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pkt := synFrame(t, net.IPv4(10, 1, 1, 1), 5555)
	opens := 0
	var log bytes.Buffer
	open := func(int) (LiveSource, error) {
		opens++
		switch opens {
		case 1:
			return &scripted{clock: clk, stop: cancel, steps: []step{
				{at: 100 * ms, pkt: pkt},
				{at: 200 * ms, err: errors.New("capture: eth0: network is down")},
			}}, nil
		case 2, 3:
			return nil, errors.New("capture: eth0: not found")
		}
		now := clk.Now().Sub(base)
		return &scripted{clock: clk, stop: cancel, steps: []step{
			{at: now + 100*ms, pkt: pkt},
			{at: now + 200*ms, pkt: pkt},
			{at: now + 2500*ms},
		}}, nil
	}
	m, err := New(DefaultConfig(), time.Second, slog.New(slog.NewTextHandler(&log, nil)), WithClock(clk), WithLiveSources(open))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := collect(t, m, ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Down at 0.2 s; retries after 1 s (fails), 2 s (fails), 4 s (works):
	// up again at 7.2 s. Windows keep coming all along.
	if opens != 4 {
		t.Fatalf("%d opens, want 4", opens)
	}
	var packets uint64
	for i, s := range got {
		packets += s.Packets
		if i > 0 && !s.Start.Equal(got[i-1].End) {
			t.Errorf("window %d starts at %s, previous ended at %s", i, s.Start, got[i-1].End)
		}
		down := s.Start.Before(base.Add(7200*ms)) && s.End.After(base.Add(200*ms))
		if down && s.CaptureErr == "" {
			t.Errorf("window %d (%s..%s) during the outage has no CaptureErr", i, s.Start.Sub(base), s.End.Sub(base))
		}
		if s.Start.After(base.Add(8*time.Second)) && s.CaptureErr != "" {
			t.Errorf("window %d after recovery still says %q", i, s.CaptureErr)
		}
	}
	if packets != 3 || len(got) < 9 {
		t.Errorf("%d packets in %d windows, want 3 in at least 9", packets, len(got))
	}
	if !strings.Contains(log.String(), "capture failed") || !strings.Contains(log.String(), "capture resumed") {
		t.Errorf("log does not tell: %s", log.String())
	}
}

func TestLiveWorkersMerge(t *testing.T) {
	clk := &fakeClock{now: base}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	done := 0
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		done++
		if done == 2 {
			cancel()
		}
	}
	mk := func(ip byte) *scripted {
		var steps []step
		for i := 0; i < 10; i++ {
			steps = append(steps, step{at: time.Duration(i) * 150 * ms, pkt: synFrame(t, net.IPv4(10, 0, 0, ip+byte(i%2)), 1000)})
		}
		steps = append(steps, step{at: 2500 * ms})
		return &scripted{clock: clk, steps: steps, stop: stop}
	}
	srcs := []*scripted{mk(1), mk(3)}
	c := DefaultConfig()
	c.Workers = 2
	// Each scripted source sets the shared clock; the clock only moves
	// forward, which is what a real clock does for concurrent workers.
	m, err := New(c, time.Second, nil, WithClock(clk), WithLiveSources(func(i int) (LiveSource, error) { return srcs[i], nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := collect(t, m, ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, s := range got {
		total += s.Packets
	}
	if total != 20 || len(got) < 2 {
		t.Fatalf("%d packets in %d windows, want 20", total, len(got))
	}
	// Window 0 has packets 0..6 of both workers, from 4 sources.
	if got[0].Packets != 14 || got[0].DistinctSrcAddr != 4 || got[0].DistinctSrcPort != 1 {
		t.Errorf("first window: %+v", got[0].Counters)
	}
}

// TestLiveClockSetForward: a board without a battery-backed clock starts at
// an old time, and NTP later sets the clock forward by years. The windows
// start again from the new time instead of emitting every empty window in
// between; the source stays open.
func TestLiveClockSetForward(t *testing.T) {
	clk := &fakeClock{now: base.Add(300 * ms)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pkt := synFrame(t, net.IPv4(10, 1, 1, 1), 5555)
	const jump = 3 * 365 * 24 * time.Hour
	src := &scripted{clock: clk, stop: cancel, steps: []step{
		{at: 500 * ms, pkt: pkt},
		{at: 900 * ms, pkt: pkt},
		{at: 1200 * ms}, // window 0 closes
		{at: 1500 * ms, pkt: pkt},
		{at: jump + 1600*ms, setWall: true, pkt: pkt}, // the clock is set; this packet comes at once
		{at: jump + 1700*ms, pkt: pkt},
		{at: jump + 2500*ms}, // a window of the new time closes
	}}
	opens := 0
	m, err := New(DefaultConfig(), time.Second, nil, WithClock(clk), WithLiveSources(func(int) (LiveSource, error) { opens++; return src, nil }))
	if err != nil {
		t.Fatal(err)
	}
	got, err := collect(t, m, ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkWindows(t, got, []win{
		{300 * ms, time.Second, true, 2},
		{time.Second, 1500 * ms, true, 2}, // cut when the clock was set
		{jump + 1600*ms, jump + 2*time.Second, true, 1},
		{jump + 2*time.Second, jump + 2500*ms, true, 0},
	})
	if opens != 1 || src.closed {
		t.Errorf("source opened %d times, closed %v; want it kept open across the step", opens, src.closed)
	}
	m.Close()
	if !src.closed {
		t.Error("source not closed by Close")
	}
}

// TestLiveClockSetBack: the clock set back by an hour does not hold the
// current window open for an hour.
func TestLiveClockSetBack(t *testing.T) {
	clk := &fakeClock{now: base.Add(300 * ms)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pkt := synFrame(t, net.IPv4(10, 1, 1, 1), 5555)
	src := &scripted{clock: clk, stop: cancel, steps: []step{
		{at: 500 * ms, pkt: pkt},
		{at: -time.Hour + 100*ms, setWall: true}, // a poll timeout after the clock was set
		{at: -time.Hour + 400*ms, pkt: pkt},
		{at: -time.Hour + 1300*ms},
	}}
	m, err := New(DefaultConfig(), time.Second, nil, WithClock(clk), WithLiveSources(func(int) (LiveSource, error) { return src, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := collect(t, m, ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkWindows(t, got, []win{
		{300 * ms, 500 * ms, true, 1},
		{-time.Hour + 100*ms, -time.Hour + time.Second, true, 1},
		{-time.Hour + time.Second, -time.Hour + 1300*ms, true, 0},
	})
}

// TestLiveClockSetWorkers: with two workers, the first to see the clock set
// ends the run for both, and both go on from the new time.
func TestLiveClockSetWorkers(t *testing.T) {
	clk := &fakeClock{now: base}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	done := 0
	stop := func() {
		mu.Lock()
		defer mu.Unlock()
		done++
		if done == 2 {
			cancel()
		}
	}
	const jump = 48 * time.Hour
	mk := func(ip byte, sets bool) *scripted {
		// One source sets the clock; the other waits until it is set.
		second := step{at: jump + 200*ms, wait: true}
		if sets {
			second = step{at: jump + 200*ms, setWall: true}
		}
		return &scripted{clock: clk, stop: stop, steps: []step{
			{at: 100 * ms, pkt: synFrame(t, net.IPv4(10, 0, 0, ip), 1000)},
			second,
			{at: jump + 300*ms, pkt: synFrame(t, net.IPv4(10, 0, 0, ip), 1000)},
			{at: jump + 400*ms, pkt: synFrame(t, net.IPv4(10, 0, 0, ip), 1000)},
			{at: jump + 1500*ms},
		}}
	}
	srcs := []*scripted{mk(1, true), mk(2, false)}
	c := DefaultConfig()
	c.Workers = 2
	m, err := New(c, time.Second, nil, WithClock(clk), WithLiveSources(func(i int) (LiveSource, error) { return srcs[i], nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := collect(t, m, ctx)
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for i, s := range got {
		total += s.Packets
		if i > 0 && s.Start.Before(got[i-1].End) {
			t.Errorf("window %d starts at %s, before the previous one ends (%s)", i, s.Start, got[i-1].End)
		}
	}
	if total != 6 || len(got) > 4 {
		t.Errorf("%d packets in %d windows, want 6 in at most 4 (no empty windows for the %s step)", total, len(got), jump)
	}
}

// TestCheck: what a reload checks of a new [miner] before it stops the
// running capture, without capturing.
func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.pcap")
	writeMixed(t, path, 10, time.Second)
	if err := Check(fileConfig(path), time.Second); err != nil {
		t.Errorf("a readable capture file: %v", err)
	}
	if err := Check(fileConfig("lo"), time.Second); err != nil {
		t.Errorf("the loopback interface: %v", err)
	}
	if err := Check(fileConfig("eht0"), time.Second); !errors.Is(err, capture.ErrNotFound) {
		t.Errorf("a misspelt interface: %v, want not found", err)
	}
	c := fileConfig("lo")
	c.Timeout = config.Duration(500 * time.Millisecond)
	if err := Check(c, 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "shorter than the period") {
		t.Errorf("a timeout longer than the period: %v", err)
	}
	c = fileConfig("lo")
	c.Filter = "tcp port"
	if err := Check(c, time.Second); err == nil {
		t.Error("a broken filter passes")
	}
	if err := Check(fileConfig(StdinDevice), time.Second); err == nil {
		t.Error("standard input passes: it cannot be opened again")
	}
}
