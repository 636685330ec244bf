package board

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// selfTestRun runs SelfTest on fake pins, firing each of its timers as
// soon as it is armed; at is called with the fake time before each timer
// fires, so that the test can press the button or cancel.
type selfTestRun struct {
	clk                         *fakeClock
	t0                          time.Time
	status, alarm, buzz, button *tracePin
	progress                    bytes.Buffer
	cancel                      context.CancelFunc
}

func newSelfTestRun() *selfTestRun {
	clk := newFakeClock()
	return &selfTestRun{
		clk:    clk,
		t0:     clk.Now(),
		status: newTracePin(clk, "GPIO17", 17),
		alarm:  newTracePin(clk, "GPIO27", 27),
		buzz:   newTracePin(clk, "GPIO22", 22),
		button: newTracePin(clk, "GPIO23", 23),
	}
}

func (r *selfTestRun) pins() Pins {
	return Pins{StatusLED: r.status, AlarmLED: r.alarm, Buzzer: r.buzz, Button: r.button}
}

func (r *selfTestRun) run(t *testing.T, cfg Config, pins Pins, wait time.Duration, at func(elapsed time.Duration)) error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r.cancel = cancel
	done := make(chan error, 1)
	go func() {
		done <- SelfTest(ctx, cfg, pins, r.clk, TestOptions{Progress: &r.progress, ButtonWait: wait})
	}()
	for {
		select {
		case err := <-done:
			return err
		case <-r.clk.armed:
			if at != nil {
				at(r.clk.Now().Sub(r.t0))
			}
			r.clk.fireNext(r.clk.Now().Add(time.Hour))
		case <-time.After(10 * time.Second):
			t.Fatal("SelfTest is stuck")
		}
	}
}

func TestSelfTestSequence(t *testing.T) {
	for _, activeLow := range []bool{false, true} {
		r := newSelfTestRun()
		cfg := testConfig()
		cfg.StatusLEDActiveLow, cfg.AlarmLEDActiveLow, cfg.BuzzerActiveLow = activeLow, activeLow, activeLow
		if err := r.run(t, cfg, r.pins(), 0, nil); err != nil {
			t.Fatal(err)
		}
		on := gpio.Level(!activeLow)
		at := func(d time.Duration) time.Time { return r.t0.Add(d) }
		end := at(time.Hour)
		for _, c := range []struct {
			p    *tracePin
			want [][2]time.Duration
		}{
			{r.status, [][2]time.Duration{{0, time.Second}}},
			{r.alarm, [][2]time.Duration{{1250 * ms, 2250 * ms}}},
			{r.buzz, [][2]time.Duration{{2500 * ms, 2800 * ms}}},
		} {
			got := c.p.onPeriods(on, r.t0, end)
			if len(got) != 1 || !got[0][0].Equal(at(c.want[0][0])) || !got[0][1].Equal(at(c.want[0][1])) {
				t.Errorf("active_low=%v %s: on %v, want from +%s to +%s", activeLow, c.p.N, got, c.want[0][0], c.want[0][1])
			}
			if c.p.Read() == on || c.p.halts != 1 {
				t.Errorf("%s not left off and halted", c.p.N)
			}
		}
		want := "status LED (GPIO17): on for 1s\nalarm LED (GPIO27): on for 1s\nbuzzer (GPIO22): on for 300ms\n"
		if got := r.progress.String(); got != want {
			t.Errorf("progress:\n%s\nwant:\n%s", got, want)
		}
	}
}

func TestSelfTestOnlyFittedParts(t *testing.T) {
	r := newSelfTestRun()
	if err := r.run(t, testConfig(), Pins{AlarmLED: r.alarm}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if got := r.progress.String(); got != "alarm LED (GPIO27): on for 1s\n" {
		t.Errorf("progress %q", got)
	}
	if err := SelfTest(t.Context(), testConfig(), Pins{}, r.clk, TestOptions{}); err == nil {
		t.Error("SelfTest without any pin succeeded")
	}
}

func TestSelfTestButton(t *testing.T) {
	r := newSelfTestRun()
	// Pressed 1 s into the wait, which starts after the outputs (3.05 s).
	err := r.run(t, testConfig(), r.pins(), 10*time.Second, func(e time.Duration) {
		if e >= 4050*ms {
			r.button.setLevel(gpio.Low)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.progress.String(), "button (GPIO23): press it now (waiting 10s)\nbutton (GPIO23): pressed\n") {
		t.Errorf("progress:\n%s", r.progress.String())
	}
	if took := r.clk.Now().Sub(r.t0); took < 4100*ms || took > 4200*ms {
		t.Errorf("press seen at +%s, want one debounce delay after +4.05s", took)
	}
}

func TestSelfTestButtonActiveHigh(t *testing.T) {
	r := newSelfTestRun()
	cfg := testConfig()
	cfg.ButtonActiveLow = false
	err := r.run(t, cfg, r.pins(), 10*time.Second, func(e time.Duration) {
		if e >= 3500*ms {
			r.button.setLevel(gpio.High)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.button.P != gpio.PullDown {
		t.Errorf("active-high button pulled %s, want down", r.button.P)
	}
}

func TestSelfTestButtonNeverPressed(t *testing.T) {
	r := newSelfTestRun()
	err := r.run(t, testConfig(), r.pins(), 5*time.Second, func(e time.Duration) {
		if e > 3300*ms && e < 3300*ms+20*ms {
			r.button.setLevel(gpio.Low) // a 20 ms touch: bounce, not a press
		} else {
			r.button.setLevel(gpio.High)
		}
	})
	if err == nil || !strings.Contains(err.Error(), "button GPIO23: no press seen within 5s") {
		t.Fatalf("SelfTest = %v", err)
	}
}

func TestSelfTestButtonStuck(t *testing.T) {
	r := newSelfTestRun()
	stuck := &stuckPin{tracePin: r.button, level: gpio.Low}
	pins := r.pins()
	pins.Button = stuck
	err := r.run(t, testConfig(), pins, 5*time.Second, nil)
	if err == nil || !strings.Contains(err.Error(), "reads pressed before anyone pressed it") {
		t.Fatalf("SelfTest = %v", err)
	}
}

func TestSelfTestInterrupted(t *testing.T) {
	r := newSelfTestRun()
	err := r.run(t, testConfig(), r.pins(), 0, func(e time.Duration) {
		if e >= 1250*ms {
			r.cancel() // while the alarm LED is on
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("SelfTest = %v, want context.Canceled", err)
	}
	for _, p := range []*tracePin{r.status, r.alarm, r.buzz} {
		if p.Read() != gpio.Low {
			t.Errorf("%s left on after an interrupted self-test", p.N)
		}
	}
}

func TestSelfTestPinFailure(t *testing.T) {
	r := newSelfTestRun()
	r.buzz.setFail(errors.New("no such device"))
	err := r.run(t, testConfig(), r.pins(), 0, nil)
	if err == nil || !strings.Contains(err.Error(), "buzzer GPIO22") || !strings.Contains(err.Error(), "no such device") {
		t.Fatalf("SelfTest = %v", err)
	}
	if r.status.Read() != gpio.Low || r.alarm.Read() != gpio.Low {
		t.Error("outputs left on after a failure")
	}
}
