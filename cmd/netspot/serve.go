package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"netspot/core/api"
	"netspot/core/cmdline"
	"netspot/core/config"
	"netspot/core/pipeline"
)

func newServe(e *env) *cobra.Command {
	def := defaults(e)
	c := verb("serve [options]", "serve the HTTP API and the dashboard; start and stop capture from them",
		"Serve the HTTP API and the dashboard: start and stop capture, change the configuration,\n"+
			"follow statistics and alarms live (open the printed address in a browser).\n"+
			"The pipeline is the one of netspot run, with the same config file. See the README\n"+
			"for the endpoints and the token. An endpoint already in use is exit code 1, which a\n"+
			"service manager retries.")
	var cf configFlags
	cf.addConfig(c, "config file (TOML; netspot defaults prints a complete one)")
	f := c.Flags()
	f.String("api.endpoint", def.API.Endpoint, "where to listen: tcp://HOST:PORT or unix:///PATH")
	f.Bool("api.autostart", def.API.Autostart, "start capturing at once instead of waiting for a start request")
	logLevel := f.StringP("log-level", "l", "info", "log level: debug, info, warn, error")
	cf.addSet(c)
	cmdline.CompleteWith(c, "log-level", logLevels...)

	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErrorf("serve: unexpected argument %q", args[0])
		}
		level, err := parseLogLevel(*logLevel)
		if err != nil {
			return usageErrorf("serve: --log-level: %v", err)
		}
		ctx := c.Context()
		cfg, err := loadConfig(e, cf.path, cmdline.ConfigValues(f), cf.set)
		if err != nil {
			return err
		}

		log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
		runner := &pipeline.Runner{Options: pipeline.Options{Log: log, Stdout: e.stdout, Version: version}}
		v, _ := buildVersion()
		srv, err := api.New(cfg.API, runner, api.Options{Log: log, Version: v, Config: cfg.Pipeline,
			Defaults: func() *pipeline.Config { return defaults(e).Pipeline }})
		if err != nil {
			return runError(config.Within("api", err))
		}
		reloads(ctx, e, log, cf.path, cmdline.ConfigValues(f), cf.set, func(c *fileConfig) {
			if c.API != cfg.API {
				log.Warn("SIGHUP: the [api] section applies when netspot serve restarts")
			}
			srv.Reload(c.Pipeline)
		})
		if err := srv.ListenAndServe(ctx); err != nil {
			return runError(fmt.Errorf("serve: %w", err)) // a port in use: 1, which a service manager retries
		}
		return nil
	}
	return c
}
