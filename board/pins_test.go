package board

import (
	"errors"
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/host/v3"
	"periph.io/x/host/v3/gpioioctl"

	"netspot/core/config"
)

// fakeChip is a GPIO character-device chip with gpiotest lines; a line
// with an empty name is unnamed.
type fakeChip struct {
	label string
	lines []*gpiotest.Pin
}

func newFakeChip(label string, names ...string) *fakeChip {
	c := &fakeChip{label: label}
	for i, n := range names {
		c.lines = append(c.lines, &gpiotest.Pin{N: n, Num: i})
	}
	return c
}

func (c *fakeChip) Label() string { return c.label }

func (c *fakeChip) byName(name string) gpio.PinIO {
	for _, l := range c.lines {
		if l.N != "" && l.N == name {
			return l
		}
	}
	return nil
}

func (c *fakeChip) byOffset(n int) gpio.PinIO {
	if n < 0 || n >= len(c.lines) {
		return nil
	}
	return c.lines[n]
}

func (c *fakeChip) lineNames() []string {
	var out []string
	for _, l := range c.lines {
		if l.N != "" {
			out = append(out, l.N)
		}
	}
	return out
}

// fakeRegistry stands for periph's gpioreg.
type fakeRegistry map[string]gpio.PinIO

func (r fakeRegistry) byName(name string) gpio.PinIO { return r[name] }

func (r fakeRegistry) names() []string {
	var out []string
	for n := range r {
		out = append(out, n)
	}
	return out
}

func (r fakeRegistry) source(chips ...lineChip) hostLines {
	return hostLines{chips: chips, registry: r.byName, all: r.names}
}

// alias is a registry alias of another pin, as gpioreg.RegisterAlias makes.
type alias struct {
	gpio.PinIO
	name string
}

func (a *alias) Name() string           { return a.name }
func (a *alias) Real() gpio.PinIO       { return a.PinIO }
func (a *alias) String() string         { return a.name }
func (a *alias) Halt() error            { return a.PinIO.Halt() }
func (a *alias) Out(l gpio.Level) error { return a.PinIO.Out(l) }

// pi5 looks like a Raspberry Pi 5: the header on the RP1's "pinctrl-rp1"
// chip, other chips with their own names, and the BCM283x driver's pins
// in the registry (which must not be used: they drive the wrong chip).
func pi5() (*fakeChip, fakeRegistry, hostLines) {
	names := []string{"ID_SDA", "ID_SCL"}
	for i := 2; i <= 27; i++ {
		names = append(names, "GPIO"+itoa(i))
	}
	names = append(names, "PCIE_RP1_WAKE", "FAN_TACH", "", "-")
	rp1 := newFakeChip("pinctrl-rp1", names...)
	brcm := newFakeChip("gpio-brcmstb@107d508500", "-", "2712_BOOT_CS_N", "2712_BOOT_MISO", "", "_")
	reg := fakeRegistry{}
	for i := 0; i <= 27; i++ {
		reg["GPIO"+itoa(i)] = &gpiotest.Pin{N: "GPIO" + itoa(i), Num: i}
	}
	return rp1, reg, reg.source(brcm, rp1)
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestResolvePinsOnPi5UsesTheCharacterDevice(t *testing.T) {
	rp1, _, src := pi5()
	cfg := testConfig()
	p, err := resolvePins(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got  any
		want int
	}{{p.StatusLED, 17}, {p.AlarmLED, 27}, {p.Buzzer, 22}, {p.Button, 23}} {
		if c.got != any(rp1.lines[c.want]) {
			t.Errorf("got %v, want line %d of pinctrl-rp1", c.got, c.want)
		}
	}
}

func TestResolvePinsByNumberOnTheHeaderChip(t *testing.T) {
	// Pi 4: GPIO2 is called SDA1 by the device tree. "GPIO2" and "2"
	// still find it, at offset 2 of the header's controller.
	other := newFakeChip("raspberrypi-exp-gpio", "BT_ON", "WL_ON", "PWR_LED_OFF")
	pinctrl := newFakeChip("pinctrl-bcm2711", "ID_SDA", "ID_SCL", "SDA1", "SCL1", "GPIO_GCLK", "GPIO5")
	src := fakeRegistry{}.source(other, pinctrl)
	cfg := testConfig()
	cfg.StatusLED, cfg.AlarmLED, cfg.Buzzer, cfg.Button = "GPIO2", "4", "GPIO5", ""
	p, err := resolvePins(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	if p.StatusLED != gpio.PinOut(pinctrl.lines[2]) || p.AlarmLED != gpio.PinOut(pinctrl.lines[4]) || p.Buzzer != gpio.PinOut(pinctrl.lines[5]) {
		t.Errorf("resolved %v %v %v", p.StatusLED, p.AlarmLED, p.Buzzer)
	}

	// The same line under two names is one pin.
	cfg.AlarmLED = "SDA1"
	_, err = resolvePins(cfg, src)
	assertFieldError(t, err, "alarm_led", "same line as status_led")
}

func TestHeaderChipPreference(t *testing.T) {
	a := newFakeChip("pinctrl-aaa", "X")
	rp1 := newFakeChip("pinctrl-rp1", "Y")
	if got := (hostLines{chips: []lineChip{a, rp1}}).headerChip(); got != lineChip(rp1) {
		t.Errorf("header chip %v, want pinctrl-rp1", got)
	}
	if got := (hostLines{chips: []lineChip{newFakeChip("gpio-x"), a}}).headerChip(); got != lineChip(a) {
		t.Errorf("header chip %v, want the pinctrl- one", got)
	}
	if got := (hostLines{chips: []lineChip{newFakeChip("gpio-x")}}).headerChip(); got != nil {
		t.Errorf("header chip %v without any pinctrl chip", got)
	}
}

func TestResolvePinsFromTheRegistry(t *testing.T) {
	// No character device (old kernel): periph's registry, aliases seen
	// through.
	gpio17 := &gpiotest.Pin{N: "GPIO17", Num: 17}
	reg := fakeRegistry{
		"GPIO17": gpio17,
		"GPIO27": &gpiotest.Pin{N: "GPIO27", Num: 27},
		"LED":    &alias{PinIO: gpio17, name: "LED"},
	}
	cfg := testConfig()
	cfg.StatusLED, cfg.AlarmLED, cfg.Buzzer, cfg.Button = "GPIO17", "GPIO27", "", ""
	p, err := resolvePins(cfg, reg.source())
	if err != nil {
		t.Fatal(err)
	}
	if p.StatusLED != gpio.PinOut(gpio17) {
		t.Errorf("status LED %v", p.StatusLED)
	}
	cfg.AlarmLED = "LED"
	_, err = resolvePins(cfg, reg.source())
	assertFieldError(t, err, "alarm_led", "same line as status_led")
}

func TestResolvePinsUnknownName(t *testing.T) {
	_, _, src := pi5()
	cfg := testConfig()
	cfg.Buzzer = "PWM9" // a line name that Validate cannot judge
	_, err := resolvePins(cfg, src)
	assertFieldError(t, err, "buzzer", `no GPIO line named "PWM9" on this machine (it has GPIO0, GPIO1, GPIO2, GPIO3`)
	if !strings.Contains(err.Error(), "and ") || strings.Contains(err.Error(), " -,") {
		t.Errorf("list of lines not summarized: %v", err)
	}
}

func TestResolvePinsWithoutGPIO(t *testing.T) {
	_, err := resolvePins(testConfig(), fakeRegistry{}.source())
	assertFieldError(t, err, "enabled", "no GPIO lines")
	if !errors.Is(err, ErrNoGPIO) {
		t.Errorf("%v is not ErrNoGPIO", err)
	}
}

func TestResolvePinsInvalidConfig(t *testing.T) {
	_, _, src := pi5()
	cfg := testConfig()
	cfg.Button = "GPIO17"
	_, err := resolvePins(cfg, src)
	assertFieldError(t, err, "button", "already used by status_led")
}

func TestResolvePinsNotFitted(t *testing.T) {
	_, _, src := pi5()
	cfg := testConfig()
	cfg.Buzzer, cfg.Button = "", ""
	p, err := resolvePins(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	if p.Buzzer != nil || p.Button != nil || p.StatusLED == nil || p.AlarmLED == nil {
		t.Errorf("pins %+v", p)
	}
}

func assertFieldError(t *testing.T, err error, key, msg string) {
	t.Helper()
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a FieldError", err)
	}
	if fe.Key != key || !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q (key %q), want key %q and %q", err, fe.Key, key, msg)
	}
}

// TestOpenPinsOnThisMachine loads periph's real host drivers, as the
// netspot command does. On a machine without GPIO (a CI runner) the board
// must refuse to start with ErrNoGPIO; on a board with a header the
// default pins must be found.
func TestOpenPinsOnThisMachine(t *testing.T) {
	if _, err := host.Init(); err != nil {
		t.Fatalf("host.Init: %v", err)
	}
	cfg := testConfig()
	p, err := OpenPins(cfg)
	if len(gpioioctl.Chips) == 0 && len(gpioreg.All()) == 0 {
		if !errors.Is(err, ErrNoGPIO) {
			t.Fatalf("OpenPins without GPIO = %v, want ErrNoGPIO", err)
		}
		assertFieldError(t, err, "enabled", "set enabled = false")
		return
	}
	if err != nil {
		t.Fatalf("OpenPins with the default pins on a machine with GPIO: %v", err)
	}
	t.Logf("status LED %s, alarm LED %s, buzzer %s, button %s", p.StatusLED, p.AlarmLED, p.Buzzer, p.Button)
}
