package main

import (
	"context"
	"errors"
)

// cmdSpot runs one SPOT detector over a series (issue: spot). Replaced by the
// real tool when the spot package lands.
func cmdSpot(_ context.Context, _ *env, _ []string) error {
	return errors.New("spot: not available yet")
}
