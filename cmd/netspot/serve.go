package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"netspot/core/analyzer"
	"netspot/core/api"
	"netspot/core/capture"
	"netspot/core/config"
	"netspot/core/config/tomlkeys"
	"netspot/core/sink"
)

func cmdServe(ctx context.Context, e *env, args []string) error {
	def := DefaultConfig()
	flags := newFlags("serve", "netspot serve [options]",
		"Serve the HTTP API and the dashboard: start and stop capture, change the configuration,\n"+
			"follow statistics and alarms live (open the printed address in a browser).\n"+
			"The pipeline is the one of netspot run, with the same config file. See the README\n"+
			"for the endpoints and the token.")
	configPath := flags.StringP("config", "c", "", "config file (TOML; netspot defaults prints a complete one)")
	endpoint := flags.String("api.endpoint", def.API.Endpoint, "where to listen: tcp://HOST:PORT or unix:///PATH")
	autostart := flags.Bool("api.autostart", def.API.Autostart, "start capturing at once instead of waiting for a start request")
	logLevel := flags.StringP("log-level", "l", "info", "log level: debug, info, warn, error")
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

	cfg := def
	var doc []byte
	if *configPath != "" {
		if cfg, err = loadConfigFile(*configPath); err != nil {
			return withCode(exitConfig, err)
		}
		// Read again for the API: the file was valid a moment ago.
		if doc, err = os.ReadFile(*configPath); err != nil {
			return withCode(exitConfig, &ConfigError{File: *configPath, Err: err})
		}
	}
	fileAPI := cfg.API
	if flags.Changed("api.endpoint") {
		cfg.API.Endpoint = *endpoint
	}
	if flags.Changed("api.autostart") {
		cfg.API.Autostart = *autostart
	}
	if err := cfg.API.Validate(); err != nil {
		return withCode(exitConfig, fmt.Errorf("serve: %w", config.Within("api", err)))
	}

	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	r := &serveRunner{e: e, log: log, fileAPI: fileAPI}
	v, _ := buildVersion()
	srv, err := api.New(cfg.API, r, api.Options{Log: log, Version: v, Config: doc})
	if err != nil {
		var fe *config.FieldError
		if errors.As(err, &fe) {
			return withCode(exitConfig, fmt.Errorf("serve: %w", config.Within("api", err)))
		}
		return fmt.Errorf("serve: %w", err)
	}
	l, err := api.Listen(cfg.API.Endpoint)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return withCode(exitPermission, fmt.Errorf("serve: %w", err))
		}
		return fmt.Errorf("serve: %w", err)
	}
	network, address, _ := api.ParseEndpoint(cfg.API.Endpoint)
	if network == "unix" {
		log.Info("netspot serving", "socket", l.Addr().String(), "token", cfg.API.Token != "" || cfg.API.TokenFile != "")
	} else {
		log.Info("netspot serving", "dashboard", "http://"+l.Addr().String()+"/", "token", cfg.API.Token != "" || cfg.API.TokenFile != "")
		if !api.Loopback(address) && cfg.API.Token == "" && cfg.API.TokenFile == "" {
			log.Warn("the API is open to the network without a token: anyone who reaches it can stop netspot and change its configuration; set [api] token")
		}
	}
	if cfg.API.Autostart {
		if err := srv.Start(ctx); err != nil {
			// Keep serving: the configuration can be fixed from the
			// dashboard.
			log.Error("autostart failed", "err", err)
		}
	}
	return srv.Serve(ctx, l)
}

// serveRunner runs netspot's pipeline for the API server, with the
// configuration documents the API hands it.
type serveRunner struct {
	e   *env
	log *slog.Logger
	// fileAPI is the [api] section of the config file: it applies when
	// serve starts and cannot change through the API.
	fileAPI api.Config
	// fan is the fan-out of the running (or last) pipeline.
	fan atomic.Pointer[sink.FanOut]
}

// SinkStats reports how the sinks of the current pipeline keep up; nil
// before the first start.
func (r *serveRunner) SinkStats() []sink.QueueStats {
	if f := r.fan.Load(); f != nil {
		return f.Stats()
	}
	return nil
}

// CheckConfig decodes doc over base (a document it rendered before) or over
// the defaults, with the error locations of a config file.
func (r *serveRunner) CheckConfig(base, doc []byte) (api.Checked, error) {
	cfg := DefaultConfig()
	cfg.API = r.fileAPI
	if base != nil {
		if err := decodeConfig("current", base, &cfg); err != nil {
			return api.Checked{}, fmt.Errorf("current configuration does not decode: %w", err)
		}
	}
	before := cfg.Spot.PerStat
	if err := decodeConfig("config", doc, &cfg); err != nil {
		problems := apiConfigErrors(err)
		for _, p := range problems {
			if p.Key == "api" || strings.HasPrefix(p.Key, "api.") {
				if e := apiSectionChange(doc); e != nil {
					return api.Checked{}, e
				}
			}
		}
		return api.Checked{}, problems
	}
	if !reflect.DeepEqual(cfg.API, r.fileAPI) {
		if e := apiSectionChange(doc); e != nil {
			return api.Checked{}, e
		}
		return api.Checked{}, &api.ConfigError{Key: "api", Message: errAPISection}
	}
	cfg.Spot.PerStat = mergePerStat(before, cfg.Spot.PerStat)
	if err := cfg.Validate(); err != nil {
		return api.Checked{}, apiConfigErrors(locate("config", nil, err))
	}
	text, err := renderConfig(cfg)
	if err != nil {
		return api.Checked{}, err
	}
	return api.Checked{TOML: text, Device: cfg.Miner.Device, Period: cfg.Analyzer.Period.D(), Stats: cfg.Analyzer.Watched()}, nil
}

const errAPISection = "the [api] section applies when netspot serve starts: change it in the config file and restart"

// apiSectionChange reports a document that sets [api] keys, at the first
// of them (or at the [api] header when it has no key).
func apiSectionChange(doc []byte) error {
	lines, err := tomlkeys.Lines(doc)
	if err != nil {
		return nil
	}
	first := ""
	for key, k := range lines {
		if !strings.HasPrefix(key, "api.") || k.Kind == unstable.Table {
			continue
		}
		if first == "" || k.Line < lines[first].Line {
			first = key
		}
	}
	if first == "" {
		if _, ok := lines["api"]; !ok {
			return nil
		}
		first = "api"
	}
	return &api.ConfigError{Key: first, Line: lines[first].Line, Message: errAPISection}
}

// Run checks that the device can be opened, then runs the pipeline of
// `netspot run` with the API's feed as one more sink.
func (r *serveRunner) Run(ctx context.Context, doc []byte, feed sink.Sink, ready func()) error {
	cfg := DefaultConfig()
	cfg.API = r.fileAPI
	if err := decodeConfig("config", doc, &cfg); err != nil {
		_ = feed.Close()
		return apiConfigErrors(err)
	}
	if err := checkDevice(cfg.Miner.Device, cfg.Miner.Filter); err != nil {
		_ = feed.Close()
		return err
	}
	return runPipeline(ctx, r.e, &cfg, r.log, pipelineHooks{
		extra: []namedSink{{name: "api", sink: feed}},
		started: func(f *sink.FanOut) {
			r.fan.Store(f)
			ready()
		},
	})
}

// checkDevice fails early, with the key to fix, when the device is neither
// an interface nor a capture file that can be read.
func checkDevice(device, filter string) error {
	if capture.IsDevice(device) {
		return nil
	}
	f, err := capture.OpenFile(device, filter)
	if err != nil {
		if errors.Is(err, capture.ErrNotFound) {
			return api.ConfigErrors{{Key: "miner.device", Message: fmt.Sprintf("%q is neither a network interface of this machine nor a capture file", device)}}
		}
		return api.ConfigErrors{{Key: "miner.device", Message: err.Error()}}
	}
	return f.Close()
}

// apiConfigErrors turns the config loader's errors into the API's, keeping
// each key and line.
func apiConfigErrors(err error) api.ConfigErrors {
	var out api.ConfigErrors
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ce *ConfigError
		if errors.As(err, &ce) {
			out = append(out, api.ConfigError{Key: ce.Key, Line: ce.Line, Message: ce.Err.Error()})
			return
		}
		out = append(out, api.ConfigError{Message: err.Error()})
	}
	walk(err)
	return out
}

// mergePerStat applies the [spot.<STAT>] tables of a document (next) over
// those of the configuration it changes (prev): keys it sets win, the
// others are kept.
func mergePerStat(prev, next map[string]analyzer.SpotOverride) map[string]analyzer.SpotOverride {
	if len(prev) == 0 {
		return next
	}
	out := make(map[string]analyzer.SpotOverride, len(prev)+len(next))
	for name, o := range prev {
		out[name] = o
	}
	for name, o := range next {
		merged := out[name]
		src, dst := reflect.ValueOf(o), reflect.ValueOf(&merged).Elem()
		for i := range src.NumField() {
			if !src.Field(i).IsNil() {
				dst.Field(i).Set(src.Field(i))
			}
		}
		out[name] = merged
	}
	return out
}

// renderConfig writes cfg as a complete, commented TOML document without
// the [api] section: what `netspot defaults` prints, with cfg's values and
// its per-statistic tables.
func renderConfig(cfg Config) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# netspot configuration: every key with its value. Durations are strings with a unit.\n\n")
	enc := toml.NewEncoder(&b)
	enc.SetIndentTables(false)
	if err := enc.Encode(withoutSection(cfg, "API")); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	names := make([]string, 0, len(cfg.Spot.PerStat))
	for name := range cfg.Spot.PerStat {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "\n[spot.%s]\n", name)
		o, err := toml.Marshal(cfg.Spot.PerStat[name])
		if err != nil {
			return nil, fmt.Errorf("configuration: spot.%s: %w", name, err)
		}
		b.Write(o)
	}
	return b.Bytes(), nil
}

// withoutSection returns a copy of cfg without the named field, keeping the
// tags (and so the comments) of the others.
func withoutSection(cfg Config, field string) any {
	v := reflect.ValueOf(cfg)
	t := v.Type()
	var fields []reflect.StructField
	var index []int
	for i := range t.NumField() {
		if t.Field(i).Name != field {
			fields = append(fields, t.Field(i))
			index = append(index, i)
		}
	}
	out := reflect.New(reflect.StructOf(fields)).Elem()
	for j, i := range index {
		out.Field(j).Set(v.Field(i))
	}
	return out.Interface()
}
