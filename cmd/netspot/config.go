package main

import (
	"context"
	"log/slog"

	"periph.io/x/host/v3"

	"netspot/board"
	"netspot/core/api"
	"netspot/core/config"
	"netspot/core/pipeline"
	"netspot/core/sink"
	"netspot/core/sink/console"
	"netspot/core/sink/file"
	"netspot/core/sink/influxdb"
	"netspot/core/sink/prometheus"
	"netspot/core/sink/socket"
	"netspot/mqtt"
)

// factories are the sinks netspot knows, in the order of the config file.
// The board comes after MQTT: it shows the broker's state.
func factories() []sink.Factory {
	return []sink.Factory{
		console.Factory(),
		file.Factory(),
		mqtt.Factory(),
		socket.Factory(),
		influxdb.Factory(),
		prometheus.Factory(),
		board.Factory(initGPIO),
	}
}

// initGPIO loads periph's GPIO drivers; later calls return at once.
// Drivers that do not apply to this board (the memory-mapped driver of
// older Pis on a Pi 5) fail harmlessly: only an error of periph itself is.
func initGPIO() error {
	_, err := host.Init()
	return err
}

// fileConfig is the whole config file: the pipeline's sections and the
// [api] section of netspot serve.
type fileConfig struct {
	Pipeline *pipeline.Config
	API      api.Config
}

func defaults(e *env) *fileConfig {
	return &fileConfig{Pipeline: pipeline.New(factories()...), API: api.DefaultConfig()}
}

func (c *fileConfig) sections() []config.Section {
	return append(c.Pipeline.Sections(), config.Section{Key: "api", Value: &c.API, Comment: "HTTP API and dashboard of netspot serve"})
}

// loadConfig builds the configuration from the defaults, then the file at
// path (if any), then the options given on the command line (by config
// key), then the --set assignments. A problem in the file is exit code 3,
// on the command line 2.
func loadConfig(e *env, path string, options map[string]any, set []string) (*fileConfig, error) {
	c := defaults(e)
	if path != "" {
		if err := config.LoadFile(path, c.sections()...); err != nil {
			return nil, withCode(exitConfig, err)
		}
	}
	if err := config.LoadCommandLine(options, set, c.sections()...); err != nil {
		return nil, withCode(exitUsage, err)
	}
	return c, nil
}

// reloads reads the config file again at each SIGHUP, with the same command
// line, and hands the result to apply. A file that no longer loads is
// logged with every problem, and the running configuration kept.
func reloads(ctx context.Context, e *env, log *slog.Logger, path string, options map[string]any, set []string, apply func(*fileConfig)) {
	if e.hangup == nil {
		return
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-e.hangup:
			}
			if path == "" {
				log.Warn("SIGHUP: no config file to reload (netspot runs without -c)")
				continue
			}
			log.Info("SIGHUP: reloading the config file", "config", path)
			c, err := loadConfig(e, path, options, set)
			if err != nil {
				log.Error("reload refused: the running configuration is kept", "problems", err.Error())
				continue
			}
			apply(c)
		}
	}()
}
