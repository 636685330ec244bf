package main

import (
	_ "embed"
	"strings"

	"github.com/spf13/cobra"

	"netspot/core/cmdline"
)

// newRoot returns the command tree; *ran turns true once a command's own
// code runs (cobra accepted the command line).
func newRoot(e *env) (*cobra.Command, *bool) {
	ran := new(bool)
	root := &cobra.Command{
		Use:   "netspot COMMAND [options]",
		Short: "statistical network anomaly detector",
		Long: "netspot counts the packets of a network interface (usually a switch port mirroring a\n" +
			"small network) or of a capture file, period by period, turns the counts into statistics\n" +
			"(SYN ratio, traffic, distinct destinations, ...) and watches each statistic with SPOT, an\n" +
			"extreme-value detector that learns what normal traffic looks like and raises an alarm on\n" +
			"values that normal traffic would almost never produce. Statistics and alarms go to the\n" +
			"console, files, MQTT, InfluxDB, Prometheus, and LEDs and a buzzer on a Raspberry Pi.",
		SilenceErrors:         true,
		SilenceUsage:          true,
		DisableFlagsInUseLine: true,
		CompletionOptions:     cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRun:      func(*cobra.Command, []string) { *ran = true },
	}
	// The commands in the order help lists them.
	var list []*cobra.Command
	showVersion := root.Flags().BoolP("version", "V", false, "print the version and exit")
	root.RunE = func(c *cobra.Command, _ []string) error {
		if *showVersion {
			printVersion(e.stdout)
			return nil
		}
		cmdline.Usage(e.stderr, root, list)
		return usageErrorf("no command given")
	}
	list = []*cobra.Command{newRun(e), newServe(e), newLs(e), newDefaults(e), newCheck(e), newBoard(e), newSpot(e), newEval(e),
		newCompletion(root), newVersion(e)}
	root.AddCommand(list...)
	root.AddCommand(newMan(root))
	helpCmd := newHelp(root, &list)
	list = append(list, helpCmd)
	root.SetHelpCommand(helpCmd)
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		if c == root {
			cmdline.Usage(c.OutOrStdout(), root, list)
		} else {
			cmdline.Help(c.OutOrStdout(), c)
		}
	})
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErrorf("%s: %v (see 'netspot help %s')", c.Name(), err, c.Name())
	})
	return root, ran
}

// verb returns a command: use is its usage line after "netspot", short its
// line in the list of commands, long the description its help and manual
// page show.
func verb(use, short, long string) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Long: long, DisableFlagsInUseLine: true}
	c.Flags().SortFlags = false
	return c
}

func newHelp(root *cobra.Command, list *[]*cobra.Command) *cobra.Command {
	c := verb("help [command]", "show help for netspot or one of its commands", "Show the list of commands, or the options of one.")
	c.ValidArgsFunction = func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var names []cobra.Completion
		for _, s := range *list {
			names = append(names, s.Name())
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			cmdline.Usage(c.OutOrStdout(), root, *list)
			return nil
		}
		if len(args) > 1 {
			return usageErrorf("help takes at most one command name")
		}
		for _, s := range *list {
			if s.Name() == args[0] {
				cmdline.Help(c.OutOrStdout(), s)
				return nil
			}
		}
		return usageErrorf("unknown command %q (run 'netspot help' for the list)", args[0])
	}
	return c
}

func newVersion(e *env) *cobra.Command {
	c := verb("version", "print version and build information", "Print the version, the commit and the Go release of this build.")
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("version takes no arguments")
		}
		printVersion(e.stdout)
		return nil
	}
	return c
}

func newCompletion(root *cobra.Command) *cobra.Command {
	c := verb("completion bash|zsh|fish", "print the shell completion script for bash, zsh or fish",
		"Print the completion script of a shell: commands, options, statistics, log levels, files.\n"+
			"The Debian package installs them. Otherwise:\n"+
			"  bash  source <(netspot completion bash)    # in ~/.bashrc\n"+
			"  zsh   netspot completion zsh > \"${fpath[1]}/_netspot\"\n"+
			"  fish  netspot completion fish > ~/.config/fish/completions/netspot.fish")
	c.ValidArgs = cmdline.Shells
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf("completion: name one shell: %s", strings.Join(cmdline.Shells, ", "))
		}
		if err := cmdline.Completion(c.OutOrStdout(), root, args[0]); err != nil {
			return usageErrorf("completion: %v", err)
		}
		return nil
	}
	return c
}

// manSections are the sections of netspot(1) beyond the command tree:
// the service, its files and the exit codes (markdown, as cobra's man
// pages are written).
//
//go:embed netspot.1.md
var manSections string

func newMan(root *cobra.Command) *cobra.Command {
	c := verb("man DIR", "write the manual pages", "Write a manual page per command into DIR (make man).")
	c.Hidden = true
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageErrorf("man: give the directory to write the pages into")
		}
		v, _ := buildVersion()
		return cmdline.WriteManPages(root, args[0], "netspot "+v, manSections)
	}
	return c
}

// configFlags are the options of a command that reads the config file.
type configFlags struct {
	path string
	set  []string
}

func (o *configFlags) addConfig(c *cobra.Command, usage string) {
	c.Flags().StringVarP(&o.path, "config", "c", "", usage)
	_ = c.MarkFlagFilename("config", "toml")
}

func (o *configFlags) addSet(c *cobra.Command) {
	c.Flags().StringArrayVar(&o.set, "set", nil, "set any config key, checked as in the file: --set spot.q=1e-4 (repeatable)")
}

// logLevels are the values of --log-level.
var logLevels = []string{"debug", "info", "warn", "error"}
