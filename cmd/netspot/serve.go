package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"netspot/core/api"
	"netspot/core/config"
	"netspot/core/pipeline"
)

func cmdServe(ctx context.Context, e *env, args []string) error {
	def := defaults(e)
	flags := newFlags("serve", "netspot serve [options]",
		"Serve the HTTP API and the dashboard: start and stop capture, change the configuration,\n"+
			"follow statistics and alarms live (open the printed address in a browser).\n"+
			"The pipeline is the one of netspot run, with the same config file. See the README\n"+
			"for the endpoints and the token.")
	configPath := flags.StringP("config", "c", "", "config file (TOML; netspot defaults prints a complete one)")
	flags.String("api.endpoint", def.API.Endpoint, "where to listen: tcp://HOST:PORT or unix:///PATH")
	flags.Bool("api.autostart", def.API.Autostart, "start capturing at once instead of waiting for a start request")
	logLevel := flags.StringP("log-level", "l", "info", "log level: debug, info, warn, error")
	set := flags.StringArray("set", nil, "set any config key: --set spot.q=1e-4 (repeatable)")
	if err := flags.parse(e, args); err != nil {
		return helpOK(err)
	}
	if flags.NArg() > 0 {
		return usageErrorf("serve: unexpected argument %q", flags.Arg(0))
	}
	level, err := parseLogLevel(*logLevel)
	if err != nil {
		return usageErrorf("serve: --log-level: %v", err)
	}
	cfg, err := loadConfig(e, *configPath, flags.configValues(), *set)
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
	l, err := api.Listen(cfg.API)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return withCode(exitPermission, fmt.Errorf("serve: %w", err))
		}
		return fmt.Errorf("serve: %w", err)
	}
	network, _, _ := api.ParseEndpoint(cfg.API.Endpoint)
	token := cfg.API.Token != "" || cfg.API.TokenFile != ""
	if network == "unix" {
		log.Info("netspot serving", "socket", l.Addr().String(), "mode", cfg.API.SocketMode, "token", token)
	} else {
		log.Info("netspot serving", "dashboard", "http://"+l.Addr().String()+"/", "token", token)
	}
	if st := srv.Status(); st.ReadOnly {
		log.Warn(st.ReadOnlyReason)
	}
	reloads(ctx, e, log, *configPath, flags.configValues(), *set, func(c *fileConfig) {
		if c.API != cfg.API {
			log.Warn("SIGHUP: the [api] section applies when netspot serve restarts")
		}
		srv.Reload(c.Pipeline)
	})
	if cfg.API.Autostart {
		if err := srv.Start(ctx); err != nil {
			// Keep serving: the configuration can be fixed from the
			// dashboard.
			log.Error("autostart failed", "err", err)
		}
	}
	return srv.Serve(ctx, l)
}
