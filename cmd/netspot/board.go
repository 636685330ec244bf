package main

import (
	"context"
	"fmt"
	"time"

	"netspot/board"
	"netspot/core/config"
)

// buttonWait is how long `netspot board test` waits for the button.
const buttonWait = 10 * time.Second

func cmdBoard(ctx context.Context, e *env, args []string) error {
	fs := newFlags("board", "netspot board test [-c FILE]",
		"Check the wiring of the board: light each configured output in turn, sound the buzzer\n"+
			"briefly, then wait for a press of the button. The pins come from the [board] section\n"+
			"of the config file (enabled need not be true).")
	configPath := fs.StringP("config", "c", "", "config file (TOML)")
	if err := fs.parse(e, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 || fs.Arg(0) != "test" {
		return usageErrorf("board: the only subcommand is 'test' (netspot board test [-c FILE])")
	}
	cfg, err := loadConfig(e, *configPath, nil, nil)
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
	return board.SelfTest(ctx, bc, pins, nil, board.TestOptions{Progress: e.stdout, ButtonWait: buttonWait})
}
