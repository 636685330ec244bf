package main

import (
	"context"
	"errors"
)

func cmdRun(_ context.Context, _ *env, _ []string) error { return errors.New("run: not available yet") }

func cmdLs(_ context.Context, _ *env, _ []string) error { return errors.New("ls: not available yet") }

func cmdDefaults(_ context.Context, _ *env, _ []string) error {
	return errors.New("defaults: not available yet")
}
