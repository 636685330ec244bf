package cmdline

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// StopOnSignal returns a context that the first SIGINT or SIGTERM ends, so
// that the command stops cleanly (the last window flushed, the state
// saved); a second one exits at once with 128 + the signal's number, as
// the default would: a read of standard input that waits for its writer
// cannot be interrupted otherwise.
func StopOnSignal(name string) (context.Context, context.CancelFunc) {
	ctx, stop := context.WithCancel(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		stop()
		sig := <-signals
		fmt.Fprintf(os.Stderr, "%s: %v again: exiting at once\n", name, sig)
		code := 128 + int(syscall.SIGTERM)
		if s, ok := sig.(syscall.Signal); ok {
			code = 128 + int(s)
		}
		os.Exit(code)
	}()
	return ctx, stop
}
