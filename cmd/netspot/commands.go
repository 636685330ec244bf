package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"netspot/core/config"
	"netspot/core/stats"
)

func newLs(e *env) *cobra.Command {
	c := verb("ls", "list the statistics netspot can watch",
		"List the statistics netspot can watch. Those marked * are watched when the config names none.")
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("ls takes no arguments")
		}
		return stats.WriteList(e.stdout)
	}
	return c
}

func newDefaults(e *env) *cobra.Command {
	c := verb("defaults", "print the complete default configuration (a valid config file)",
		"Print the complete default configuration as commented TOML. It is a valid config file:\n  netspot defaults > netspot.toml")
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("defaults takes no arguments")
		}
		fmt.Fprint(e.stdout, "# netspot configuration: every key with its default value.\n"+
			"# Durations are strings with a unit (\"500ms\", \"1s\", \"2m\"). Unknown keys are errors.\n\n")
		return config.Render(e.stdout, defaults(e).sections()...)
	}
	return c
}

func newCheck(e *env) *cobra.Command {
	c := verb("check -c FILE [--set KEY=VALUE]...", "check a configuration file",
		"Check a config file, and the --set assignments given with it: exit 0 if netspot would run\n"+
			"with them, 3 with the key and line of every problem of the file, 2 for a bad --set.")
	var cf configFlags
	cf.addConfig(c, "config file to check")
	cf.addSet(c)
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) == 1 && cf.path == "" {
			cf.path = args[0]
		} else if len(args) > 0 {
			return usageErrorf("check takes one config file")
		}
		if cf.path == "" {
			return usageErrorf("check needs a config file (-c FILE)")
		}
		if _, err := loadConfig(e, cf.path, nil, cf.set); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: ok\n", cf.path)
		return nil
	}
	return c
}
