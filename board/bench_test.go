package board

import (
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio/gpiotest"
)

// BenchmarkWrite is the cost the fan-out pays per Record, with the board's
// goroutine reacting on the system clock.
func BenchmarkWrite(b *testing.B) {
	cfg := testConfig()
	pins := Pins{
		StatusLED: &gpiotest.Pin{N: "GPIO17"}, AlarmLED: &gpiotest.Pin{N: "GPIO27"},
		Buzzer: &gpiotest.Pin{N: "GPIO22"}, Button: &gpiotest.Pin{N: "GPIO23"},
	}
	brd, err := New(cfg, pins, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer brd.Close()
	quiet := rec(0, 1000, nil)
	alarm := rec(0, 1000, []string{"R_SYN"}, "R_SYN")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := quiet
		if i%16 == 0 {
			r = alarm
		}
		if err := brd.Write(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEval is one step of the board's goroutine without the pins:
// what it costs to decide the outputs, here with every rhythm running
// (buzzer, latched alarm LED, failing status LED, broker watched).
func BenchmarkEval(b *testing.B) {
	cfg := testConfig()
	cfg.BuzzerRest = 0
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	m := newMachine(&cfg, [numOutputs]bool{true, true, true}, now)
	r := rec(0, 0, []string{"R_SYN"})
	r.CaptureErr = "eth0: interface is down"
	m.record(now, r)
	up := uplinkState{watched: true, connected: false, since: now}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(7 * time.Millisecond)
		if i%1000 == 0 {
			m.record(now, r) // a new alarm every 7 s keeps the buzzer going
		}
		m.btn.sample(now, false)
		m.eval(now, up)
	}
}
