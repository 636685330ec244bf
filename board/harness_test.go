package board

import (
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/sink/sinktest"
)

// tracePin is a gpiotest.Pin that remembers every level written to it,
// with the fake time of the write, and can be made to fail.
type tracePin struct {
	*gpiotest.Pin
	clk *fakeClock

	mu      sync.Mutex
	changes []change
	halts   int
	fail    error
}

type change struct {
	at time.Time
	l  gpio.Level
}

func newTracePin(clk *fakeClock, name string, num int) *tracePin {
	return &tracePin{Pin: &gpiotest.Pin{N: name, Num: num}, clk: clk}
}

func (p *tracePin) Out(l gpio.Level) error {
	p.mu.Lock()
	fail := p.fail
	if fail == nil {
		p.changes = append(p.changes, change{at: p.clk.Now(), l: l})
	}
	p.mu.Unlock()
	if fail != nil {
		return fail
	}
	return p.Pin.Out(l)
}

func (p *tracePin) Halt() error {
	p.mu.Lock()
	p.halts++
	p.mu.Unlock()
	return p.Pin.Halt()
}

func (p *tracePin) setFail(err error) {
	p.mu.Lock()
	p.fail = err
	p.mu.Unlock()
}

// levelAt returns the level last written at or before at.
func (p *tracePin) levelAt(t testing.TB, at time.Time) gpio.Level {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var l gpio.Level
	seen := false
	for _, c := range p.changes {
		if c.at.After(at) {
			break
		}
		l, seen = c.l, true
	}
	if !seen {
		t.Fatalf("%s: nothing written at or before %s", p.N, at.Format(time.TimeOnly+".000"))
	}
	return l
}

// onPeriods returns the intervals during which the level was on, between
// from and to.
func (p *tracePin) onPeriods(on gpio.Level, from, to time.Time) [][2]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out [][2]time.Time
	var start time.Time
	lit := false
	for _, c := range p.changes {
		at := c.at
		if at.Before(from) {
			at = from
		}
		if at.After(to) {
			break
		}
		switch {
		case c.l == on && !lit:
			lit, start = true, at
		case c.l != on && lit:
			lit = false
			if at.After(start) {
				out = append(out, [2]time.Time{start, at})
			}
		}
	}
	if lit && to.After(start) {
		out = append(out, [2]time.Time{start, to})
	}
	return out
}

// setLevel sets what the (button) pin reads.
func (p *tracePin) setLevel(l gpio.Level) {
	p.Pin.Lock()
	p.Pin.L = l
	p.Pin.Unlock()
}

// harness is a Board on fake pins and a fake clock.
type harness struct {
	t      *testing.T
	clk    *fakeClock
	cfg    Config
	t0     time.Time // when the board started
	status *tracePin
	alarm  *tracePin
	buzz   *tracePin
	button *tracePin
	logs   *sinktest.Buffer
	b      *Board
}

// testConfig is the default configuration, enabled.
func testConfig() Config {
	c := DefaultConfig()
	c.Enable = true
	return c
}

// newHarness starts a Board with every part fitted; edit may change the
// configuration (an empty pin name leaves that part out).
func newHarness(t *testing.T, edit func(*Config)) *harness {
	t.Helper()
	cfg := testConfig()
	if edit != nil {
		edit(&cfg)
	}
	clk := newFakeClock()
	h := &harness{t: t, clk: clk, cfg: cfg, logs: &sinktest.Buffer{}}
	var pins Pins
	if cfg.StatusLED != "" {
		h.status = newTracePin(clk, cfg.StatusLED, 17)
		pins.StatusLED = h.status
	}
	if cfg.AlarmLED != "" {
		h.alarm = newTracePin(clk, cfg.AlarmLED, 27)
		pins.AlarmLED = h.alarm
	}
	if cfg.Buzzer != "" {
		h.buzz = newTracePin(clk, cfg.Buzzer, 22)
		pins.Buzzer = h.buzz
	}
	if cfg.Button != "" {
		h.button = newTracePin(clk, cfg.Button, 23)
		pins.Button = h.button
	}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.t0 = clk.Now()
	b, err := New(cfg, pins, clk, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.b = b
	clk.waitArmed(t) // the goroutine's first timer
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// write hands r to the board and waits until its goroutine has reacted.
func (h *harness) write(r *event.Record) {
	h.t.Helper()
	if err := h.b.Write(r); err != nil {
		h.t.Fatalf("Write: %v", err)
	}
	h.clk.waitArmed(h.t)
}

// at returns the time d after the board started.
func (h *harness) at(d time.Duration) time.Time { return h.t0.Add(d) }

// advanceTo moves the fake time to d after the board started.
func (h *harness) advanceTo(d time.Duration) { h.t.Helper(); h.clk.advanceTo(h.t, h.at(d)) }

// lit reports whether an output was on at d after the start, honouring
// its active_low setting.
func (h *harness) lit(p *tracePin, d time.Duration) bool {
	h.t.Helper()
	return p.levelAt(h.t, h.at(d)) == h.onLevel(p)
}

func (h *harness) onLevel(p *tracePin) gpio.Level {
	switch p {
	case h.status:
		return gpio.Level(!h.cfg.StatusLEDActiveLow)
	case h.alarm:
		return gpio.Level(!h.cfg.AlarmLEDActiveLow)
	case h.buzz:
		return gpio.Level(!h.cfg.BuzzerActiveLow)
	}
	h.t.Fatalf("%s is not an output", p.N)
	return false
}

// expect checks an output's state at offsets from the start.
func (h *harness) expect(p *tracePin, want map[time.Duration]bool) {
	h.t.Helper()
	for d, on := range want {
		if got := h.lit(p, d); got != on {
			h.t.Errorf("%s at +%s: on = %v, want %v", p.N, d, got, on)
		}
	}
}

// pressFor holds the button for d, then releases it for long enough to
// count as released.
func (h *harness) pressFor(d time.Duration) {
	h.t.Helper()
	pressed := gpio.Level(!h.cfg.ButtonActiveLow)
	h.button.setLevel(pressed)
	h.clk.advance(h.t, d)
	h.button.setLevel(!pressed)
	h.clk.advance(h.t, h.cfg.Debounce.D()+2*pollInterval)
}

// rec builds a Record: learning windows left, packets, the alarms raised
// in the window, and the statistics whose alarm is active.
func rec(learning int, packets uint64, raised []string, active ...string) *event.Record {
	r := &event.Record{LearningLeft: learning, Packets: packets}
	for _, s := range raised {
		r.Alarms = append(r.Alarms, event.Alarm{ID: "id-" + s, Stat: s, Side: event.Up})
	}
	for _, s := range []string{"R_SYN", "TRAFFIC", "R_ICMP", "R_ARP"} {
		st := event.Stat{Name: s}
		for _, a := range active {
			if a == s {
				st.AlarmID = fmt.Sprintf("id-%s", s)
			}
		}
		r.Stats = append(r.Stats, st)
	}
	return r
}

// watching is a quiet Record once every detector has learnt.
func watching() *event.Record { return rec(0, 100, nil) }

func slogTo(w *sinktest.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func configDuration(d time.Duration) config.Duration { return config.Duration(d) }
