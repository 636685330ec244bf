// Command netspot is a statistical network anomaly detector: it counts the
// packets of a live interface or a capture file per period, turns the counts
// into statistics, watches each statistic with SPOT, and reports values and
// alarms to the console, files, MQTT, and the board's LEDs.
//
// main only wires the process to run, which the tests call in-process. The
// commands are a cobra tree (cli.go), which also gives the shell completion
// scripts and the manual pages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"netspot/core/cmdline"
)

// Set at build time with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

// Exit codes: distinct per kind of failure so that scripts and init systems
// can tell a typo in the config from a missing capture device.
const (
	exitOK         = 0
	exitFailure    = 1 // runtime failure not covered below (a port in use: the service manager retries)
	exitUsage      = 2 // bad command line
	exitConfig     = 3 // config file unreadable or invalid
	exitInput      = 4 // capture file or device missing, unreadable or corrupt
	exitPermission = 5 // not allowed to capture (missing capability)
)

// exitError carries the exit code for an error.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode marks err with an exit code; nil stays nil.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usageErrorf is a command-line mistake (exit code 2).
func usageErrorf(format string, args ...any) error {
	return withCode(exitUsage, fmt.Errorf(format, args...))
}

// exitCode maps an error returned by run to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailure
}

// env is what a command may use of the process, so that tests can run
// commands in-process with their own streams.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stderrIsTerminal enables interactive output such as progress bars.
	stderrIsTerminal bool
	// hangup delivers SIGHUP: reload the config file.
	hangup <-chan os.Signal
}

func main() {
	ctx, stop := cmdline.StopOnSignal("netspot") // a second signal exits at once
	// SIGHUP reloads the config file (as for mosquitto and Prometheus):
	// it never kills netspot, even when the terminal that started it goes.
	hangup := make(chan os.Signal, 1)
	signal.Notify(hangup, syscall.SIGHUP)
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, stderrIsTerminal: isTerminal(os.Stderr), hangup: hangup}
	err := run(ctx, e, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "netspot: %v\n", err)
	}
	os.Exit(exitCode(err))
}

// run executes one netspot command line (without the program name).
func run(ctx context.Context, e *env, args []string) error {
	root, ran := newRoot(e)
	root.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	var ee *exitError
	if err != nil && !*ran && !errors.As(err, &ee) {
		// Refused by cobra before any command ran: an unknown command,
		// a bad argument.
		return withCode(exitUsage, err)
	}
	return err
}

// buildVersion returns the version string and the commit, falling back to
// the VCS stamp of the Go toolchain when the linker flags were not set.
func buildVersion() (string, string) {
	v, c := version, commit
	if c == "" {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	return v, c
}

func printVersion(w io.Writer) {
	v, c := buildVersion()
	if c == "" {
		c = "unknown"
	}
	goVersion := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		goVersion = info.GoVersion
	}
	fmt.Fprintf(w, "netspot %s (commit %s, %s)\n", v, c, goVersion)
}
