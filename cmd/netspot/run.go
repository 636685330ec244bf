package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"netspot/core/capture"
	"netspot/core/cmdline"
	"netspot/core/config"
	"netspot/core/pipeline"
	"netspot/core/sink/console"
	"netspot/core/stats"
)

const runDescription = `Watch a network interface, or replay a capture file (pcap, pcapng) as fast as possible,
and report statistics and alarms. Options override the config file; the defaults
shown are those used when neither sets a value.

As with tcpdump: -r FILE reads a capture file, -r - reads one from standard input
(tcpdump -w - | netspot run -r -), -i IFACE watches an interface, and --count N stops
after N packets. -c is the config file, as in the original netspot and Suricata: the
count has only its long form. --duration D stops after D of traffic, on a file's own
clock (its first D) or the wall clock live.

On a terminal the console is a table: the alarms, and with -v a line per window with
each statistic beside its threshold. Piped or redirected, it is JSON lines. -o json and
-o table choose.`

func newRun(e *env) *cobra.Command {
	def := defaults(e).Pipeline
	c := verb("run [options]", "watch an interface or replay a capture file, report statistics and alarms", runDescription)
	var cf configFlags
	cf.addConfig(c, "config file (TOML; netspot defaults prints a complete one)")
	f := c.Flags()
	f.StringP("miner.device", "d", def.Miner.Device, "interface name, capture file, or - for standard input")
	read := f.StringP("read", "r", "", "read packets from a capture file (pcap, pcapng, gzip); - for standard input")
	iface := f.StringP("interface", "i", "", "watch this interface (any: every interface)")
	count := f.Uint64("count", 0, "stop after this many packets (no short form: -c is the config file)")
	duration := f.Duration("duration", 0, "stop after this much traffic time: a file's own clock, the wall clock live")
	f.DurationP("analyzer.period", "p", def.Analyzer.Period.D(), "length of a window")
	f.StringSliceP("analyzer.stats", "s", nil, "statistic to watch (repeatable or comma-separated; default: "+strings.Join(def.Analyzer.Watched(), ", ")+")")
	verbose := f.BoolP("verbose", "v", false, "print data records and alarms to stdout")
	f.StringP("exporter.console.format", "o", def.Sink("console").(*console.Config).Format,
		"console output: json, table (a line per window, alarms highlighted), auto (table on a terminal)")
	f.StringP("exporter.file.data", "f", "", "file receiving data records (%s: series name)")
	logLevel := f.StringP("log-level", "l", "info", "log level: debug, info, warn, error")
	f.Bool("miner.promiscuous", def.Miner.Promiscuous, "put the interface in promiscuous mode")
	f.Int("miner.snapshot_len", def.Miner.SnapshotLen, "bytes captured per packet")
	f.String("miner.filter", def.Miner.Filter, "capture filter (tcpdump syntax subset, see the README)")
	cf.addSet(c)
	cmdline.CompleteWith(c, "analyzer.stats", stats.Names()...)
	cmdline.CompleteWith(c, "exporter.console.format", console.FormatJSON, console.FormatTable, console.FormatAuto)
	cmdline.CompleteWith(c, "log-level", logLevels...)
	cmdline.CompleteDevice(c, "miner.device")
	cmdline.CompleteDevice(c, "interface")
	_ = c.MarkFlagFilename("read", "pcap", "pcapng", "gz")

	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("run: unexpected argument %q (the device is given with -d, -r or -i)", args[0])
		}
		level, err := parseLogLevel(*logLevel)
		if err != nil {
			return usageErrorf("run: --log-level: %v", err)
		}
		if f.Changed("duration") && *duration <= 0 {
			return usageErrorf("run: --duration must be positive, got %s", *duration)
		}
		options := cmdline.ConfigValues(f)
		if err := deviceOption(options, f.Changed, *read, *iface); err != nil {
			return err
		}
		if *verbose {
			options["exporter.console.data"], options["exporter.console.alarm"] = true, true
		}
		cfg, err := loadConfig(e, cf.path, options, cf.set)
		if err != nil {
			return err
		}
		log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
		reload := make(chan *pipeline.Config, 1)
		reloads(c.Context(), e, log, cf.path, options, cf.set, func(c *fileConfig) {
			select { // only the latest matters
			case <-reload:
			default:
			}
			reload <- c.Pipeline
		})
		var stopProgress func()
		err = pipeline.Run(c.Context(), cfg.Pipeline, pipeline.Options{
			Log: log, Stdout: e.stdout, Stdin: e.stdin, Version: version, Reload: reload, Count: *count, Duration: *duration,
			Started: func(r *pipeline.Running) { stopProgress = startProgress(e, r) },
		})
		if stopProgress != nil {
			stopProgress()
		}
		return runError(err)
	}
	return c
}

// deviceOption sets the device from -r or -i; -d, -r and -i are one
// option under three names.
func deviceOption(options map[string]any, changed func(string) bool, read, iface string) error {
	given := 0
	for _, name := range []string{"miner.device", "read", "interface"} {
		if changed(name) {
			given++
		}
	}
	switch {
	case given > 1:
		return usageErrorf("run: -d, -r and -i all give the device: use one")
	case changed("read"):
		// A file named like an interface is still a file.
		if read != "-" && !strings.ContainsRune(read, '/') && capture.IsDevice(read) {
			read = "./" + read
		}
		options["miner.device"] = read
	case changed("interface"):
		if strings.ContainsRune(iface, '/') || iface == "-" {
			return usageErrorf("run: -i %q is not an interface name (read a capture file with -r)", iface)
		}
		options["miner.device"] = iface
	}
	return nil
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("unknown level %q (debug, info, warn, error)", s)
	}
	return l, nil
}

// runError maps a pipeline's failure to its exit code: a configuration
// problem is 3, a capture that cannot be read 4, a missing permission 5;
// anything else (a port in use) is a failure of the moment, 1.
func runError(err error) error {
	var perm *capture.PermissionError
	var fe *config.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &perm), errors.Is(err, fs.ErrPermission):
		return withCode(exitPermission, err)
	case errors.Is(err, capture.ErrNotFound), errors.Is(err, capture.ErrFormat):
		return withCode(exitInput, err)
	case config.AsProblems(err) != nil, errors.As(err, &fe):
		return withCode(exitConfig, err)
	}
	return err
}
