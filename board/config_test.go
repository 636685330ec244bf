package board

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"netspot/core/config"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Enable {
		t.Error("the board is enabled by default")
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	c.Enable = true
	if err := c.Validate(); err != nil {
		t.Fatalf("default config, enabled, invalid: %v", err)
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		key  string
		msg  string
	}{
		{"bad pin name", func(c *Config) { c.StatusLED = "GPIO 17" }, "status_led", `invalid pin name "GPIO 17"`},
		{"pin name starting with a dash", func(c *Config) { c.Button = "-" }, "button", "must start with a letter or a digit"},
		{"long pin name", func(c *Config) { c.AlarmLED = strings.Repeat("A", 65) }, "alarm_led", "at most 64"},
		{"same pin twice", func(c *Config) { c.AlarmLED = "GPIO17" }, "alarm_led", "already used by status_led"},
		{"same pin spelt otherwise", func(c *Config) { c.Button = "gpio017" }, "button", "already used by status_led"},
		{"same pin by number", func(c *Config) { c.Buzzer = "27" }, "buzzer", "already used by alarm_led"},
		{"GPIO number above the header's", func(c *Config) { c.StatusLED = "GPIO99" }, "status_led", "GPIO99 is not on the Raspberry Pi header, which has GPIO0 to GPIO27"},
		{"bare number above the header's", func(c *Config) { c.Buzzer = "28" }, "buzzer", "GPIO28 is not on the Raspberry Pi header"},
		{"header pin number for a GPIO", func(c *Config) { c.AlarmLED = "40" }, "alarm_led", "(header pin 40 is GPIO21: give the GPIO number, not the pin number)"},
		{"header power pin", func(c *Config) { c.Button = "gpio39" }, "button", "(header pin 39 is a power or ground pin)"},
		{"GPIO number of many digits", func(c *Config) { c.Button = "GPIO12345" }, "button", "GPIO12345 is not on the Raspberry Pi header"},
		{"GPIO number beyond 64 bits", func(c *Config) { c.Button = "GPIO" + strings.Repeat("9", 30) }, "button", "is not on the Raspberry Pi header"},
		{"negative GPIO number", func(c *Config) { c.StatusLED = "GPIO-1" }, "status_led", "GPIO-1 is not a GPIO number"},
		{"signed GPIO number", func(c *Config) { c.StatusLED = "gpio+3" }, "status_led", `invalid pin name "gpio+3"`},
		{"enabled without outputs", func(c *Config) { c.Enable, c.StatusLED, c.AlarmLED, c.Buzzer = true, "", "", "" }, "enabled", "no output is set"},
		{"debounce zero", func(c *Config) { c.Debounce = 0 }, "debounce", "between 5ms and 1s"},
		{"debounce too long", func(c *Config) { c.Debounce = configDuration(2 * time.Second) }, "debounce", "out of range"},
		{"empty pattern", func(c *Config) { c.BuzzerPattern = nil }, "buzzer_pattern", "is empty"},
		{"odd pattern", func(c *Config) { c.BuzzerPattern = c.BuzzerPattern[:3] }, "buzzer_pattern", "has 3 durations"},
		{"long pattern", func(c *Config) { c.BuzzerPattern = make([]config.Duration, 34) }, "buzzer_pattern", "at most 32"},
		{"short pattern step", func(c *Config) { c.BuzzerPattern[1] = configDuration(time.Millisecond) }, "buzzer_pattern", "duration 2 (off 1ms)"},
		{"negative pattern step", func(c *Config) { c.BuzzerPattern[0] = configDuration(-time.Second) }, "buzzer_pattern", "duration 1 (on -1s)"},
		{"buzzer_max zero", func(c *Config) { c.BuzzerMax = 0 }, "buzzer_max", "must be positive"},
		{"buzzer_max huge", func(c *Config) { c.BuzzerMax = configDuration(2 * time.Hour) }, "buzzer_max", "out of range"},
		{"buzzer_rest negative", func(c *Config) { c.BuzzerRest = configDuration(-time.Second) }, "buzzer_rest", "out of range"},
		{"alarm_hold negative", func(c *Config) { c.AlarmHold = configDuration(-time.Second) }, "alarm_hold", "out of range"},
		{"alarm_hold huge", func(c *Config) { c.AlarmHold = configDuration(8 * 24 * time.Hour) }, "alarm_hold", "out of range"},
		{"no_packets_for tiny", func(c *Config) { c.NoPacketsFor = configDuration(time.Millisecond) }, "no_packets_for", "0s (never) or between 1s"},
		{"no_packets_for negative", func(c *Config) { c.NoPacketsFor = configDuration(-time.Minute) }, "no_packets_for", "out of range"},
		{"broker_down_for tiny", func(c *Config) { c.BrokerDownFor = configDuration(time.Millisecond) }, "broker_down_for", "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.BuzzerPattern = append([]config.Duration(nil), c.BuzzerPattern...)
			tt.edit(&c)
			err := c.Validate()
			var fe *config.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a FieldError", err)
			}
			if fe.Key != tt.key || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Validate() = %q (key %q), want key %q and %q", err, fe.Key, tt.key, tt.msg)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	c := DefaultConfig()
	c.Enable = true
	c.StatusLED, c.AlarmLED, c.Buzzer, c.Button = "", "GPIO_GCLK", "", "" // one output is enough
	c.AlarmHold, c.BuzzerRest, c.NoPacketsFor, c.BrokerDownFor = 0, 0, 0, 0
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// Every GPIO of the header, in each spelling.
	for n := 0; n <= MaxHeaderGPIO; n++ {
		for _, name := range []string{fmt.Sprintf("GPIO%d", n), fmt.Sprintf("gpio%02d", n), fmt.Sprint(n)} {
			c := DefaultConfig()
			c.StatusLED, c.AlarmLED, c.Buzzer, c.Button = name, "", "", ""
			if err := c.Validate(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

func TestPinID(t *testing.T) {
	for in, want := range map[string]string{
		"GPIO17": "GPIO17", "gpio17": "GPIO17", "Gpio017": "GPIO17", "17": "GPIO17", "0": "GPIO0",
		"GPIO": "GPIO", "GPIO_GCLK": "GPIO_GCLK", "GPIO-1": "GPIO-1", "GPIO+1": "GPIO+1", "GPIO12345": "GPIO12345",
		"SDA1": "SDA1",
	} {
		if got := pinID(in); got != want {
			t.Errorf("pinID(%q) = %q, want %q", in, got, want)
		}
	}
}

// section is how the config file holds the board's Config.
func section(c *Config) config.Section { return config.Section{Key: "board", Value: c} }

func render(t testing.TB, c Config) string {
	t.Helper()
	var b bytes.Buffer
	if err := config.Render(&b, section(&c)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func decodeBoard(text string) (Config, error) {
	c := DefaultConfig()
	doc, err := config.Parse("t.toml", []byte(text))
	if err != nil {
		return c, err
	}
	return c, doc.Decode(section(&c))
}

func TestTOMLRoundTrip(t *testing.T) {
	text := render(t, DefaultConfig())
	for _, want := range []string{
		"[board]", "enabled = false", `status_led = "GPIO17"`, `buzzer_pattern = ["200ms", "200ms", "200ms", "1.4s"]`,
		"# the status LED blinks fast when no packet was captured", `alarm_hold = "1h0m0s"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered defaults lack %q:\n%s", want, text)
		}
	}
	back, err := decodeBoard(text)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, DefaultConfig()) {
		t.Errorf("round trip changed the config:\n got %+v\nwant %+v", back, DefaultConfig())
	}
}

func TestTOMLUserFile(t *testing.T) {
	const file = `
[board]
enabled = true
status_led = "GPIO5"
alarm_led = "GPIO6"
buzzer = ""
button = "GPIO26"
buzzer_pattern = ["100ms", "900ms"]
alarm_hold = "0s"
`
	c, err := decodeBoard(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.StatusLED != "GPIO5" || c.Buzzer != "" || c.AlarmHold != 0 ||
		len(c.BuzzerPattern) != 2 || c.BuzzerMax != DefaultConfig().BuzzerMax {
		t.Errorf("decoded %+v", c)
	}
	for bad, want := range map[string]string{
		"[board]\nstatus_lde = \"GPIO5\"\n":     "t.toml:2: board.status_lde: unknown key (did you mean status_led?)",
		"[board]\ndebounce = \"5 seconds\"\n":   "t.toml:2: board.debounce: invalid duration",
		"[board]\nbuzzer_pattern = \"200ms\"\n": "t.toml:2: board.buzzer_pattern: expected an array",
	} {
		if _, err := decodeBoard(bad); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %s…", bad, err, want)
		}
	}
}

// FuzzConfig decodes arbitrary [board] sections. Whatever the input, it
// must not panic; a config that validates must run a Board on fake pins
// and leave every output off when closed.
func FuzzConfig(f *testing.F) {
	f.Add(render(f, DefaultConfig()))
	f.Add("[board]\nenabled = true\nstatus_led = \"17\"\nalarm_led = \"gpio17\"\n")
	f.Add("[board]\nenabled = true\nbuzzer_pattern = [\"10ms\", \"10ms\"]\nbuzzer_max = \"10ms\"\nbuzzer_rest = \"0s\"\n")
	f.Add("[board]\nenabled = true\nstatus_led = \"\"\nalarm_led = \"\"\nbuzzer = \"X\"\nstatus_led_active_low = true\nbutton_active_low = false\n")
	f.Add("[board]\nalarm_hold = \"-1s\"\nno_packets_for = \"1ns\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg := DefaultConfig()
		doc, err := config.Parse("f.toml", []byte(text))
		if err != nil {
			return
		}
		// Decode validates; the values are set whatever it says, and
		// Validate is checked on them below.
		if err := doc.Decode(config.Section{Key: "board", Value: &cfg}); config.AsProblems(err) == nil && err != nil {
			t.Fatalf("decode error %v is not a configuration problem", err)
		}
		if err := cfg.Validate(); err != nil {
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Key == "" {
				t.Fatalf("Validate error %v names no key", err)
			}
			return
		}
		clk := newFakeClock()
		var pins Pins
		var outs []*tracePin
		if cfg.StatusLED != "" {
			p := newTracePin(clk, cfg.StatusLED, 1)
			pins.StatusLED, outs = p, append(outs, p)
		}
		if cfg.AlarmLED != "" {
			p := newTracePin(clk, cfg.AlarmLED, 2)
			pins.AlarmLED, outs = p, append(outs, p)
		}
		if cfg.Buzzer != "" {
			p := newTracePin(clk, cfg.Buzzer, 3)
			pins.Buzzer, outs = p, append(outs, p)
		}
		if cfg.Button != "" {
			pins.Button = newTracePin(clk, cfg.Button, 4)
		}
		b, err := New(cfg, pins, clk, nil)
		if len(outs) == 0 {
			if err == nil {
				t.Fatal("New accepted a board without outputs")
			}
			return
		}
		if err != nil {
			t.Fatalf("New with a valid config: %v", err)
		}
		clk.waitArmed(t)
		for i := range 3 {
			r := rec(1-i%2, uint64(i), []string{"R_SYN"}, "R_SYN")
			if i == 2 {
				r = rec(0, 0, nil)
			}
			if err := b.Write(r); err != nil {
				t.Fatal(err)
			}
			clk.waitArmed(t)
			clk.advance(t, 700*time.Millisecond)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		lv := levelsOf(&cfg)
		for _, p := range outs {
			var off gpio.Level
			switch p.Num {
			case 1:
				off = !lv.on[statusLED]
			case 2:
				off = !lv.on[alarmLED]
			case 3:
				off = !lv.on[buzzer]
			}
			if p.Read() != off {
				t.Errorf("%s not off after Close", p.N)
			}
		}
	})
}
