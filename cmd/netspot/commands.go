package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/pflag"

	"netspot/core/config"
	"netspot/core/stats"
)

// flagSet is a command's flags with the text of its help.
type flagSet struct {
	*pflag.FlagSet
	usageLine, description string
}

// newFlags returns the flag set of a command; usageLine and description head
// its help.
func newFlags(name, usageLine, description string) *flagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard) // parse reports errors itself
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, usageLine: usageLine, description: description}
}

// printUsage writes the command's help to w.
func (fs *flagSet) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", fs.usageLine, fs.description)
	if fs.HasFlags() {
		fmt.Fprintf(w, "\nOptions:\n%s", fs.FlagUsages())
	}
}

// parse parses args. --help prints the help to stdout and returns
// errHelpShown, which the command turns into success with helpOK; a bad
// flag is a usage error.
func (fs *flagSet) parse(e *env, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		fs.printUsage(e.stdout)
		return errHelpShown
	case err != nil:
		return usageErrorf("%s: %v (see 'netspot help %s')", fs.Name(), err, fs.Name())
	}
	return nil
}

// configValues returns the options given on the command line that name a
// config key ("miner.device"), with their values, for the config loader.
func (fs *flagSet) configValues() map[string]any {
	out := make(map[string]any)
	fs.Visit(func(f *pflag.Flag) {
		if !strings.Contains(f.Name, ".") {
			return
		}
		switch f.Value.Type() {
		case "bool":
			out[f.Name], _ = fs.GetBool(f.Name)
		case "int":
			out[f.Name], _ = fs.GetInt(f.Name)
		case "stringSlice":
			out[f.Name], _ = fs.GetStringSlice(f.Name)
		default: // strings, and durations as "1m0s"
			out[f.Name] = f.Value.String()
		}
	})
	return out
}

// errHelpShown ends a command successfully after its help was printed.
var errHelpShown = errors.New("help shown")

// helpOK turns errHelpShown into success.
func helpOK(err error) error {
	if errors.Is(err, errHelpShown) {
		return nil
	}
	return err
}

func cmdLs(_ context.Context, e *env, args []string) error {
	fs := newFlags("ls", "netspot ls", "List the statistics netspot can watch. Those marked * are watched when the config names none.")
	if err := fs.parse(e, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("ls takes no arguments")
	}
	def := make(map[string]bool)
	for _, n := range stats.Default() {
		def[n] = true
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tUNIT\tDESCRIPTION")
	for _, s := range stats.All() {
		mark := "  "
		if def[s.Name] {
			mark = "* "
		}
		unit := s.Unit
		if unit == "" {
			unit = "-"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\n", mark, s.Name, unit, s.Help)
	}
	return tw.Flush()
}

func cmdDefaults(_ context.Context, e *env, args []string) error {
	fs := newFlags("defaults", "netspot defaults", "Print the complete default configuration as commented TOML. It is a valid config file:\n  netspot defaults > netspot.toml")
	if err := fs.parse(e, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("defaults takes no arguments")
	}
	fmt.Fprint(e.stdout, "# netspot configuration: every key with its default value.\n"+
		"# Durations are strings with a unit (\"500ms\", \"1s\", \"2m\"). Unknown keys are errors.\n\n")
	return config.Render(e.stdout, defaults(e).sections()...)
}

func cmdCheck(_ context.Context, e *env, args []string) error {
	fs := newFlags("check", "netspot check -c FILE", "Check a config file: exit 0 if netspot would run with it, 3 with the key and line of every problem otherwise.")
	path := fs.StringP("config", "c", "", "config file to check")
	if err := fs.parse(e, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() == 1 && *path == "" {
		*path = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usageErrorf("check takes one config file")
	}
	if *path == "" {
		return usageErrorf("check needs a config file (-c FILE)")
	}
	if _, err := loadConfig(e, *path, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: ok\n", *path)
	return nil
}
