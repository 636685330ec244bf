package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"netspot/core/atomicfile"
	"netspot/core/cmdline"
	"netspot/core/config"
	"netspot/core/eval"
	"netspot/core/eval/chart"
)

func newEval(e *env) *cobra.Command {
	c := verb("eval SCENARIO.toml [options]", "measure detection and false alarms on a labelled replay of captures",
		"Measure detection on a labelled timeline: benign captures looped to fill the scenario's\n"+
			"duration, attack captures injected at known offsets, replayed through netspot as fast\n"+
			"as possible (nothing is written). Reports, for every attack, whether and how fast it was\n"+
			"detected and by which statistics, and the false alarms per hour of benign traffic.\n"+
			"docs/evaluation.md describes the scenario file and how the figures are counted.")
	var cf configFlags
	cf.addConfig(c, "config file whose detection settings are evaluated (default: the built-in defaults)")
	fs := c.Flags()
	period := fs.DurationP("analyzer.period", "p", 0, "length of a window (default: the scenario's period, else the config's)")
	fs.StringSliceP("analyzer.stats", "s", nil, "statistic to watch (repeatable or comma-separated; default: the config's)")
	cf.addSet(c)
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	plotPath := fs.String("plot", "", "draw the alarmed statistics, their thresholds, the attack windows and the alarms to this PNG file")
	writeTimeline := fs.String("write-timeline", "", "write the merged timeline to this capture file (pcap, or pcapng when link types differ) and exit, to run another detector on the same traffic")
	logLevel := fs.StringP("log-level", "l", "warn", "log level: debug, info, warn, error")
	cmdline.CompleteWith(c, "log-level", logLevels...)
	c.RunE = func(c *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return usageErrorf("eval: no scenario file given (netspot eval SCENARIO.toml)")
		case len(args) > 1:
			return usageErrorf("eval: one scenario file at a time, got %d arguments", len(args))
		}
		level, err := parseLogLevel(*logLevel)
		if err != nil {
			return usageErrorf("eval: --log-level: %v", err)
		}
		if fs.Changed("analyzer.period") && *period <= 0 {
			return usageErrorf("eval: --analyzer.period must be positive, got %s", *period)
		}
		file, err := loadConfig(e, cf.path, cmdline.ConfigValues(fs), cf.set)
		if err != nil {
			return err
		}
		cfg := file.Pipeline
		scn, err := eval.Load(args[0])
		if err != nil {
			return runError(err)
		}
		// The period: the command line, else the scenario (it knows how sparse
		// its traffic is), else the config.
		p := scn.PeriodOr(cfg.Analyzer.Period.D())
		if fs.Changed("analyzer.period") {
			p = *period
		}
		cfg.Analyzer.Period = config.Duration(p)
		log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

		if *writeTimeline != "" {
			return runError(eval.WriteTimelineFile(scn, cfg.Miner.Filter, *writeTimeline, e.stdout))
		}

		opt := eval.Options{Config: cfg, Log: log}
		var rec *chart.Recorder
		if *plotPath != "" {
			if rec, err = chart.NewRecorder(scn.Duration.D(), p); err != nil {
				return usageErrorf("eval: --plot: %v", err)
			}
			// A directory that is not there fails before the replay.
			if _, err := os.Stat(filepath.Dir(*plotPath)); err != nil {
				return withCode(exitFailure, fmt.Errorf("eval: --plot: %w", err))
			}
			opt.Observe = rec.Add
		}
		started := time.Now()
		rep, err := eval.Run(c.Context(), scn, opt)
		if err != nil {
			return runError(err)
		}
		log.Info("evaluation done", "scenario", scn.Path, "windows", rep.Windows, "took", time.Since(started).Round(time.Millisecond))
		if *asJSON {
			if err := rep.WriteJSON(e.stdout); err != nil {
				return err
			}
		} else if err := rep.WriteText(e.stdout); err != nil {
			return err
		}
		if rec != nil {
			// Written whole at the end: a failed evaluation leaves an earlier
			// plot as it was.
			var png bytes.Buffer
			if err := rec.WritePNG(&png, rep); err != nil {
				return fmt.Errorf("eval: --plot: %w", err)
			}
			if err := atomicfile.Write(*plotPath, png.Bytes(), 0o644); err != nil {
				return fmt.Errorf("eval: --plot: %w", err)
			}
		}
		return nil
	}
	return c
}
