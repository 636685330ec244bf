package board

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"netspot/core/sink"
	"netspot/core/sink/sinktest"
)

var _ sink.Sink = (*Board)(nil)

const ms = time.Millisecond

func TestStartsWithEverythingOffAndHeartbeat(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Button = "" })
	h.advanceTo(4 * time.Second)
	// Before any Record the board is starting: heartbeat, two short
	// blinks every two seconds, from the start.
	h.expect(h.status, map[time.Duration]bool{
		0: true, 50 * ms: true, 100 * ms: false, 250 * ms: false, 300 * ms: true,
		399 * ms: true, 400 * ms: false, 1999 * ms: false, 2000 * ms: true, 2150 * ms: false, 2350 * ms: true,
	})
	for _, p := range []*tracePin{h.alarm, h.buzz} {
		if got := p.onPeriods(h.onLevel(p), h.t0, h.at(4*time.Second)); len(got) != 0 {
			t.Errorf("%s was lit without an alarm: %v", p.N, got)
		}
	}
}

func TestStatusLearningThenWatching(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Button = "" })
	h.write(rec(5, 10, nil))
	h.advanceTo(2500 * ms)
	h.expect(h.status, map[time.Duration]bool{2050 * ms: true, 2200 * ms: false, 2350 * ms: true, 2450 * ms: false})
	h.write(watching())
	h.advanceTo(10 * time.Second)
	if got := h.status.onPeriods(h.onLevel(h.status), h.at(2500*ms), h.at(10*time.Second)); len(got) != 1 ||
		!got[0][0].Equal(h.at(2500*ms)) || !got[0][1].Equal(h.at(10*time.Second)) {
		t.Errorf("watching: status LED on periods %v, want steady on from +2.5s", got)
	}
	if n := strings.Count(h.logs.String(), "status watching"); n != 1 {
		t.Errorf("logged %d changes to watching, want 1:\n%s", n, h.logs)
	}
}

func TestStatusFastBlinkOnCaptureError(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Button = "" })
	h.write(watching())
	h.advanceTo(time.Second)
	r := watching()
	r.CaptureErr = "eth0: interface is down"
	h.write(r)
	h.advanceTo(2 * time.Second)
	// 5 Hz from the board's start: on for 100 ms of every 200 ms.
	h.expect(h.status, map[time.Duration]bool{
		1050 * ms: true, 1150 * ms: false, 1250 * ms: true, 1350 * ms: false, 1950 * ms: false,
	})
	if !strings.Contains(h.logs.String(), "capture error: eth0: interface is down") {
		t.Errorf("the failure was not logged with its reason:\n%s", h.logs)
	}
	h.write(watching())
	h.advanceTo(5 * time.Second)
	h.expect(h.status, map[time.Duration]bool{2050 * ms: true, 2150 * ms: true, 4999 * ms: true})
}

func TestStatusFastBlinkWithoutPackets(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Button = ""
		c.NoPacketsFor.UnmarshalText([]byte("1m"))
	})
	// Records keep coming every second, but empty.
	for s := 1; s <= 70; s++ {
		h.advanceTo(time.Duration(s) * time.Second)
		h.write(rec(0, 0, nil))
	}
	h.expect(h.status, map[time.Duration]bool{
		59*time.Second + 900*ms: true, // still steady just before a minute
		60*time.Second + 50*ms:  true,
		60*time.Second + 150*ms: false,
		65*time.Second + 150*ms: false,
		69*time.Second + 50*ms:  true,
	})
	h.write(watching()) // packets again
	h.advanceTo(75 * time.Second)
	h.expect(h.status, map[time.Duration]bool{70*time.Second + 150*ms: true, 74*time.Second + 150*ms: true})
}

func TestStatusFastBlinkWhenRecordsStop(t *testing.T) {
	// A stalled pipeline sends no Record at all: the LED must not stay
	// steady forever.
	h := newHarness(t, func(c *Config) {
		c.Button = ""
		c.NoPacketsFor.UnmarshalText([]byte("30s"))
	})
	h.write(watching())
	h.advanceTo(40 * time.Second)
	h.expect(h.status, map[time.Duration]bool{29 * time.Second: true, 35*time.Second + 150*ms: false, 35*time.Second + 50*ms: true})
}

func TestNoPacketsCheckCanBeOff(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Button = ""
		c.NoPacketsFor = 0
	})
	h.write(rec(0, 0, nil))
	h.advanceTo(time.Hour)
	if got := h.status.onPeriods(h.onLevel(h.status), h.t0, h.at(time.Hour)); len(got) != 1 {
		t.Errorf("status LED not steady with no_packets_for = 0: %d on periods", len(got))
	}
}

// uplink is what a fake MQTT sink reports.
type uplink struct {
	mu        sync.Mutex
	connected bool
	since     time.Time
}

func (u *uplink) set(connected bool, since time.Time) {
	u.mu.Lock()
	u.connected, u.since = connected, since
	u.mu.Unlock()
}

func (u *uplink) state() (bool, time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.connected, u.since
}

func TestStatusFastBlinkWhenBrokerUnreachable(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Button = ""
		c.NoPacketsFor = 0
		c.BrokerDownFor.UnmarshalText([]byte("1m"))
	})
	u := &uplink{connected: true, since: h.t0}
	h.b.SetUplink(u.state)
	h.clk.waitArmed(t)
	h.write(watching())
	h.advanceTo(10 * time.Second)
	u.set(false, h.at(10*time.Second))
	h.advanceTo(80 * time.Second)
	h.expect(h.status, map[time.Duration]bool{
		69 * time.Second:                        true, // down for 59 s: still steady
		70*time.Second + 1*time.Second + 50*ms:  true,
		70*time.Second + 1*time.Second + 150*ms: false,
	})
	if !strings.Contains(h.logs.String(), "MQTT broker unreachable for 1m0s") {
		t.Errorf("the broker failure was not logged:\n%s", h.logs)
	}
	u.set(true, h.at(80*time.Second))
	h.advanceTo(90 * time.Second) // seen within a second, without a Record
	h.expect(h.status, map[time.Duration]bool{81*time.Second + 150*ms: true, 89*time.Second + 150*ms: true})

	// Without MQTT (nil uplink) the broker is not watched.
	u.set(false, h.at(90*time.Second))
	h.b.SetUplink(nil)
	h.clk.waitArmed(t)
	h.advanceTo(5 * time.Minute)
	h.expect(h.status, map[time.Duration]bool{4*time.Minute + 150*ms: true})
}

func TestStatusBrokerNeverConnected(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Button = ""
		c.NoPacketsFor = 0
		c.BrokerDownFor.UnmarshalText([]byte("30s"))
	})
	u := &uplink{} // never connected: since is zero
	h.b.SetUplink(u.state)
	h.clk.waitArmed(t)
	h.write(watching())
	h.advanceTo(40 * time.Second)
	h.expect(h.status, map[time.Duration]bool{29 * time.Second: true, 31*time.Second + 150*ms: false})
}

func TestAlarmLEDOnWhileActiveThenLatched(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Button = ""
		c.AlarmHold.UnmarshalText([]byte("10s"))
	})
	h.write(watching())
	h.advanceTo(time.Second)
	h.write(rec(0, 100, []string{"R_SYN"}, "R_SYN"))
	h.advanceTo(2 * time.Second)
	h.write(rec(0, 100, nil, "R_SYN")) // still active
	h.advanceTo(3 * time.Second)
	h.write(watching()) // cleared at +3s
	h.advanceTo(20 * time.Second)
	h.expect(h.alarm, map[time.Duration]bool{
		999 * ms: false, 1001 * ms: true, 2500 * ms: true, 2999 * ms: true,
		// blinking at 1 Hz from the clearing, for alarm_hold
		3250 * ms: true, 3750 * ms: false, 4250 * ms: true, 12750 * ms: false,
		12999 * ms: false, 13 * time.Second: false, 19 * time.Second: false,
	})
	if got := h.alarm.onPeriods(h.onLevel(h.alarm), h.at(12*time.Second), h.at(20*time.Second)); len(got) != 1 ||
		!got[0][1].Equal(h.at(12500*ms)) {
		t.Errorf("alarm LED after the hold: on periods %v, want the last blink to end at +12.5s", got)
	}
}

func TestAlarmRaisedAndClearedInOneWindowLatches(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Button = "" })
	h.write(watching())
	h.write(rec(0, 100, []string{"TRAFFIC"})) // raised, no longer active
	h.advanceTo(3 * time.Second)
	h.expect(h.alarm, map[time.Duration]bool{250 * ms: true, 750 * ms: false, 2250 * ms: true})
}

func TestAlarmHoldZeroTurnsOffAtOnce(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Button = ""
		c.AlarmHold = 0
	})
	h.write(rec(0, 100, []string{"R_SYN"}, "R_SYN"))
	h.advanceTo(time.Second)
	h.write(watching())
	h.advanceTo(5 * time.Second)
	h.expect(h.alarm, map[time.Duration]bool{500 * ms: true, 1001 * ms: false, 1600 * ms: false, 4 * time.Second: false})
}

func TestShortPressAcknowledges(t *testing.T) {
	h := newHarness(t, nil)
	h.write(watching())
	h.write(rec(0, 100, []string{"R_SYN"}, "R_SYN"))
	h.advanceTo(time.Second)
	h.write(watching()) // cleared: latched, blinking; buzzer still sounding
	h.advanceTo(2 * time.Second)
	h.pressFor(200 * ms)
	ack := h.clk.Now()
	h.advanceTo(time.Minute)
	if got := h.alarm.onPeriods(h.onLevel(h.alarm), ack, h.at(time.Minute)); len(got) != 0 {
		t.Errorf("alarm LED still blinking after acknowledgement: %v", got)
	}
	if got := h.buzz.onPeriods(h.onLevel(h.buzz), ack, h.at(time.Minute)); len(got) != 0 {
		t.Errorf("buzzer still sounding after acknowledgement: %v", got)
	}
	if got := h.buzz.onPeriods(h.onLevel(h.buzz), h.t0, ack); len(got) == 0 {
		t.Error("buzzer never sounded for the alarm")
	}
	if n := strings.Count(h.logs.String(), "alarms acknowledged"); n != 1 {
		t.Errorf("%d acknowledgements logged, want 1", n)
	}
}

func TestAcknowledgeWhileActive(t *testing.T) {
	h := newHarness(t, nil)
	h.write(rec(0, 100, []string{"R_SYN"}, "R_SYN"))
	h.advanceTo(time.Second)
	h.pressFor(100 * ms)
	h.advanceTo(5 * time.Second)
	h.write(rec(0, 100, nil, "R_SYN"))
	h.advanceTo(6 * time.Second)
	h.write(watching()) // clears after the acknowledgement: no latch
	h.advanceTo(20 * time.Second)
	h.expect(h.alarm, map[time.Duration]bool{
		1500 * ms: true, 5500 * ms: true, // on while active, acknowledged or not
		6250 * ms: false, 7250 * ms: false, 19 * time.Second: false,
	})

	// A new alarm after the acknowledgement latches again.
	h.write(rec(0, 100, []string{"R_ARP"}, "R_ARP"))
	h.advanceTo(21 * time.Second)
	h.write(watching())
	h.advanceTo(23 * time.Second)
	h.expect(h.alarm, map[time.Duration]bool{20500 * ms: true, 21250 * ms: true, 21750 * ms: false})
}

func TestPressWithNothingToAcknowledge(t *testing.T) {
	h := newHarness(t, nil)
	h.write(watching())
	h.pressFor(100 * ms)
	if n := strings.Count(h.logs.String(), "nothing to acknowledge"); n != 1 {
		t.Errorf("press without alarm: logged %d times, want 1\n%s", n, h.logs)
	}
}

func TestDebounce(t *testing.T) {
	h := newHarness(t, nil)
	h.write(rec(0, 100, []string{"R_SYN"})) // latched
	h.advanceTo(time.Second)
	pressed := gpio.Level(!h.cfg.ButtonActiveLow)

	// Contact bounce shorter than the debounce delay, then released:
	// not a press.
	for i := range 4 {
		h.button.setLevel(pressed == (i%2 == 0))
		h.clk.advance(t, pollInterval)
	}
	h.button.setLevel(!pressed)
	h.clk.advance(t, 200*ms)
	if n := strings.Count(h.logs.String(), "acknowledged"); n != 0 {
		t.Fatalf("bounce without a press acknowledged %d times", n)
	}
	// A 30 ms touch, shorter than the 50 ms debounce: not a press.
	h.button.setLevel(pressed)
	h.clk.advance(t, 30*ms)
	h.button.setLevel(!pressed)
	h.clk.advance(t, 200*ms)
	if n := strings.Count(h.logs.String(), "acknowledged"); n != 0 {
		t.Fatalf("a 30 ms touch acknowledged %d times", n)
	}
	// Bouncing on the way in and out of a real press: one press.
	for i := range 5 {
		h.button.setLevel(pressed == (i%2 == 0))
		h.clk.advance(t, pollInterval)
	}
	h.button.setLevel(pressed)
	h.clk.advance(t, 150*ms)
	for i := range 5 {
		h.button.setLevel(pressed == (i%2 == 1))
		h.clk.advance(t, pollInterval)
	}
	h.button.setLevel(!pressed)
	h.clk.advance(t, 200*ms)
	if n := strings.Count(h.logs.String(), "alarms acknowledged"); n != 1 {
		t.Fatalf("a bouncing press acknowledged %d times, want 1", n)
	}
}

func TestShortestPress(t *testing.T) {
	// A resting button is sampled every idlePoll: whatever the phase of
	// the press against the samples, idlePoll + debounce is enough.
	h := newHarness(t, nil)
	h.write(watching())
	shortest := idlePoll + h.cfg.Debounce.D() + pollInterval
	for phase := time.Duration(0); phase < idlePoll; phase += 3 * ms {
		h.clk.advance(t, phase)
		h.pressFor(shortest)
		h.clk.advance(t, time.Second)
	}
	if n, want := strings.Count(h.logs.String(), "button pressed"), int(idlePoll/(3*ms))+1; n != want {
		t.Errorf("%d presses of %s seen, want %d", n, shortest, want)
	}
}

func TestDebouncerBounces(t *testing.T) {
	// Contact bounce sampled every millisecond: the press counts once,
	// when the contact has been closed for the whole delay.
	d := debouncer{delay: 50 * ms}
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	d.sample(t0, false)
	var events []buttonEvent
	var when []time.Duration
	level := func(i int) bool {
		switch {
		case i < 100:
			return false
		case i < 120: // bouncing in
			return i%3 != 0
		case i < 400: // held
			return true
		case i < 415: // bouncing out
			return i%2 == 0
		}
		return false
	}
	for i := 1; i < 600; i++ {
		if e := d.sample(t0.Add(time.Duration(i)*ms), level(i)); e != noPress {
			events, when = append(events, e), append(when, time.Duration(i)*ms)
		}
	}
	if len(events) != 1 || events[0] != shortPress || when[0] != 465*ms {
		t.Errorf("events %v at %v, want one short press at 465ms (50 ms after the last bounce)", events, when)
	}

	// Glitches shorter than the delay never count, however many.
	d = debouncer{delay: 50 * ms}
	d.sample(t0, false)
	for i := 1; i < 1000; i++ {
		if e := d.sample(t0.Add(time.Duration(i)*ms), i%40 < 30); e != noPress {
			t.Fatalf("glitch counted as %v at %dms", e, i)
		}
	}
}

func TestLongPressRunsSelfTest(t *testing.T) {
	h := newHarness(t, nil)
	h.write(watching())
	h.advanceTo(time.Second)
	pressed := gpio.Level(!h.cfg.ButtonActiveLow)
	h.button.setLevel(pressed)
	press := h.clk.Now()
	h.clk.advance(t, 4*time.Second)
	h.button.setLevel(!pressed)
	h.clk.advance(t, 3*time.Second)

	// The self-test turns the status LED off after its 1 s step: find
	// it, and check the whole sequence from there.
	var start time.Time
	for _, c := range h.status.changes {
		if c.at.After(press) && c.l != h.onLevel(h.status) {
			start = c.at.Add(-time.Second)
			break
		}
	}
	if start.IsZero() {
		t.Fatalf("no self-test seen after the long press:\n%s", h.logs)
	}
	if d := start.Sub(press); d < LongPress || d > LongPress+idlePoll+pollInterval {
		t.Fatalf("self-test started %s after the press, want %s", d, LongPress)
	}
	off := start.Sub(h.t0)
	h.expect(h.status, map[time.Duration]bool{off + 500*ms: true, off + 1100*ms: false, off + 1500*ms: false, off + 3100*ms: true})
	h.expect(h.alarm, map[time.Duration]bool{off + 500*ms: false, off + 1300*ms: true, off + 2200*ms: true, off + 2300*ms: false})
	h.expect(h.buzz, map[time.Duration]bool{off + 2400*ms: false, off + 2600*ms: true, off + 2790*ms: true, off + 2810*ms: false})
	if n := strings.Count(h.logs.String(), "acknowledged"); n != 0 {
		t.Errorf("the release after a long press counted as a short press")
	}
	if n := strings.Count(h.logs.String(), "self-test started"); n != 1 {
		t.Errorf("self-test logged %d times, want 1", n)
	}
}

func TestButtonPressedAtStartIsIgnoredUntilReleased(t *testing.T) {
	clk := newFakeClock()
	button := newTracePin(clk, "GPIO23", 23)
	status := newTracePin(clk, "GPIO17", 17)
	// A button pin stuck low: In() sets the pull-up, but the contact wins.
	stuck := &stuckPin{tracePin: button, level: gpio.Low}
	logs := &sinktest.Buffer{}
	cfg := testConfig()
	b, err := New(cfg, Pins{StatusLED: status, Button: stuck}, clk, slogTo(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	clk.waitArmed(t)
	clk.advance(t, 10*time.Second)
	if n := strings.Count(logs.String(), "self-test started"); n != 0 {
		t.Fatal("a button stuck pressed at start ran the self-test")
	}
	if n := strings.Count(logs.String(), "reads pressed at start"); n != 1 {
		t.Fatalf("stuck button warned %d times, want 1:\n%s", n, logs)
	}
	stuck.set(gpio.High)
	clk.advance(t, time.Second)
	if n := strings.Count(logs.String(), "acknowledge"); n != 0 {
		t.Fatal("releasing a stuck button counted as a press")
	}
	stuck.set(gpio.Low)
	clk.advance(t, 200*ms)
	stuck.set(gpio.High)
	clk.advance(t, 200*ms)
	if n := strings.Count(logs.String(), "nothing to acknowledge"); n != 1 {
		t.Fatalf("a press after the release was not seen:\n%s", logs)
	}
}

// stuckPin reads a level set by the test whatever In() asks for.
type stuckPin struct {
	*tracePin
	mu    sync.Mutex
	level gpio.Level
}

func (p *stuckPin) set(l gpio.Level) {
	p.mu.Lock()
	p.level = l
	p.mu.Unlock()
}

func (p *stuckPin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

func TestBuzzerPatternAndLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Button = ""
		c.BuzzerMax.UnmarshalText([]byte("4500ms"))
	})
	h.advanceTo(time.Second)
	h.write(rec(0, 100, []string{"R_SYN"}, "R_SYN"))
	h.advanceTo(time.Minute)
	// 200 on, 200 off, 200 on, 1400 off, from the alarm, cut off in the
	// middle of a beep by buzzer_max.
	h.expect(h.buzz, map[time.Duration]bool{
		999 * ms: false, 1000 * ms: true, 1199 * ms: true, 1200 * ms: false, 1400 * ms: true, 1600 * ms: false,
		2999 * ms: false, 3000 * ms: true, 5 * time.Second: true, 5200 * ms: false, 5400 * ms: true,
		5499 * ms: true, 5500 * ms: false, 7 * time.Second: false, 9 * time.Second: false, 59 * time.Second: false,
	})
	// The alarm LED stays on: the buzzer limit does not silence it.
	h.expect(h.alarm, map[time.Duration]bool{59 * time.Second: true})
}

func TestBuzzerNotRestartedByEveryAlarm(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Button = ""
		c.BuzzerMax.UnmarshalText([]byte("10s"))
		c.BuzzerRest.UnmarshalText([]byte("1m"))
	})
	h.write(rec(0, 100, []string{"R_SYN"}, "R_SYN"))
	h.advanceTo(5 * time.Second)
	h.write(rec(0, 100, []string{"TRAFFIC"}, "R_SYN", "TRAFFIC")) // while sounding: not extended
	h.advanceTo(30 * time.Second)
	h.write(rec(0, 100, []string{"R_ICMP"}, "R_SYN", "TRAFFIC", "R_ICMP")) // resting: silent
	h.advanceTo(75 * time.Second)
	h.write(rec(0, 100, []string{"R_ARP"}, "R_ARP")) // rest over: sounds again
	h.advanceTo(100 * time.Second)
	p := h.buzz.onPeriods(h.onLevel(h.buzz), h.t0, h.at(100*time.Second))
	if len(p) == 0 || p[len(p)-1][1].After(h.at(85*time.Second)) {
		t.Fatalf("buzzer periods %v", p)
	}
	for _, iv := range p {
		in := func(a, b time.Duration) bool { return !iv[0].Before(h.at(a)) && !iv[1].After(h.at(b)) }
		if !in(0, 10*time.Second) && !in(75*time.Second, 85*time.Second) {
			t.Errorf("buzzer on from +%s to +%s, outside the two 10 s episodes", iv[0].Sub(h.t0), iv[1].Sub(h.t0))
		}
	}
	if !h.lit(h.buzz, 75*time.Second) {
		t.Error("buzzer silent for an alarm after its rest")
	}
}

func TestBuzzerBoundedUnderAlarmStorm(t *testing.T) {
	const (
		storm   = time.Hour
		maxBuzz = 20 * time.Second
		rest    = 5 * time.Minute
	)
	h := newHarness(t, func(c *Config) {
		c.Button = ""
		c.BuzzerMax = configDuration(maxBuzz)
		c.BuzzerRest = configDuration(rest)
	})
	// A new alarm every second for an hour.
	stats := []string{"R_SYN", "TRAFFIC", "R_ICMP", "R_ARP"}
	for s := 0; s < int(storm/time.Second); s++ {
		h.advanceTo(time.Duration(s) * time.Second)
		st := stats[s%len(stats)]
		h.write(rec(0, 1000, []string{st}, st))
	}
	h.advanceTo(storm)

	// Group the buzzer's beeps into episodes: beeps closer than the
	// pattern's longest silence belong to one episode.
	beeps := h.buzz.onPeriods(h.onLevel(h.buzz), h.t0, h.at(storm))
	var episodes [][2]time.Time
	for _, b := range beeps {
		if n := len(episodes); n > 0 && b[0].Sub(episodes[n-1][1]) <= 1400*ms {
			episodes[n-1][1] = b[1]
			continue
		}
		episodes = append(episodes, b)
	}
	if len(episodes) == 0 {
		t.Fatal("the buzzer never sounded")
	}
	maxEpisodes := int(storm/(maxBuzz+rest)) + 1
	if len(episodes) > maxEpisodes {
		t.Errorf("%d buzzer episodes in an hour, want at most %d", len(episodes), maxEpisodes)
	}
	var total time.Duration
	for i, e := range episodes {
		if d := e[1].Sub(e[0]); d > maxBuzz {
			t.Errorf("episode %d sounded for %s, more than buzzer_max %s", i, d, maxBuzz)
		}
		if i > 0 {
			// The rest counts from the end of buzzer_max, which may fall
			// in a silent step of the pattern: allow one pattern cycle.
			if gap := e[0].Sub(episodes[i-1][1]); gap < rest-2*time.Second {
				t.Errorf("episode %d started %s after the previous one, want at least buzzer_rest %s", i, gap, rest)
			}
		}
		for _, b := range beeps {
			if !b[0].Before(e[0]) && !b[1].After(e[1]) {
				total += b[1].Sub(b[0])
			}
		}
	}
	// The pattern sounds 400 ms in 2 s: at most a fifth of each episode.
	if bound := time.Duration(len(episodes)) * maxBuzz / 5; total > bound+time.Second {
		t.Errorf("buzzer sounded %s in an hour of storm, want at most %s", total, bound)
	}
	t.Logf("storm of %s: %d episodes, buzzer on for %s", storm, len(episodes), total)
}

func TestCloseLeavesSafeState(t *testing.T) {
	for _, activeLow := range []bool{false, true} {
		clk := newFakeClock()
		status, alarm, buzz, button := newTracePin(clk, "GPIO17", 17), newTracePin(clk, "GPIO27", 27),
			newTracePin(clk, "GPIO22", 22), newTracePin(clk, "GPIO23", 23)
		cfg := testConfig()
		cfg.StatusLEDActiveLow, cfg.AlarmLEDActiveLow, cfg.BuzzerActiveLow = activeLow, activeLow, activeLow
		b, err := New(cfg, Pins{StatusLED: status, AlarmLED: alarm, Buzzer: buzz, Button: button}, clk, nil)
		if err != nil {
			t.Fatal(err)
		}
		clk.waitArmed(t)
		if err := b.Write(rec(0, 100, []string{"R_SYN"}, "R_SYN")); err != nil {
			t.Fatal(err)
		}
		clk.waitArmed(t)
		clk.advance(t, 50*ms)
		on := gpio.Level(!activeLow)
		for _, p := range []*tracePin{status, alarm, buzz} {
			if p.Read() != on {
				t.Fatalf("active_low=%v: %s not on before Close", activeLow, p.N)
			}
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*tracePin{status, alarm, buzz} {
			if p.Read() != !on {
				t.Errorf("active_low=%v: %s left on after Close", activeLow, p.N)
			}
			if p.halts != 1 {
				t.Errorf("%s halted %d times, want 1", p.N, p.halts)
			}
		}
		if button.halts != 1 {
			t.Errorf("button halted %d times, want 1", button.halts)
		}
		// The goroutine is gone: nothing moves any more.
		n := len(buzz.changes)
		clk.advanceTo(t, clk.Now().Add(time.Hour))
		if len(buzz.changes) != n {
			t.Error("outputs still driven after Close")
		}
		if err := b.Write(watching()); !errors.Is(err, ErrClosed) {
			t.Errorf("Write after Close: %v, want ErrClosed", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	}
}

func TestCloseReportsPinErrors(t *testing.T) {
	clk := newFakeClock()
	status := newTracePin(clk, "GPIO17", 17)
	b, err := New(testConfig(), Pins{StatusLED: status}, clk, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk.waitArmed(t)
	status.setFail(errors.New("line released"))
	if err := b.Close(); err == nil || !strings.Contains(err.Error(), "status LED GPIO17") {
		t.Errorf("Close with a failing pin: %v", err)
	}
}

func TestPinFailureIsReportedAndRetried(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Button = "" })
	h.write(rec(5, 100, nil)) // learning: heartbeat
	h.status.setFail(errors.New("device or resource busy"))
	h.advanceTo(time.Second)
	err := h.b.Write(rec(5, 100, nil))
	h.clk.waitArmed(t)
	if err == nil || !strings.Contains(err.Error(), "status LED GPIO17") || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("Write with a failing pin: %v", err)
	}
	if n := strings.Count(h.logs.String(), "cannot drive an output"); n != 1 {
		t.Errorf("failure logged %d times, want once", n)
	}
	h.status.setFail(nil)
	h.advanceTo(3 * time.Second)
	h.write(rec(5, 100, nil))
	if n := strings.Count(h.logs.String(), "outputs work again"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
	h.expect(h.status, map[time.Duration]bool{2050 * ms: true, 2200 * ms: false})
}

func TestNewErrors(t *testing.T) {
	clk := newFakeClock()
	bad := testConfig()
	bad.Debounce = 0
	if _, err := New(bad, Pins{StatusLED: &gpiotest.Pin{N: "GPIO17"}}, clk, nil); err == nil ||
		!strings.Contains(err.Error(), "debounce") {
		t.Errorf("invalid config: %v", err)
	}
	if _, err := New(testConfig(), Pins{Button: &gpiotest.Pin{N: "GPIO23"}}, clk, nil); err == nil ||
		!strings.Contains(err.Error(), "no output pin") {
		t.Errorf("no outputs: %v", err)
	}
	ok := newTracePin(clk, "GPIO17", 17)
	failing := newTracePin(clk, "GPIO27", 27)
	failing.setFail(errors.New("permission denied"))
	_, err := New(testConfig(), Pins{StatusLED: ok, AlarmLED: failing}, clk, nil)
	if err == nil || !strings.Contains(err.Error(), "alarm LED GPIO27") || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("failing pin: %v", err)
	}
	if ok.Read() != gpio.Low || ok.halts != 1 {
		t.Errorf("a failed New left the other outputs unsafe: level %v, halts %d", ok.Read(), ok.halts)
	}
}

func TestNewErrorHints(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("GPIOLine.Out(): line_request ioctl: %w", syscall.EBUSY), "another program holds this line"},
		{fmt.Errorf("line_request ioctl: %w", syscall.EACCES), "run netspot as root"},
		{errors.New("odd"), "set as output: odd"},
	} {
		clk := newFakeClock()
		p := newTracePin(clk, "GPIO17", 17)
		p.setFail(c.err)
		_, err := New(testConfig(), Pins{StatusLED: p}, clk, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, c.err) {
			t.Errorf("New with %v: %v, want %q", c.err, err, c.want)
		}
	}
}

func TestWriteNilRecord(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.b.Write(nil); err == nil {
		t.Error("Write(nil) accepted")
	}
}

func TestOnlySomePartsFitted(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.StatusLED, c.Buzzer, c.Button = "", "", ""
	})
	h.write(rec(0, 100, []string{"R_SYN"}, "R_SYN"))
	h.advanceTo(time.Minute)
	h.expect(h.alarm, map[time.Duration]bool{30 * time.Second: true})
}

func TestBoardWithFanOut(t *testing.T) {
	// The board as a real sink of the fan-out: records reach it in order
	// and closing the fan-out closes the board.
	h := newHarness(t, func(c *Config) { c.Button = "" })
	f := sink.NewFanOut(nil, sink.Live)
	f.Add("board", h.b, sink.QueueOptions{Len: 4})
	f.Publish(t.Context(), rec(0, 100, []string{"R_SYN"}, "R_SYN"))
	h.clk.waitArmed(t)
	h.advanceTo(time.Second)
	if !h.lit(h.alarm, time.Second) {
		t.Error("alarm LED off after an alarm went through the fan-out")
	}
	if err := f.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if h.alarm.Read() != gpio.Low || h.buzz.Read() != gpio.Low || h.status.Read() != gpio.Low {
		t.Error("closing the fan-out did not put the outputs in their safe state")
	}
	if st := f.Stats(); st[0].Delivered != 1 || st[0].Failed != 0 {
		t.Errorf("fan-out stats %+v", st[0])
	}
}

func TestUplinkAskedAboutOnceASecond(t *testing.T) {
	// With a button fitted the goroutine wakes 40 times a second; the MQTT
	// sink is not asked that often.
	h := newHarness(t, nil)
	var mu sync.Mutex
	calls := 0
	h.b.SetUplink(func() (bool, time.Time) {
		mu.Lock()
		calls++
		mu.Unlock()
		return true, h.t0
	})
	h.clk.waitArmed(t)
	h.advanceTo(10 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	if calls < 10 || calls > 12 {
		t.Errorf("uplink asked %d times in 10 s, want about 10", calls)
	}
}
