package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"periph.io/x/host/v3"

	"netspot/board"
	"netspot/core/config"
)

// openBoard initialises the GPIO drivers and opens the configured lines.
func openBoard(cfg board.Config, log *slog.Logger) (*board.Board, error) {
	pins, err := openPins(cfg, log)
	if err != nil {
		return nil, err
	}
	b, err := board.New(cfg, pins, nil, log.With("sink", "board"))
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, withCode(exitPermission, err)
		}
		return nil, err
	}
	return b, nil
}

func openPins(cfg board.Config, log *slog.Logger) (board.Pins, error) {
	state, err := host.Init()
	if err != nil {
		return board.Pins{}, fmt.Errorf("board: GPIO drivers: %w", err)
	}
	// Drivers that do not apply to this board (the memory-mapped driver
	// of older Pis on a Pi 5) fail harmlessly.
	for _, f := range state.Failed {
		log.Debug("GPIO driver not loaded", "driver", f.D.String(), "err", f.Err)
	}
	pins, err := board.OpenPins(cfg)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return board.Pins{}, withCode(exitPermission, config.Within("board", err))
		}
		return board.Pins{}, withCode(exitConfig, config.Within("board", err))
	}
	return pins, nil
}

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
	cfg := DefaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = loadConfigFile(*configPath); err != nil {
			return withCode(exitConfig, err)
		}
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	pins, err := openPins(cfg.Board, log)
	if err != nil {
		return err
	}
	return board.SelfTest(ctx, cfg.Board, pins, nil, board.TestOptions{Progress: e.stdout, ButtonWait: buttonWait})
}
