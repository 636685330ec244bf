package board

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// TestOptions tune SelfTest.
type TestOptions struct {
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
	// ButtonWait is how long SelfTest waits for a press of the fitted
	// button once the outputs are done; 0 skips the button.
	ButtonWait time.Duration
}

// SelfTest checks the wiring: it lights each fitted output in turn (the
// status LED, the alarm LED, then a short beep of the buzzer) and, with
// opt.ButtonWait, waits for a press of the button. It is what
// `netspot board test` runs; a long press of the button runs the same
// sequence inside a running Board. Whatever happens, it leaves every output
// in its safe state. A nil clk is the system clock.
func SelfTest(ctx context.Context, cfg Config, pins Pins, clk Clock, opt TestOptions) (err error) {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("board: %w", err)
	}
	if clk == nil {
		clk = SystemClock{}
	}
	w := opt.Progress
	if w == nil {
		w = io.Discard
	}
	lv := levelsOf(&cfg)
	out := pins.outputs()
	fitted := fittedOf(out)
	if fitted == ([numOutputs]bool{}) && (pins.Button == nil || opt.ButtonWait <= 0) {
		return errors.New("board: nothing to test: no output pin is set")
	}
	defer func() {
		err = errors.Join(err, safeState(out, lv, pins.Button))
	}()
	if err := outputsOff(out, lv); err != nil {
		return err
	}

	for _, s := range selfTestSteps(fitted) {
		p := out[s.out]
		fmt.Fprintf(w, "%s (%s): on for %s\n", s.out, p.Name(), s.on)
		if err := p.Out(lv.on[s.out]); err != nil {
			return fmt.Errorf("board: %s %s: %w", s.out, p.Name(), err)
		}
		if err := sleep(ctx, clk, s.on); err != nil {
			return err
		}
		if err := p.Out(!lv.on[s.out]); err != nil {
			return fmt.Errorf("board: %s %s: %w", s.out, p.Name(), err)
		}
		if err := sleep(ctx, clk, s.off); err != nil {
			return err
		}
	}

	if pins.Button == nil || opt.ButtonWait <= 0 {
		return nil
	}
	return waitButton(ctx, cfg, pins.Button, lv.pressed, clk, opt.ButtonWait, w)
}

// waitButton waits for a debounced press of the button.
func waitButton(ctx context.Context, cfg Config, p gpio.PinIn, pressed gpio.Level, clk Clock, wait time.Duration, w io.Writer) error {
	if err := buttonInput(p, pressed); err != nil {
		return err
	}
	d := debouncer{delay: cfg.Debounce.D()}
	start := clk.Now()
	d.sample(start, p.Read() == pressed)
	if d.ignore {
		return fmt.Errorf("board: button %s reads pressed before anyone pressed it: check its wiring and button_active_low", p.Name())
	}
	fmt.Fprintf(w, "button (%s): press it now (waiting %s)\n", p.Name(), wait)
	for {
		if err := sleep(ctx, clk, pollInterval); err != nil {
			return err
		}
		now := clk.Now()
		d.sample(now, p.Read() == pressed)
		if d.stable {
			fmt.Fprintf(w, "button (%s): pressed\n", p.Name())
			return nil
		}
		if now.Sub(start) >= wait {
			return fmt.Errorf("board: button %s: no press seen within %s: check its wiring and button_active_low", p.Name(), wait)
		}
	}
}

// sleep waits for d on clk, or until ctx ends.
func sleep(ctx context.Context, clk Clock, d time.Duration) error {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("board: self-test interrupted: %w", context.Cause(ctx))
	case <-t.C():
		return nil
	}
}
