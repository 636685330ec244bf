package board

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3/gpioioctl"

	"netspot/core/config"
)

// ErrNoGPIO says that the machine has no GPIO lines at all: not a board
// with a GPIO header, or a kernel without the GPIO character device.
var ErrNoGPIO = errors.New("this machine has no GPIO lines (no /dev/gpiochip* device)")

// OpenPins finds the configured pins among the machine's GPIO lines. The
// periph host drivers must have been loaded (host.Init) before.
//
// Lines are taken from the GPIO character device (/dev/gpiochip*, the
// periph gpioioctl driver) whenever it has them, and from periph's
// registry otherwise. The character device is the only interface the
// Raspberry Pi 5 has (its header is on the RP1 chip, which the BCM283x
// register driver does not know), and on the Pi 1 to 4 it marks the lines
// as used by netspot, so that a second program cannot drive them too.
//
// Errors are config.FieldErrors naming the [board] key at fault.
func OpenPins(cfg Config) (Pins, error) {
	chips := make([]lineChip, 0, len(gpioioctl.Chips))
	for _, c := range gpioioctl.Chips {
		chips = append(chips, ioctlChip{c})
	}
	return resolvePins(cfg, hostLines{chips: chips})
}

// lineSource finds GPIO lines by name.
type lineSource interface {
	// line returns the line called name, or nil.
	line(name string) gpio.PinIO
	// names lists the known line names, for error messages.
	names() []string
}

// resolvePins looks up every configured pin in src.
func resolvePins(cfg Config, src lineSource) (Pins, error) {
	if err := cfg.Validate(); err != nil {
		return Pins{}, err
	}
	known := src.names()
	if len(known) == 0 {
		return Pins{}, config.Errorf("enabled", "%w: set enabled = false, or run netspot on a board with a GPIO header", ErrNoGPIO)
	}
	var p Pins
	found := make(map[string]gpio.PinIO)
	for _, k := range cfg.pinKeys() {
		if k.name == "" {
			continue
		}
		l := src.line(k.name)
		if l == nil {
			return Pins{}, config.Errorf(k.key, "no GPIO line named %q on this machine (it has %s)", k.name, summarize(known))
		}
		for other, ol := range found {
			if samePin(l, ol) {
				return Pins{}, config.Errorf(k.key, "pin %s is the same line as %s: the LEDs, the buzzer and the button each need their own pin", k.name, other)
			}
		}
		found[k.key] = l
		switch k.key {
		case "status_led":
			p.StatusLED = l
		case "alarm_led":
			p.AlarmLED = l
		case "buzzer":
			p.Buzzer = l
		case "button":
			p.Button = l
		}
	}
	return p, nil
}

// samePin reports whether two lines are one, seeing through aliases.
func samePin(a, b gpio.PinIO) bool {
	a, b = realPin(a), realPin(b)
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb || !ta.Comparable() {
		return false
	}
	return a == b
}

func realPin(p gpio.PinIO) gpio.PinIO {
	for range 8 { // aliases of aliases, but never a loop
		r, ok := p.(gpio.RealPin)
		if !ok {
			return p
		}
		p = r.Real()
	}
	return p
}

// summarize lists a few names for an error message, GPIO numbers first.
func summarize(names []string) string {
	const most = 30
	sorted := append([]string(nil), names...)
	sort.Slice(sorted, func(i, j int) bool {
		ni, oki := gpioNumber(sorted[i])
		nj, okj := gpioNumber(sorted[j])
		switch {
		case oki && okj:
			return ni < nj
		case oki != okj:
			return oki
		}
		return sorted[i] < sorted[j]
	})
	if len(sorted) > most {
		return fmt.Sprintf("%s, and %d more", strings.Join(sorted[:most], ", "), len(sorted)-most)
	}
	return strings.Join(sorted, ", ")
}

// lineChip is one GPIO chip of the character device.
type lineChip interface {
	Label() string
	// byName returns the line called name, or nil.
	byName(name string) gpio.PinIO
	// byOffset returns the chip's line at offset n, or nil.
	byOffset(n int) gpio.PinIO
	lineNames() []string
}

// hostLines finds lines on the character device's chips first, then in
// periph's registry.
type hostLines struct {
	chips []lineChip
	// registry replaces gpioreg in tests.
	registry func(name string) gpio.PinIO
	all      func() []string
}

func (h hostLines) line(name string) gpio.PinIO {
	// A line called so on a chip: "GPIO17" on every Raspberry Pi.
	for _, c := range h.chips {
		if l := c.byName(name); l != nil {
			return l
		}
	}
	// "GPIO<n>" for a line that the device tree calls otherwise ("SDA1"
	// for GPIO2): offset n of the header's controller.
	if n, ok := gpioNumber(name); ok {
		if c := h.headerChip(); c != nil {
			if l := c.byOffset(n); l != nil {
				return l
			}
		}
	}
	byName := gpioreg.ByName
	if h.registry != nil {
		byName = h.registry
	}
	if l := byName(name); l != nil {
		return l
	}
	return nil
}

// headerChip is the pin controller of the GPIO header: "pinctrl-rp1" on the
// Raspberry Pi 5, "pinctrl-bcm2711" or "pinctrl-bcm2835" before it; another
// "pinctrl-" chip on other boards.
func (h hostLines) headerChip() lineChip {
	var other lineChip
	for _, c := range h.chips {
		switch l := c.Label(); {
		case l == "pinctrl-rp1", l == "pinctrl-bcm2711", l == "pinctrl-bcm2835":
			return c
		case strings.HasPrefix(l, "pinctrl-") && other == nil:
			other = c
		}
	}
	return other
}

func (h hostLines) names() []string {
	seen := make(map[string]bool)
	var out []string
	add := func(n string) {
		// The kernel shows unnamed lines as "", "-" or "_".
		if n != "" && n != "-" && n != "_" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, c := range h.chips {
		for _, n := range c.lineNames() {
			add(n)
		}
	}
	if h.all != nil {
		for _, n := range h.all() {
			add(n)
		}
	} else {
		for _, p := range gpioreg.All() {
			add(p.Name())
		}
	}
	return out
}

// ioctlChip adapts a periph gpioioctl chip.
type ioctlChip struct{ c *gpioioctl.GPIOChip }

func (i ioctlChip) Label() string { return i.c.Label() }

func (i ioctlChip) byName(name string) gpio.PinIO {
	if l := i.c.ByName(name); l != nil {
		return l
	}
	return nil
}

func (i ioctlChip) byOffset(n int) gpio.PinIO {
	if n < 0 || n >= i.c.LineCount() {
		return nil
	}
	if l := i.c.ByNumber(n); l != nil {
		return l
	}
	return nil
}

func (i ioctlChip) lineNames() []string {
	var out []string
	for _, l := range i.c.Lines() {
		out = append(out, l.Name())
	}
	return out
}
