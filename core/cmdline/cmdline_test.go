package cmdline

import (
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Text written for a terminal becomes markdown: indented lines a literal
// block, the characters markdown would format escaped.
func TestManText(t *testing.T) {
	got := manText("Read FILE_NAME, or *all*:\n  netspot run -r -\n  a <b>\nthen stop.")
	want := "Read FILE\\_NAME, or \\*all\\*:\n```\n  netspot run -r -\n  a <b>\n```\nthen stop.\n"
	if got != want {
		t.Errorf("manText:\n%s\nwant:\n%s", got, want)
	}
}

// The options given that name a config key, with their typed values; the
// others (and those not given) are left out.
func TestConfigValues(t *testing.T) {
	c := &cobra.Command{Use: "run"}
	fs := c.Flags()
	fs.String("miner.device", "any", "")
	fs.Int("miner.snapshot_len", 65535, "")
	fs.Bool("miner.promiscuous", true, "")
	fs.StringSlice("analyzer.stats", nil, "")
	fs.Duration("analyzer.period", 0, "")
	fs.String("log-level", "info", "")
	fs.String("miner.filter", "", "")
	if err := fs.Parse([]string{"--miner.device", "eth0", "--miner.snapshot_len", "96", "--miner.promiscuous=false",
		"--analyzer.stats", "A,B", "--analyzer.stats", "C", "--analyzer.period", "1m", "--log-level", "warn"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"miner.device": "eth0", "miner.snapshot_len": 96, "miner.promiscuous": false,
		"analyzer.stats": []string{"A", "B", "C"}, "analyzer.period": "1m0s"}
	if got := ConfigValues(fs); !reflect.DeepEqual(got, want) {
		t.Errorf("ConfigValues = %v, want %v", got, want)
	}
}

// Help lists the options in the order they were defined, without --help.
func TestHelp(t *testing.T) {
	c := &cobra.Command{Use: "run [options]", Long: "Watch.", DisableFlagsInUseLine: true}
	c.Flags().SortFlags = false
	c.Flags().StringP("zeta", "z", "x", "last letter")
	c.Flags().Bool("alpha", false, "first letter")
	c.InitDefaultHelpFlag()
	var b strings.Builder
	Help(&b, c)
	got := b.String()
	if !strings.HasPrefix(got, "Usage: run [options]\n\nWatch.\n\nOptions:\n") || strings.Index(got, "--zeta") > strings.Index(got, "--alpha") ||
		!strings.Contains(got, `(default "x")`) || strings.Contains(got, "--help") {
		t.Errorf("help:\n%s", got)
	}
}
