package main

import (
	"context"
	"errors"
	"io"
)

func cmdCompare(ctx context.Context, args []string, out io.Writer) error {
	return errors.New("compare: not yet")
}
