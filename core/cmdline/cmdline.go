// Package cmdline holds the conventions of netspot's command line, on a
// cobra command tree: help in the layout of the original netspot (a usage
// line, the description, the options with the defaults really applied),
// manual pages and shell completion scripts made from the tree, and
// options named by the config key they set.
package cmdline

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
)

// Usage writes the list of commands of root, in the order of list.
func Usage(w io.Writer, root *cobra.Command, list []*cobra.Command) {
	fmt.Fprintf(w, "%s: %s\n\nUsage: %s <command> [options]\n\nCommands:\n", root.Name(), root.Short, root.Name())
	for _, c := range list {
		fmt.Fprintf(w, "  %-11s %s\n", c.Name(), c.Short)
	}
	fmt.Fprintf(w, "\nRun '%s help <command>' for the options of a command.\n", root.Name())
}

// Help writes the help of a command: its usage line, its description, and
// its options in the order they were defined, with their defaults.
func Help(w io.Writer, c *cobra.Command) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", c.UseLine(), c.Long)
	fs := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	fs.SortFlags = false
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			fs.AddFlag(f)
		}
	})
	if fs.HasAvailableFlags() {
		fmt.Fprintf(w, "\nOptions:\n%s", fs.FlagUsages())
	}
}

// Shells are the shells Completion writes scripts for.
var Shells = []string{"bash", "zsh", "fish"}

// Completion writes the completion script of root for shell, one of
// Shells, with the descriptions of commands and options.
func Completion(w io.Writer, root *cobra.Command, shell string) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, true)
	case "zsh":
		return root.GenZshCompletion(w)
	case "fish":
		return root.GenFishCompletion(w, true)
	}
	return fmt.Errorf("unknown shell %q (%s)", shell, strings.Join(Shells, ", "))
}

// WriteManPages writes a manual page (section 1) per command of root into
// dir: root.1, root-run.1, ... source names the release ("netspot 1.2.0");
// the root's page lists the commands, then extra, markdown with
// "# SECTION" headers. The date is SOURCE_DATE_EPOCH's when set, so that a
// build is reproducible. The descriptions are written for a terminal:
// indented lines are kept as they are, the others flow.
func WriteManPages(root *cobra.Command, dir, source, extra string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var prepare func(*cobra.Command)
	prepare = func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		c.Long = manText(c.Long)
		for _, s := range c.Commands() {
			prepare(s)
		}
	}
	prepare(root)
	var b strings.Builder
	b.WriteString("\n# COMMANDS\n")
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			fmt.Fprintf(&b, "**%s**\n: %s (**%s-%s**(1)).\n\n", c.Name(), manText(c.Short), root.Name(), c.Name())
		}
	}
	root.Long += b.String() + extra
	return doc.GenManTree(root, &doc.GenManHeader{Section: "1", Source: source, Manual: root.Name() + " manual"}, dir)
}

// manText turns text written for a terminal into markdown: runs of
// indented lines become literal blocks, and the characters markdown would
// take for formatting in the others are escaped.
func manText(s string) string {
	var b strings.Builder
	literal := false
	escape := strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "<", `\<`, "[", `\[`)
	for _, l := range strings.Split(s, "\n") {
		if indented := strings.HasPrefix(l, "  "); indented != literal {
			b.WriteString("```\n")
			literal = indented
		}
		if !literal {
			l = escape.Replace(l)
		}
		b.WriteString(l + "\n")
	}
	if literal {
		b.WriteString("```\n")
	}
	return b.String()
}

// ConfigValues returns the options given on the command line that name a
// config key (those with a dot: "miner.device"), with their values, for
// config.Values.
func ConfigValues(fs *pflag.FlagSet) map[string]any {
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

// CompleteWith offers values for the argument of an option in the shell.
func CompleteWith(c *cobra.Command, flag string, values ...string) {
	_ = c.RegisterFlagCompletionFunc(flag, cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp))
}

// CompleteDevice offers "any" and this machine's interfaces for the
// argument of an option, and files.
func CompleteDevice(c *cobra.Command, flag string) {
	_ = c.RegisterFlagCompletionFunc(flag, func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		names := []cobra.Completion{"any"}
		ifs, _ := net.Interfaces()
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return names, cobra.ShellCompDirectiveDefault
	})
}
