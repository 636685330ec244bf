package main

import (
	"context"
	"errors"
)

func cmdRun(_ context.Context, _ *env, _ []string) error { return errors.New("run: not available yet") }
