package miner

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"netspot/core/capture"
	"netspot/core/event"
)

// A replay ends at the packet limit, or before the first packet past the
// duration counted from the first packet, as at the end of the file: the
// last window is flushed, partial.
func TestLimitReplay(t *testing.T) {
	p := writeCapture(t, 200*ms, 500*ms, 1100*ms, 3700*ms)
	head := []win{{0, time.Second, false, 2}, {time.Second, 1100*ms + 1, true, 1}}
	for _, c := range []struct {
		name     string
		packets  uint64
		duration time.Duration
		want     []win
	}{
		{"3 packets", 3, 0, head},
		{"1s from the first packet", 0, time.Second, head},
		{"1s or 2 packets", 2, time.Second, []win{{0, 500*ms + 1, true, 2}}},
		{"more than the file", 10, time.Hour, []win{
			{0, time.Second, false, 2}, {time.Second, 2 * time.Second, false, 1},
			{2 * time.Second, 3 * time.Second, false, 0}, {3 * time.Second, 3700*ms + 1, true, 1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := &Limit{Packets: c.packets, Duration: c.duration}
			m, err := New(fileConfig(p), time.Second, nil, WithLimit(l))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			got, err := collect(t, m, context.Background())
			if err != nil {
				t.Fatal(err)
			}
			checkWindows(t, got, c.want)
			var n uint64
			for _, w := range c.want {
				n += w.packets
			}
			if m.Progress().Packets != n {
				t.Errorf("progress counts %d packets, want %d", m.Progress().Packets, n)
			}
		})
	}
}

// The device "-" reads a capture from the reader given WithStdin, as a
// file whose size is unknown; without one it is not found.
func TestStdinDevice(t *testing.T) {
	b, err := os.ReadFile(writeCapture(t, 200*ms, 1500*ms))
	if err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Device = StdinDevice
	m, err := New(c, time.Second, nil, WithStdin(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Live() {
		t.Fatal("standard input taken for an interface")
	}
	got, err := collect(t, m, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	checkWindows(t, got, []win{{0, time.Second, false, 1}, {time.Second, 1500*ms + 1, true, 1}})
	if p := m.Progress(); p.FileSize != 0 || p.BytesRead != int64(len(b)) {
		t.Errorf("progress %+v: want an unknown size and %d bytes read", p, len(b))
	}
	if _, err := New(c, time.Second, nil); !errors.Is(err, capture.ErrNotFound) {
		t.Errorf("standard input without a reader: %v", err)
	}
}

// Live capture stops after exactly the packet limit, across workers, with
// the windows flushed, and without the caller cancelling.
func TestLimitLivePackets(t *testing.T) {
	for _, workers := range []int{1, 2} {
		clk := &fakeClock{now: base}
		ctx, cancel := context.WithCancel(context.Background())
		var once sync.Once
		failed := func() {
			once.Do(func() { t.Errorf("%d workers: the sources ran out before the limit", workers) })
			cancel()
		}
		mk := func(ip byte) *scripted {
			var steps []step
			for i := range 10 {
				steps = append(steps, step{at: time.Duration(i) * 150 * ms, pkt: synFrame(t, net.IPv4(10, 0, 0, ip), 1000)})
			}
			return &scripted{clock: clk, steps: steps, stop: failed}
		}
		srcs := []*scripted{mk(1), mk(2)}
		c := DefaultConfig()
		c.Workers = workers
		l := &Limit{Packets: 7}
		m, err := New(c, time.Second, nil, WithClock(clk), WithLimit(l),
			WithLiveSources(func(i int) (LiveSource, error) { return srcs[i], nil }))
		if err != nil {
			t.Fatal(err)
		}
		got, err := collect(t, m, ctx)
		cancel()
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		var total uint64
		for _, s := range got {
			total += s.Packets
		}
		if total != 7 || !got[len(got)-1].Partial {
			t.Errorf("%d workers: %d packets in %d windows (last partial: %v), want 7", workers, total, len(got), got[len(got)-1].Partial)
		}
		// The next miner of the same run (a reload) captures no more.
		m, err = New(c, time.Second, nil, WithClock(clk), WithLimit(l),
			WithLiveSources(func(i int) (LiveSource, error) { return srcs[i], nil }))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := collect(t, m, context.Background()); err != nil || len(got) != 0 {
			t.Errorf("after the limit: %d windows, %v", len(got), err)
		}
		m.Close()
	}
}

// idle is a live source that never sees a packet.
type idle struct{}

func (idle) Next(*capture.Packet) error {
	time.Sleep(2 * time.Millisecond)
	return capture.ErrTimeout
}
func (idle) Stats() (capture.LiveStats, error) { return capture.LiveStats{}, nil }
func (idle) Close() error                      { return nil }

// Live capture stops once the duration has passed on the wall clock, even
// when nothing comes, with its last window flushed.
func TestLimitLiveDuration(t *testing.T) {
	m, err := New(DefaultConfig(), 100*ms, nil, WithLimit(&Limit{Duration: 350 * ms}),
		WithLiveSources(func(int) (LiveSource, error) { return idle{}, nil }))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var got []*event.Snapshot
	if err := m.Run(ctx, func(s *event.Snapshot) { got = append(got, s) }); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the duration did not stop capture")
	}
	if took := time.Since(start); took < 350*ms {
		t.Errorf("stopped after %s, before the duration", took)
	}
	if len(got) < 2 || !got[len(got)-1].Partial {
		t.Errorf("%d windows, want the windows of 350 ms, the last one partial", len(got))
	}
}
