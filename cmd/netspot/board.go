package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"netspot/board"
	"netspot/core/config"
)

// buttonWait is how long `netspot board test` waits for the button.
const buttonWait = 10 * time.Second

func newBoard(e *env) *cobra.Command {
	c := verb("board test [-c FILE]", "test the wiring of the LEDs, buzzer and button",
		"Check the wiring of the board: light each configured output in turn, sound the buzzer\n"+
			"briefly, then wait for a press of the button. The pins come from the [board] section\n"+
			"of the config file (enabled need not be true), or --set: --set board.alarm_led=GPIO17.")
	var cf configFlags
	cf.addConfig(c, "config file (TOML)")
	cf.addSet(c)
	c.ValidArgs = []cobra.Completion{"test"}
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) != 1 || args[0] != "test" {
			return usageErrorf("board: the only subcommand is 'test' (netspot board test [-c FILE])")
		}
		cfg, err := loadConfig(e, cf.path, nil, cf.set)
		if err != nil {
			return err
		}
		bc := cfg.Pipeline.Sink("board").(*board.SinkConfig).Config
		if err := initGPIO(); err != nil {
			return fmt.Errorf("board: GPIO drivers: %w", err)
		}
		pins, err := board.OpenPins(bc)
		if err != nil {
			return runError(config.Within("board", err))
		}
		return board.SelfTest(c.Context(), bc, pins, nil, board.TestOptions{Progress: e.stdout, ButtonWait: buttonWait})
	}
	return c
}
