package board

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"netspot/core/config"
)

// Config is the [board] section of the configuration file. Pin fields hold
// GPIO line names ("GPIO17"); an empty name means the part is not fitted.
type Config struct {
	Enable bool `toml:"enabled" api:"hardware" comment:"drive the status LED, alarm LED, buzzer and button wired to the GPIO header (Raspberry Pi 1 to 5); see the README's \"Board wiring\""`

	StatusLED          string          `toml:"status_led" api:"hardware" comment:"GPIO line of the status LED: slow heartbeat while learning, steady while watching, fast blink when capture fails or the MQTT broker is unreachable (\"\" = not fitted)"`
	StatusLEDActiveLow bool            `toml:"status_led_active_low" api:"hardware" comment:"true when the status LED lights with its pin low (LED wired from 3.3 V to the pin)"`
	AlarmLED           string          `toml:"alarm_led" api:"hardware" comment:"GPIO line of the alarm LED: on while an alarm is active, then blinking until acknowledged or until alarm_hold passes (\"\" = not fitted)"`
	AlarmLEDActiveLow  bool            `toml:"alarm_led_active_low" api:"hardware" comment:"true when the alarm LED lights with its pin low"`
	Buzzer             string          `toml:"buzzer" api:"hardware" comment:"GPIO line driving the active buzzer's transistor: sounds buzzer_pattern on a new alarm (\"\" = not fitted)"`
	BuzzerActiveLow    bool            `toml:"buzzer_active_low" api:"hardware" comment:"true when the buzzer sounds with its pin low (PNP transistor or low-side driver module)"`
	Button             string          `toml:"button" api:"hardware" comment:"GPIO line of the push button: a short press acknowledges alarms, a 3 s press runs the self-test (\"\" = not fitted)"`
	ButtonActiveLow    bool            `toml:"button_active_low" api:"hardware" comment:"true when the button connects its pin to ground (the usual wiring; the pin's pull-up is enabled), false when it connects it to 3.3 V (pull-down enabled)"`
	Debounce           config.Duration `toml:"debounce" comment:"how long the button must stay pressed or released before it counts (contact bounce filter)"`

	BuzzerPattern []config.Duration `toml:"buzzer_pattern" comment:"rhythm of the buzzer: on, off, on, off, ... durations, repeated while it sounds"`
	BuzzerMax     config.Duration   `toml:"buzzer_max" comment:"longest the buzzer sounds for a new alarm; a short press of the button stops it sooner"`
	BuzzerRest    config.Duration   `toml:"buzzer_rest" comment:"once the buzzer stopped (acknowledged or buzzer_max reached), new alarms do not sound it again for this long, so that a storm of alarms cannot keep it sounding; the alarm LED still shows them"`
	AlarmHold     config.Duration   `toml:"alarm_hold" comment:"after the alarms clear, the alarm LED blinks for this long unless the button is pressed (0s = it goes off at once)"`

	NoPacketsFor  config.Duration `toml:"no_packets_for" comment:"the status LED blinks fast when no packet was captured for this long (0s = never); keep it several periods long"`
	BrokerDownFor config.Duration `toml:"broker_down_for" comment:"the status LED blinks fast when the MQTT broker was unreachable for this long (0s = never)"`
}

// DefaultConfig returns the [board] defaults: disabled, with the pins of
// the README's wiring, which exist on every Raspberry Pi header.
func DefaultConfig() Config {
	return Config{
		StatusLED:       "GPIO17",
		AlarmLED:        "GPIO27",
		Buzzer:          "GPIO22",
		Button:          "GPIO23",
		ButtonActiveLow: true,
		Debounce:        config.Duration(50 * time.Millisecond),
		BuzzerPattern: []config.Duration{
			config.Duration(200 * time.Millisecond), config.Duration(200 * time.Millisecond),
			config.Duration(200 * time.Millisecond), config.Duration(1400 * time.Millisecond),
		},
		BuzzerMax:     config.Duration(30 * time.Second),
		BuzzerRest:    config.Duration(10 * time.Minute),
		AlarmHold:     config.Duration(time.Hour),
		NoPacketsFor:  config.Duration(2 * time.Minute),
		BrokerDownFor: config.Duration(5 * time.Minute),
	}
}

// Bounds of the values Validate accepts.
const (
	// resolution is the finest step the board's outputs and button
	// sampling follow: buzzer pattern steps shorter than it would be lost.
	resolution = 10 * time.Millisecond

	maxPinName     = 64
	maxPatternLen  = 32
	maxPatternStep = 10 * time.Second
	minDebounce    = 5 * time.Millisecond
	maxDebounce    = time.Second
	maxBuzzer      = time.Hour
	maxRest        = 24 * time.Hour
	maxHold        = 7 * 24 * time.Hour
	minHealthDelay = time.Second
	maxHealthDelay = 7 * 24 * time.Hour
)

// LongPress is how long the button must be held to run the self-test.
const LongPress = 3 * time.Second

// Validate checks every value, whether or not the board is enabled, and
// returns the first problem as a config.FieldError naming its key.
func (c *Config) Validate() error {
	pins := c.pinKeys()
	seen := make(map[string]string, len(pins))
	fitted := 0
	for _, p := range pins {
		if p.name == "" {
			continue
		}
		if err := checkPinName(p.name); err != nil {
			return config.Errorf(p.key, "%v", err)
		}
		if err := checkPinNumber(p.name); err != nil {
			return config.Errorf(p.key, "%v", err)
		}
		id := pinID(p.name)
		if other, dup := seen[id]; dup {
			return config.Errorf(p.key, "pin %s is already used by %s: the LEDs, the buzzer and the button each need their own pin", p.name, other)
		}
		seen[id] = p.key
		if p.key != "button" {
			fitted++
		}
	}
	if c.Enable && fitted == 0 {
		return config.Errorf("enabled", "the board is enabled but no output is set: set status_led, alarm_led or buzzer, or set enabled = false")
	}
	if err := within("debounce", c.Debounce.D(), minDebounce, maxDebounce); err != nil {
		return err
	}
	if err := c.checkPattern(); err != nil {
		return err
	}
	if c.BuzzerMax <= 0 {
		return config.Errorf("buzzer_max", "must be positive (got %s)", c.BuzzerMax)
	}
	if err := within("buzzer_max", c.BuzzerMax.D(), resolution, maxBuzzer); err != nil {
		return err
	}
	if err := within("buzzer_rest", c.BuzzerRest.D(), 0, maxRest); err != nil {
		return err
	}
	if err := within("alarm_hold", c.AlarmHold.D(), 0, maxHold); err != nil {
		return err
	}
	if err := healthDelay("no_packets_for", c.NoPacketsFor.D()); err != nil {
		return err
	}
	return healthDelay("broker_down_for", c.BrokerDownFor.D())
}

type pinKey struct{ key, name string }

// pinKeys lists the pin settings in the order of the file.
func (c *Config) pinKeys() []pinKey {
	return []pinKey{
		{"status_led", c.StatusLED},
		{"alarm_led", c.AlarmLED},
		{"buzzer", c.Buzzer},
		{"button", c.Button},
	}
}

func (c *Config) checkPattern() error {
	p := c.BuzzerPattern
	switch {
	case len(p) == 0:
		return config.Errorf("buzzer_pattern", "is empty: give on and off durations, such as [\"200ms\", \"800ms\"]")
	case len(p)%2 != 0:
		return config.Errorf("buzzer_pattern", "has %d durations: give pairs of on and off durations, such as [\"200ms\", \"800ms\"]", len(p))
	case len(p) > maxPatternLen:
		return config.Errorf("buzzer_pattern", "has %d durations, at most %d are allowed", len(p), maxPatternLen)
	}
	for i, d := range p {
		what := "on"
		if i%2 == 1 {
			what = "off"
		}
		if d.D() < resolution || d.D() > maxPatternStep {
			return config.Errorf("buzzer_pattern", "duration %d (%s %s) must be between %s and %s", i+1, what, d, resolution, maxPatternStep)
		}
	}
	return nil
}

func within(key string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return config.Errorf(key, "%s is out of range: must be between %s and %s", d, config.Duration(lo), config.Duration(hi))
	}
	return nil
}

func healthDelay(key string, d time.Duration) error {
	if d == 0 {
		return nil
	}
	if d < minHealthDelay || d > maxHealthDelay {
		return config.Errorf(key, "%s is out of range: must be 0s (never) or between %s and %s", d, config.Duration(minHealthDelay), config.Duration(maxHealthDelay))
	}
	return nil
}

// checkPinName accepts the characters GPIO line names are made of
// ("GPIO17", "GPIO_GCLK", "SPI_CE0_N", "17").
func checkPinName(name string) error {
	if len(name) > maxPinName {
		return fmt.Errorf("pin name is %d characters long, at most %d are allowed", len(name), maxPinName)
	}
	for i, r := range name {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("invalid pin name %q: it must start with a letter or a digit, as in \"GPIO17\"", name)
		}
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '_' || r == '-' || r == '.' || r == '@'
		if !ok {
			return fmt.Errorf("invalid pin name %q: use a GPIO line name such as \"GPIO17\"", name)
		}
	}
	return nil
}

// MaxHeaderGPIO is the highest GPIO number on the Raspberry Pi header: the
// 40-pin header of every Pi since the B+ (and the 26-pin header of the
// first ones) carries GPIO0 to GPIO27.
const MaxHeaderGPIO = 27

// headerPins maps the pins of the 40-pin header to their GPIO numbers;
// -1 marks power and ground pins. A number above MaxHeaderGPIO is often a
// header pin number given for a GPIO number: the error says which GPIO
// that pin is.
var headerPins = [41]int{
	-1, -1, -1, 2, -1, 3, -1, 4, 14, -1, 15, 17, 18, 27, -1, 22, 23, -1, 24, 10, -1,
	9, 25, 11, 8, -1, 7, 0, 1, 5, -1, 6, 12, 13, -1, 19, 16, 26, 20, -1, 21,
}

// checkPinNumber refuses a GPIO number ("GPIO<n>" in any case, or "<n>")
// that is not on the header, whatever its number of digits, before the
// pins are looked up at run time: netspot check finds it, with its line.
func checkPinNumber(name string) error {
	s := name
	if len(s) >= 4 && strings.EqualFold(s[:4], "gpio") {
		s = s[4:]
		if len(s) > 1 && (s[0] == '-' || s[0] == '+') && allDigits(s[1:]) {
			return fmt.Errorf("%s is not a GPIO number: the Raspberry Pi header has GPIO0 to GPIO%d", name, MaxHeaderGPIO)
		}
	}
	if !allDigits(s) {
		return nil // a line name such as "GPIO_GCLK" or "SDA1"
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err == nil && n <= MaxHeaderGPIO {
		return nil
	}
	msg := fmt.Sprintf("GPIO%s is not on the Raspberry Pi header, which has GPIO0 to GPIO%d", strings.TrimLeft(s, "0"), MaxHeaderGPIO)
	if err == nil && n < uint64(len(headerPins)) {
		if g := headerPins[n]; g >= 0 {
			msg += fmt.Sprintf(" (header pin %d is GPIO%d: give the GPIO number, not the pin number)", n, g)
		} else {
			msg += fmt.Sprintf(" (header pin %d is a power or ground pin)", n)
		}
	}
	return errors.New(msg)
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// pinID maps the spellings of one GPIO number ("GPIO17", "gpio17", "17",
// "GPIO017") to one key, so that a pin given twice is found; other line
// names are kept as they are.
func pinID(name string) string {
	if n, ok := gpioNumber(name); ok {
		return "GPIO" + strconv.Itoa(n)
	}
	return name
}

// gpioNumber reads "GPIO<n>" (any case) or "<n>".
func gpioNumber(name string) (int, bool) {
	s := name
	if len(s) > 4 && strings.EqualFold(s[:4], "gpio") {
		s = s[4:]
	}
	if s == "" || len(s) > 4 {
		return 0, false
	}
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, true
}
