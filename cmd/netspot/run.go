package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"netspot/core/capture"
	"netspot/core/config"
	"netspot/core/pipeline"
)

func cmdRun(ctx context.Context, e *env, args []string) error {
	def := defaults(e).Pipeline
	fs := newFlags("run", "netspot run [options]",
		"Watch a network interface, or replay a capture file (pcap, pcapng) as fast as possible,\n"+
			"and report statistics and alarms. Options override the config file; the defaults\n"+
			"shown are those used when neither sets a value.")
	configPath := fs.StringP("config", "c", "", "config file (TOML; netspot defaults prints a complete one)")
	fs.StringP("miner.device", "d", def.Miner.Device, "interface name or capture file")
	fs.DurationP("analyzer.period", "p", def.Analyzer.Period.D(), "length of a window")
	fs.StringSliceP("analyzer.stats", "s", nil, "statistic to watch (repeatable or comma-separated; default: "+strings.Join(def.Analyzer.Watched(), ",")+")")
	verbose := fs.BoolP("verbose", "v", false, "print data records and alarms to stdout")
	fs.StringP("exporter.file.data", "f", "", "file receiving data records (%s: series name)")
	logLevel := fs.StringP("log-level", "l", "info", "log level: debug, info, warn, error")
	fs.Bool("miner.promiscuous", def.Miner.Promiscuous, "put the interface in promiscuous mode")
	fs.Int("miner.snapshot_len", def.Miner.SnapshotLen, "bytes captured per packet")
	fs.String("miner.filter", def.Miner.Filter, "capture filter (tcpdump syntax subset, see the README)")
	set := fs.StringArray("set", nil, "set any config key: --set spot.q=1e-4 (repeatable)")
	if err := fs.parse(e, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("run: unexpected argument %q (the device is given with -d)", fs.Arg(0))
	}
	level, err := parseLogLevel(*logLevel)
	if err != nil {
		return usageErrorf("run: --log-level: %v", err)
	}
	options := fs.configValues()
	if *verbose {
		options["exporter.console.data"], options["exporter.console.alarm"] = true, true
	}
	cfg, err := loadConfig(e, *configPath, options, *set)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	reload := make(chan *pipeline.Config, 1)
	reloads(ctx, e, log, *configPath, options, *set, func(c *fileConfig) {
		select { // only the latest matters
		case <-reload:
		default:
		}
		reload <- c.Pipeline
	})
	var stopProgress func()
	err = pipeline.Run(ctx, cfg.Pipeline, pipeline.Options{
		Log: log, Stdout: e.stdout, Version: version, Reload: reload,
		Started: func(r *pipeline.Running) { stopProgress = startProgress(e, r) },
	})
	if stopProgress != nil {
		stopProgress()
	}
	return runError(err)
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("unknown level %q (debug, info, warn, error)", s)
	}
	return l, nil
}

// runError maps a pipeline's failure to its exit code: a configuration
// problem is 3, a capture that cannot be read 4, a missing permission 5.
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
