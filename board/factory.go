package board

import (
	"fmt"

	"netspot/core/sink"
)

// Factory makes the board from [board]. initHost loads the GPIO drivers
// (periph's host.Init, which the command calls); it is called when the
// board is opened, not before: a config without a board never touches GPIO.
func Factory(initHost func() error) sink.Factory {
	return sink.Factory{
		Name:    "board",
		Section: "board",
		Comment: "LEDs, buzzer and button on the GPIO header (see the README for the wiring)",
		Config: func() sink.Config {
			return &SinkConfig{Config: DefaultConfig(), initHost: initHost}
		},
	}
}

// SinkConfig is the [board] section as a sink's configuration: the Config,
// and how to load the GPIO drivers before the pins are opened.
type SinkConfig struct {
	Config
	initHost func() error
}

// Enabled reports whether the board is driven.
func (c *SinkConfig) Enabled() bool { return c.Enable }

// New loads the GPIO drivers, opens the pins and starts driving them.
// Errors naming a key are config.FieldErrors (relative to [board]); a
// missing permission wraps fs.ErrPermission.
func (c *SinkConfig) New(env sink.Env) (sink.Sink, error) {
	if c.initHost != nil {
		if err := c.initHost(); err != nil {
			return nil, fmt.Errorf("board: GPIO drivers: %w", err)
		}
	}
	pins, err := OpenPins(c.Config)
	if err != nil {
		return nil, err
	}
	return New(c.Config, pins, nil, env.Log)
}

// WatchUplink shows on the status LED whether the uplink (the MQTT broker)
// is reachable; nil when there is none.
func (b *Board) WatchUplink(u sink.Uplink) {
	if u == nil {
		return
	}
	b.SetUplink(u.Connected)
}
