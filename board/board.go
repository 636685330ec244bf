// Package board shows netspot's state on the GPIO header of a small board:
// a status LED (learning, watching, failing), an alarm LED, a buzzer and an
// acknowledge button, through periph.io's gpio interfaces.
//
// A Board is a sink of the fan-out: each Record tells it the alarms and the
// health of capture; SetUplink lets it watch the MQTT link too. One
// goroutine, driven by a Clock, blinks the LEDs, plays the buzzer rhythm and
// samples the button, so that tests step a fake clock instead of sleeping.
// Close puts every output in its safe (off) state.
package board

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"periph.io/x/conn/v3/gpio"

	"netspot/core/event"
)

// Pins are the GPIO lines of the fitted parts; nil means not fitted.
type Pins struct {
	StatusLED gpio.PinOut
	AlarmLED  gpio.PinOut
	Buzzer    gpio.PinOut
	Button    gpio.PinIn
}

func (p *Pins) outputs() [numOutputs]gpio.PinOut {
	return [numOutputs]gpio.PinOut{statusLED: p.StatusLED, alarmLED: p.AlarmLED, buzzer: p.Buzzer}
}

// levels says which pin level means "on" for each output, and which means
// "pressed" for the button.
type levels struct {
	on      [numOutputs]gpio.Level
	pressed gpio.Level
}

func levelsOf(cfg *Config) levels {
	return levels{
		on: [numOutputs]gpio.Level{
			statusLED: gpio.Level(!cfg.StatusLEDActiveLow),
			alarmLED:  gpio.Level(!cfg.AlarmLEDActiveLow),
			buzzer:    gpio.Level(!cfg.BuzzerActiveLow),
		},
		pressed: gpio.Level(!cfg.ButtonActiveLow),
	}
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("board: closed")

// Board drives the outputs from the Records it is given. It implements the
// sink.Sink interface.
type Board struct {
	pins Pins
	out  [numOutputs]gpio.PinOut
	lv   levels
	clk  Clock
	log  *slog.Logger

	mu        sync.Mutex
	m         *machine
	uplink    func() (bool, time.Time)
	uplinkSet bool  // SetUplink was called since the last step
	pinErr    error // last failure to drive a pin; nil once they work again
	closed    bool
	mode      statusMode // last logged
	reason    string
	warned    bool // the button was found pressed at start

	// Owned by the goroutine (and by New and Close outside its life).
	written   [numOutputs]bool
	last      [numOutputs]gpio.Level
	up        uplinkState // what the uplink said at upChecked
	upChecked time.Time

	kick chan struct{} // capacity 1: state changed, re-evaluate now
	stop chan struct{}
	done chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// New configures the pins (outputs off, button as an input with its pull
// resistor) and starts the goroutine that drives them. cfg must be valid
// and pins must hold at least one output. A nil clk is the system clock; a
// nil log discards messages.
func New(cfg Config, pins Pins, clk Clock, log *slog.Logger) (*Board, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("board: %w", err)
	}
	if clk == nil {
		clk = SystemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Board{
		pins: pins,
		out:  pins.outputs(),
		lv:   levelsOf(&cfg),
		clk:  clk,
		log:  log,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	fitted := fittedOf(b.out)
	if fitted == ([numOutputs]bool{}) {
		return nil, errors.New("board: no output pin: give at least a status LED, an alarm LED or a buzzer")
	}
	if err := b.setup(); err != nil {
		_ = b.halt()
		return nil, err
	}
	b.m = newMachine(&cfg, fitted, clk.Now())
	b.mode, b.reason = b.m.mode, b.m.reason
	go b.run()
	return b, nil
}

// setup drives every output off and makes the button an input.
func (b *Board) setup() error {
	if err := outputsOff(b.out, b.lv); err != nil {
		return err
	}
	for o, p := range b.out {
		if p != nil {
			b.written[o], b.last[o] = true, !b.lv.on[o]
		}
	}
	if b.pins.Button != nil {
		return buttonInput(b.pins.Button, b.lv.pressed)
	}
	return nil
}

// fittedOf reports which outputs have a pin.
func fittedOf(out [numOutputs]gpio.PinOut) (fitted [numOutputs]bool) {
	for o, p := range out {
		fitted[o] = p != nil
	}
	return fitted
}

// outputsOff makes every fitted output an output, driven off.
func outputsOff(out [numOutputs]gpio.PinOut, lv levels) error {
	for o, p := range out {
		if p == nil {
			continue
		}
		if err := p.Out(!lv.on[o]); err != nil {
			return fmt.Errorf("board: %s %s: set as output: %w%s", output(o), p.Name(), err, hint(err))
		}
	}
	return nil
}

// buttonInput makes the button an input, with the pull resistor that holds
// it at its released level.
func buttonInput(p gpio.PinIn, pressed gpio.Level) error {
	pull := gpio.PullUp
	if pressed == gpio.High {
		pull = gpio.PullDown
	}
	if err := p.In(pull, gpio.NoEdge); err != nil {
		return fmt.Errorf("board: button %s: set as input: %w%s", p.Name(), err, hint(err))
	}
	return nil
}

// hint says what to do about the usual reasons a GPIO line cannot be had.
func hint(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return " (run netspot as root, or give its user access to /dev/gpiochip*)"
	case errors.Is(err, syscall.EBUSY):
		return " (another program holds this line: is netspot already running?)"
	}
	return ""
}

// Write takes in one Record: whether detectors are still learning, the
// health of capture, and the alarms raised and still active.
func (b *Board) Write(r *event.Record) error {
	if r == nil {
		return errors.New("board: nil record")
	}
	now := b.clk.Now()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	if b.m.record(now, r) {
		b.log.Debug("buzzer sounding for a new alarm", "alarms", len(r.Alarms))
	}
	err := b.pinErr
	b.mu.Unlock()
	b.wake()
	return err
}

// SetUplink gives the board a function reporting whether the MQTT broker is
// reachable and since when (the time of its last change, zero if it never
// connected); nil when MQTT is off. The status LED blinks fast once the
// broker has been unreachable for broker_down_for. The function is called
// from the board's goroutine about once a second, so it must not block.
func (b *Board) SetUplink(f func() (connected bool, since time.Time)) {
	b.mu.Lock()
	b.uplink, b.uplinkSet = f, true
	b.mu.Unlock()
	b.wake()
}

func (b *Board) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Close stops the goroutine and puts every output in its safe state (off,
// honouring active_low), then halts the pins. It may be called more than
// once.
func (b *Board) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		close(b.stop)
		<-b.done
		b.closeErr = b.halt()
	})
	return b.closeErr
}

// halt drives each output off, then halts every pin.
func (b *Board) halt() error {
	return safeState(b.out, b.lv, b.pins.Button)
}

func safeState(out [numOutputs]gpio.PinOut, lv levels, button gpio.PinIn) error {
	var errs []error
	for o, p := range out {
		if p == nil {
			continue
		}
		if err := p.Out(!lv.on[o]); err != nil {
			errs = append(errs, fmt.Errorf("board: %s %s: turn off: %w", output(o), p.Name(), err))
		}
		if err := p.Halt(); err != nil {
			errs = append(errs, fmt.Errorf("board: %s %s: halt: %w", output(o), p.Name(), err))
		}
	}
	if button != nil {
		if err := button.Halt(); err != nil {
			errs = append(errs, fmt.Errorf("board: button %s: halt: %w", button.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// run is the board's goroutine: it re-evaluates the outputs when its timer
// fires or when Write or SetUplink changed something, and re-arms the timer
// for the next change.
func (b *Board) run() {
	defer close(b.done)
	t := b.clk.NewTimer(b.step())
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-b.kick:
		case <-t.C():
		}
		t.Reset(b.step())
	}
}

// step samples the button, evaluates the outputs, drives the pins that
// change, and returns how long to sleep.
func (b *Board) step() time.Duration {
	now := b.clk.Now()
	b.mu.Lock()
	uplink, fresh := b.uplink, b.uplinkSet
	b.uplinkSet = false
	b.mu.Unlock()
	if fresh || now.Sub(b.upChecked) >= maxSleep || now.Before(b.upChecked) {
		// Called without the lock: it belongs to another sink.
		b.up = uplinkState{}
		if uplink != nil {
			b.up.watched = true
			b.up.connected, b.up.since = uplink()
		}
		b.upChecked = now
	}
	up := b.up
	var pressed bool
	if b.pins.Button != nil {
		pressed = b.pins.Button.Read() == b.lv.pressed
	}

	b.mu.Lock()
	if b.pins.Button != nil {
		b.button(now, pressed)
	}
	resting := b.m.btn.resting()
	o, next := b.m.eval(now, up)
	if b.m.mode != b.mode || b.m.reason != b.reason {
		b.logMode()
	}
	b.mu.Unlock()

	err := b.drive(o)

	b.mu.Lock()
	switch {
	case err != nil && b.pinErr == nil:
		b.log.Error("board: cannot drive an output", "err", err)
	case err == nil && b.pinErr != nil:
		b.log.Info("board: outputs work again")
	}
	b.pinErr = err
	b.mu.Unlock()

	if b.pins.Button != nil {
		poll := pollInterval
		if resting {
			poll = idlePoll
		}
		if next.After(now.Add(poll)) {
			next = now.Add(poll)
		}
	}
	if d := next.Sub(now); d > time.Millisecond {
		return d
	}
	return time.Millisecond
}

// button handles one sample of the button; b.mu is held.
func (b *Board) button(now time.Time, pressed bool) {
	switch b.m.btn.sample(now, pressed) {
	case shortPress:
		if b.m.acknowledge(now) {
			b.log.Info("board: alarms acknowledged by the button")
		} else {
			b.log.Info("board: button pressed, nothing to acknowledge")
		}
	case longPress:
		if b.m.startSelfTest(now) {
			b.log.Info("board: self-test started by a long press")
		}
	}
	if b.m.btn.ignore && !b.warned {
		b.warned = true
		b.log.Warn("board: the button reads pressed at start; it is ignored until released (check its wiring and button_active_low)", "pin", b.pins.Button.Name())
	}
}

func (b *Board) logMode() {
	b.mode, b.reason = b.m.mode, b.m.reason
	level := slog.LevelInfo
	if b.mode == modeFailing {
		level = slog.LevelWarn
	}
	b.log.Log(context.Background(), level, "board: status "+b.mode.String(), "reason", b.reason)
}

// drive writes the outputs that changed. Only the goroutine calls it. A
// failed write is retried at the next step. Levels are remembered, never
// read back from an output: in periph host v3.8.5, Read on a
// character-device line that is an output turns it into a pulled-up input.
func (b *Board) drive(o outputs) error {
	want := [numOutputs]bool{statusLED: o.status, alarmLED: o.alarm, buzzer: o.buzzer}
	var errs []error
	for i, p := range b.out {
		if p == nil {
			continue
		}
		l := b.lv.on[i]
		if !want[i] {
			l = !l
		}
		if b.written[i] && b.last[i] == l {
			continue
		}
		if err := p.Out(l); err != nil {
			b.written[i] = false
			errs = append(errs, fmt.Errorf("board: %s %s: %w", output(i), p.Name(), err))
			continue
		}
		b.written[i], b.last[i] = true, l
	}
	return errors.Join(errs...)
}
