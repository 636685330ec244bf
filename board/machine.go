package board

import (
	"fmt"
	"time"

	"netspot/core/event"
)

// maxSleep bounds how long the board's goroutine sleeps, so that a change
// of the MQTT link is seen within a second even without a Record.
const maxSleep = time.Second

// The button is sampled every idlePoll while it rests, and every
// pollInterval from the first sample that sees it move until it rests
// again, so that the debounce filter gets several samples. Waking up costs
// the Go runtime about 0.1 ms of CPU: sampling a resting button at 100 Hz
// would cost 1% of a core for nothing. A press must last idlePoll plus
// debounce to count (75 ms by default; a deliberate press lasts longer).
const (
	pollInterval = resolution
	idlePoll     = 25 * time.Millisecond
)

// statusMode is what the status LED shows.
type statusMode uint8

const (
	modeLearning statusMode = iota // slow heartbeat
	modeWatching                   // steady
	modeFailing                    // fast blink
)

func (m statusMode) String() string {
	switch m {
	case modeLearning:
		return "learning"
	case modeWatching:
		return "watching"
	case modeFailing:
		return "failing"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// uplinkState is what the MQTT sink said about its broker.
type uplinkState struct {
	watched   bool // an uplink is set
	connected bool
	since     time.Time // of the last change; zero if never connected
}

// outputs are the levels the outputs should have: true = on.
type outputs struct{ status, alarm, buzzer bool }

// output names one of the three outputs.
type output uint8

const (
	statusLED output = iota
	alarmLED
	buzzer
	numOutputs
)

func (o output) String() string {
	switch o {
	case statusLED:
		return "status LED"
	case alarmLED:
		return "alarm LED"
	case buzzer:
		return "buzzer"
	}
	return fmt.Sprintf("output(%d)", uint8(o))
}

// testStep is one step of the self-test: one output on, then all off.
type testStep struct {
	out     output
	on, off time.Duration
}

// selfTestSteps lights each fitted output in turn; the buzzer only briefly.
func selfTestSteps(fitted [numOutputs]bool) []testStep {
	var steps []testStep
	for o := statusLED; o < numOutputs; o++ {
		if !fitted[o] {
			continue
		}
		on := time.Second
		if o == buzzer {
			on = 300 * time.Millisecond
		}
		steps = append(steps, testStep{out: o, on: on, off: 250 * time.Millisecond})
	}
	return steps
}

// machine decides what the outputs show from what it has been told and the
// time it is given. It does no I/O and reads no clock, so each behaviour
// is a plain function of its inputs; Board serializes the calls.
type machine struct {
	buzzMax, buzzRest, hold time.Duration
	noPackets, brokerDown   time.Duration
	buzz                    pattern
	fitted                  [numOutputs]bool
	epoch                   time.Time // anchors the status LED rhythms

	// Health, from the last Record.
	learning   bool   // true until a Record says every detector watches
	captureErr string // from the Record, "" when capture works
	captureWhy string // its reason for the log, formatted once
	lastPacket time.Time

	// Reasons, formatted once.
	noPacketsReason, brokerDownReason string
	mode                              statusMode
	reason                            string // why the status LED shows mode

	// Alarms.
	active     bool      // a statistic has an active alarm
	pendingAck bool      // alarms seen since the last acknowledgement
	latchFrom  time.Time // alarm LED blinking from latchFrom to latchUntil
	latchUntil time.Time // zero: not latched
	buzzFrom   time.Time // zero: buzzer silent
	quietUntil time.Time // new alarms do not sound the buzzer before

	btn      debouncer
	test     []testStep
	testFrom time.Time // zero: no self-test running
}

func newMachine(cfg *Config, fitted [numOutputs]bool, now time.Time) *machine {
	m := &machine{
		buzzMax:    cfg.BuzzerMax.D(),
		buzzRest:   cfg.BuzzerRest.D(),
		hold:       cfg.AlarmHold.D(),
		noPackets:  cfg.NoPacketsFor.D(),
		brokerDown: cfg.BrokerDownFor.D(),
		fitted:     fitted,
		epoch:      now,
		learning:   true,
		lastPacket: now,
		mode:       modeLearning,
		reason:     "starting",
		btn:        debouncer{delay: cfg.Debounce.D()},
		test:       selfTestSteps(fitted),

		noPacketsReason:  fmt.Sprintf("no packet captured for %s", cfg.NoPacketsFor),
		brokerDownReason: fmt.Sprintf("MQTT broker unreachable for %s", cfg.BrokerDownFor),
	}
	for _, d := range cfg.BuzzerPattern {
		m.buzz = append(m.buzz, d.D())
	}
	return m
}

// record takes in one Record received at now. It reports whether the
// buzzer started.
func (m *machine) record(now time.Time, r *event.Record) (buzzing bool) {
	m.learning = r.LearningLeft > 0
	if r.CaptureErr != m.captureErr {
		m.captureErr, m.captureWhy = r.CaptureErr, "capture error: "+r.CaptureErr
	}
	if r.Packets > 0 {
		m.lastPacket = now
	}
	wasActive := m.active
	m.active = r.ActiveAlarms()
	raised := len(r.Alarms) > 0
	if raised {
		m.pendingAck = true
		buzzing = m.startBuzzer(now)
	}
	switch {
	case m.active:
		m.latchUntil = time.Time{}
	case (wasActive || raised) && m.pendingAck:
		// Cleared now, or raised and cleared within the window.
		if m.hold > 0 {
			m.latchFrom, m.latchUntil = now, now.Add(m.hold)
		} else {
			m.pendingAck = false
		}
	}
	return buzzing
}

func (m *machine) startBuzzer(now time.Time) bool {
	if !m.fitted[buzzer] || !m.buzzFrom.IsZero() || now.Before(m.quietUntil) {
		return false
	}
	m.buzzFrom = now
	return true
}

func (m *machine) stopBuzzer(at time.Time) {
	m.buzzFrom = time.Time{}
	m.quietUntil = at.Add(m.buzzRest)
}

// acknowledge is a short press: the buzzer stops, the alarm LED stops
// blinking (it stays on while an alarm is active). It reports whether
// there was anything to acknowledge.
func (m *machine) acknowledge(now time.Time) bool {
	did := m.pendingAck || !m.buzzFrom.IsZero() || !m.latchUntil.IsZero()
	m.pendingAck = false
	m.latchUntil = time.Time{}
	if !m.buzzFrom.IsZero() {
		m.stopBuzzer(now)
	}
	return did
}

// startSelfTest is a long press: each fitted output in turn. It reports
// false if a self-test is already running.
func (m *machine) startSelfTest(now time.Time) bool {
	if !m.testFrom.IsZero() {
		return false
	}
	m.testFrom = now
	return true
}

// eval returns the outputs at now and when they may next change (at most
// maxSleep later). It also ends what has timed out: the buzzer after
// buzzMax, the alarm LED's latch after hold, a finished self-test.
func (m *machine) eval(now time.Time, up uplinkState) (o outputs, next time.Time) {
	next = now.Add(maxSleep)
	soon := func(t time.Time) {
		if t.After(now) && t.Before(next) {
			next = t
		}
	}

	if !m.buzzFrom.IsZero() {
		if end := m.buzzFrom.Add(m.buzzMax); !now.Before(end) {
			m.stopBuzzer(end)
		} else {
			soon(end)
		}
	}
	if !m.latchUntil.IsZero() {
		if !now.Before(m.latchUntil) {
			m.latchUntil = time.Time{}
			m.pendingAck = false
		} else {
			soon(m.latchUntil)
		}
	}

	m.mode, m.reason = m.health(now, up, soon)
	switch m.mode {
	case modeWatching:
		o.status = true
	case modeLearning:
		var t time.Time
		o.status, t = heartbeat.at(m.epoch, now)
		soon(t)
	case modeFailing:
		var t time.Time
		o.status, t = fastBlink.at(m.epoch, now)
		soon(t)
	}

	switch {
	case m.active:
		o.alarm = true
	case !m.latchUntil.IsZero():
		var t time.Time
		o.alarm, t = slowBlink.at(m.latchFrom, now)
		soon(t)
	}

	if !m.buzzFrom.IsZero() {
		var t time.Time
		o.buzzer, t = m.buzz.at(m.buzzFrom, now)
		soon(t)
	}

	if !m.testFrom.IsZero() {
		if to, t, running := m.testAt(now); running {
			o = to
			soon(t)
		} else {
			m.testFrom = time.Time{}
		}
	}
	return o, next
}

// health decides the status LED's mode: failing before learning before
// watching.
func (m *machine) health(now time.Time, up uplinkState, soon func(time.Time)) (statusMode, string) {
	if m.captureErr != "" {
		return modeFailing, m.captureWhy
	}
	if m.noPackets > 0 {
		deadline := m.lastPacket.Add(m.noPackets)
		if !now.Before(deadline) {
			return modeFailing, m.noPacketsReason
		}
		soon(deadline)
	}
	if up.watched && !up.connected && m.brokerDown > 0 {
		since := up.since
		if since.IsZero() {
			since = m.epoch // never connected: count from our start
		}
		deadline := since.Add(m.brokerDown)
		if !now.Before(deadline) {
			return modeFailing, m.brokerDownReason
		}
		soon(deadline)
	}
	if m.learning {
		return modeLearning, "detectors learning"
	}
	return modeWatching, "watching"
}

// testAt returns the self-test's outputs at now, when they change next,
// and whether the test is still running.
func (m *machine) testAt(now time.Time) (o outputs, next time.Time, running bool) {
	t := m.testFrom
	for _, s := range m.test {
		if now.Before(t.Add(s.on)) {
			switch s.out {
			case statusLED:
				o.status = true
			case alarmLED:
				o.alarm = true
			case buzzer:
				o.buzzer = true
			}
			return o, t.Add(s.on), true
		}
		t = t.Add(s.on + s.off)
		if now.Before(t) {
			return o, t, true
		}
	}
	return o, time.Time{}, false
}

// buttonEvent is what a button sample means once debounced.
type buttonEvent uint8

const (
	noPress    buttonEvent = iota
	shortPress             // released before LongPress
	longPress              // held for LongPress (reported once, while held)
)

// debouncer filters contact bounce: a level counts once it has been read
// unchanged for delay. A button found pressed at start (stuck, or wired
// for the other polarity) is ignored until it is released.
type debouncer struct {
	delay     time.Duration
	started   bool
	raw       bool // last sample
	rawSince  time.Time
	stable    bool // debounced level
	pressFrom time.Time
	ignore    bool // pressed at start: wait for a release
	long      bool // this press already reported as long
}

// resting reports whether the button is released and has been read so
// since the last debounce: it can be sampled slowly.
func (d *debouncer) resting() bool {
	return d.started && !d.stable && !d.raw
}

func (d *debouncer) sample(now time.Time, pressed bool) buttonEvent {
	if !d.started {
		d.started = true
		d.raw, d.stable, d.rawSince = pressed, pressed, now
		d.ignore = pressed
		return noPress
	}
	if pressed != d.raw {
		d.raw, d.rawSince = pressed, now
	}
	if d.raw != d.stable && now.Sub(d.rawSince) >= d.delay {
		d.stable = d.raw
		if d.stable {
			d.pressFrom, d.long = d.rawSince, false
		} else {
			wasIgnored := d.ignore
			d.ignore = false
			if !wasIgnored && !d.long {
				return shortPress
			}
			return noPress
		}
	}
	if d.stable && !d.ignore && !d.long && now.Sub(d.pressFrom) >= LongPress {
		d.long = true
		return longPress
	}
	return noPress
}
