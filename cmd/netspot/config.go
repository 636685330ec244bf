package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"netspot/board"
	"netspot/core/analyzer"
	"netspot/core/api"
	"netspot/core/config"
	"netspot/core/config/tomlkeys"
	"netspot/core/miner"
	"netspot/core/sink/console"
	"netspot/core/sink/file"
	"netspot/core/sink/influxdb"
	"netspot/core/sink/prometheus"
	"netspot/core/sink/socket"
	"netspot/core/stats"
	"netspot/mqtt"
)

// Config is the whole configuration file. Each section is owned by the
// package that uses it; this struct only assembles them.
type Config struct {
	Miner    miner.Config        `toml:"miner"`
	Analyzer analyzer.Config     `toml:"analyzer"`
	Spot     analyzer.SpotConfig `toml:"spot" comment:"SPOT detectors. Override any key for one statistic in a [spot.<STAT>] table, e.g. [spot.R_SYN] with q = 1e-5"`
	Exporter ExporterConfig      `toml:"exporter"`
	Board    board.Config        `toml:"board" comment:"LEDs, buzzer and button on the GPIO header (see the README for the wiring)"`
	API      api.Config          `toml:"api" comment:"HTTP API and dashboard of netspot serve"`
}

// ExporterConfig gathers the sinks' sections under [exporter].
type ExporterConfig struct {
	Console    console.Config    `toml:"console"`
	File       file.Config       `toml:"file"`
	MQTT       mqtt.Config       `toml:"mqtt"`
	Socket     socket.Config     `toml:"socket"`
	InfluxDB   influxdb.Config   `toml:"influxdb"`
	Prometheus prometheus.Config `toml:"prometheus"`
}

// DefaultConfig is the configuration used when no file is given; `netspot
// defaults` prints it.
func DefaultConfig() Config {
	return Config{
		Miner:    miner.DefaultConfig(),
		Analyzer: analyzer.DefaultConfig(),
		Spot:     analyzer.DefaultSpotConfig(),
		Exporter: ExporterConfig{
			Console:    console.DefaultConfig(),
			File:       file.DefaultConfig(),
			MQTT:       mqtt.DefaultConfig(),
			Socket:     socket.DefaultConfig(),
			InfluxDB:   influxdb.DefaultConfig(),
			Prometheus: prometheus.DefaultConfig(),
		},
		Board: board.DefaultConfig(),
		API:   api.DefaultConfig(),
	}
}

// Validate checks every section; errors are *config.FieldError with the
// full key ("spot.q").
func (c *Config) Validate() error {
	sections := []struct {
		name     string
		validate func() error
	}{
		{"miner", c.Miner.Validate},
		{"analyzer", c.Analyzer.Validate},
		{"spot", c.Spot.Validate},
		{"exporter.file", c.Exporter.File.Validate},
		{"exporter.mqtt", c.Exporter.MQTT.Validate},
		{"exporter.socket", c.Exporter.Socket.Validate},
		{"exporter.influxdb", c.Exporter.InfluxDB.Validate},
		{"exporter.prometheus", c.Exporter.Prometheus.Validate},
		{"board", c.Board.Validate},
		{"api", c.API.Validate},
	}
	for _, s := range sections {
		if err := s.validate(); err != nil {
			return config.Within(s.name, err)
		}
	}
	return nil
}

// maxConfigSize bounds what is read from a config file.
const maxConfigSize = 1 << 20

// ConfigError is a problem in a config file, located as precisely as
// possible: "netspot.toml:12: spot.q: must be in (0, 1)".
type ConfigError struct {
	File string
	Line int    // 0 when unknown
	Key  string // full dotted key, "" when unknown
	Err  error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// loadConfigFile reads and validates a config file over the defaults.
func loadConfigFile(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, &ConfigError{File: path, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return Config{}, &ConfigError{File: path, Err: err}
	}
	if len(data) > maxConfigSize {
		return Config{}, &ConfigError{File: path, Err: fmt.Errorf("larger than %d bytes: not a config file", maxConfigSize)}
	}
	cfg := DefaultConfig()
	if err := decodeConfig(path, data, &cfg); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// decodeConfig decodes a TOML document onto cfg (keys absent from the
// document keep cfg's values) and validates the result. Unknown keys, wrong
// types and bad values are errors naming the key and its line.
func decodeConfig(path string, data []byte, cfg *Config) error {
	lines, err := tomlkeys.Lines(data)
	if err != nil {
		var se *tomlkeys.SyntaxError
		if errors.As(err, &se) {
			return &ConfigError{File: path, Line: se.Line, Err: errors.New(se.Message)}
		}
		return &ConfigError{File: path, Err: err}
	}
	if err := checkDurations(lines); err != nil {
		err.File = path
		return err
	}
	// The [spot] section mixes global parameters with one table per
	// statistic. Decode it into a struct type made for this document: the
	// global fields plus one field per [spot.<STAT>] table present, so that
	// the decoder stays strict about every key and reports positions.
	perStat := spotTables(lines)
	// A table of an unknown statistic is reported now, as validation
	// would, so that the type holds at most one table per statistic: the
	// decoder's work grows with the square of the number of tables.
	for _, name := range perStat {
		if _, ok := stats.Lookup(name); !ok {
			key := "spot." + name
			return &ConfigError{File: path, Line: lineOfKey(lines, key), Key: key, Err: errors.New("unknown statistic (netspot ls lists them)")}
		}
	}
	dynType := configTypeWithSpotTables(perStat)
	// Unknown keys are found here, in one pass: the decoder's strict mode
	// would find them too, but rescans the document for each.
	if unknown := tomlkeys.Unknown(lines, dynType); len(unknown) > 0 {
		return unknownKeys(path, lines, unknown)
	}
	dyn := reflect.New(dynType).Elem()
	copyToDynamic(reflect.ValueOf(cfg).Elem(), dyn)

	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dyn.Addr().Interface()); err != nil {
		return locate(path, lines, err)
	}
	copyFromDynamic(dyn, reflect.ValueOf(cfg).Elem(), perStat)
	if err := cfg.Validate(); err != nil {
		return locate(path, lines, err)
	}
	return nil
}

// maxUnknownListed bounds the unknown keys listed in an error.
const maxUnknownListed = 10

// unknownKeys reports the first unknown keys of a document with their
// lines, and how many more there are.
func unknownKeys(path string, lines map[string]tomlkeys.Key, unknown []string) error {
	var errs []error
	for _, key := range unknown[:min(len(unknown), maxUnknownListed)] {
		errs = append(errs, &ConfigError{File: path, Line: lines[key].Line, Key: key, Err: errors.New("unknown key")})
	}
	if n := len(unknown) - maxUnknownListed; n > 0 {
		errs = append(errs, &ConfigError{File: path, Err: fmt.Errorf("%d more unknown keys", n)})
	}
	return errors.Join(errs...)
}

// checkDurations rejects a duration written as a number: it would be read
// as nanoseconds, which no one means.
func checkDurations(lines map[string]tomlkeys.Key) *ConfigError {
	for _, key := range durationKeys(reflect.TypeOf(Config{}), "") {
		if k, ok := lines[key]; ok && k.Kind != unstable.String {
			return &ConfigError{Line: k.Line, Key: key, Err: errors.New(`expected a duration string with a unit, such as "1s" or "500ms"`)}
		}
	}
	return nil
}

// durationKeys lists the dotted keys of every config.Duration field of t.
func durationKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := tomlName(f)
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			keys = append(keys, durationKeys(f.Type, prefix)...)
			continue
		}
		key := prefix + name
		switch {
		case f.Type == reflect.TypeOf(config.Duration(0)):
			keys = append(keys, key)
		case f.Type.Kind() == reflect.Struct:
			keys = append(keys, durationKeys(f.Type, key+".")...)
		}
	}
	return keys
}

// spotTables returns the names of the [spot.<NAME>] tables of a document,
// in a stable order, in one pass over its keys.
func spotTables(lines map[string]tomlkeys.Key) []string {
	seen := make(map[string]bool)
	for key, k := range lines {
		parts := strings.SplitN(key, ".", 3)
		if len(parts) < 2 || parts[0] != "spot" || seen[parts[1]] || isSpotParam(parts[1]) {
			continue
		}
		// "spot.X" is a table if written as [spot.X] or if keys are under
		// it; a scalar "X = 1" in [spot] is an unknown key that the
		// strict decoder reports.
		if len(parts) == 3 || k.Kind == unstable.Table {
			seen[parts[1]] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

var spotParamsType = reflect.TypeOf(analyzer.SpotParams{})

func isSpotParam(key string) bool {
	for i := range spotParamsType.NumField() {
		if tomlName(spotParamsType.Field(i)) == key {
			return true
		}
	}
	return false
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	return name
}

// configTypeWithSpotTables is Config with its Spot field replaced by a
// struct holding SpotParams' fields and one SpotOverride per table name.
func configTypeWithSpotTables(tables []string) reflect.Type {
	var spotFields []reflect.StructField
	for i := range spotParamsType.NumField() {
		spotFields = append(spotFields, spotParamsType.Field(i))
	}
	for i, name := range tables {
		spotFields = append(spotFields, reflect.StructField{
			Name: fmt.Sprintf("Stat%d", i),
			Type: reflect.TypeOf(analyzer.SpotOverride{}),
			Tag:  reflect.StructTag(fmt.Sprintf(`toml:%q`, name)),
		})
	}
	spotType := reflect.StructOf(spotFields)
	ct := reflect.TypeOf(Config{})
	var fields []reflect.StructField
	for i := range ct.NumField() {
		f := ct.Field(i)
		if f.Name == "Spot" {
			f.Type = spotType
		}
		fields = append(fields, f)
	}
	return reflect.StructOf(fields)
}

func copyToDynamic(cfg, dyn reflect.Value) {
	for i := range cfg.NumField() {
		if cfg.Type().Field(i).Name != "Spot" {
			dyn.Field(i).Set(cfg.Field(i))
			continue
		}
		params := cfg.Field(i).FieldByName("SpotParams")
		for j := range params.NumField() {
			dyn.Field(i).Field(j).Set(params.Field(j))
		}
	}
}

func copyFromDynamic(dyn, cfg reflect.Value, tables []string) {
	for i := range cfg.NumField() {
		if cfg.Type().Field(i).Name != "Spot" {
			cfg.Field(i).Set(dyn.Field(i))
			continue
		}
		spot := cfg.Field(i).Addr().Interface().(*analyzer.SpotConfig)
		ds := dyn.Field(i)
		for j := range spotParamsType.NumField() {
			reflect.ValueOf(&spot.SpotParams).Elem().Field(j).Set(ds.Field(j))
		}
		if len(tables) > 0 {
			spot.PerStat = make(map[string]analyzer.SpotOverride, len(tables))
		}
		for k, name := range tables {
			spot.PerStat[name] = ds.Field(spotParamsType.NumField() + k).Interface().(analyzer.SpotOverride)
		}
	}
}

// locate turns a decoding or validation error into a *ConfigError with the
// key and line when they can be found.
func locate(path string, lines map[string]tomlkeys.Key, err error) error {
	var (
		strict *toml.StrictMissingError
		dec    *toml.DecodeError
		field  *config.FieldError
	)
	switch {
	case errors.As(err, &strict) && len(strict.Errors) > 0:
		var errs []error
		for i := range strict.Errors {
			e := &strict.Errors[i]
			row, _ := e.Position()
			errs = append(errs, &ConfigError{File: path, Line: row, Key: strings.Join(e.Key(), "."), Err: errors.New("unknown key")})
		}
		return errors.Join(errs...)
	case errors.As(err, &dec):
		row, _ := dec.Position()
		return &ConfigError{File: path, Line: row, Key: strings.Join(dec.Key(), "."), Err: errors.New(cleanDecodeMessage(dec.Error()))}
	case errors.As(err, &field):
		return &ConfigError{File: path, Line: lineOfKey(lines, field.Key), Key: field.Key, Err: field.Err}
	}
	return &ConfigError{File: path, Err: err}
}

// lineOfKey finds the line of a key, or of the closest enclosing table
// that is written in the file.
func lineOfKey(lines map[string]tomlkeys.Key, key string) int {
	for k := key; k != ""; {
		if l, ok := lines[k]; ok {
			return l.Line
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// cleanDecodeMessage drops go-toml's "toml: " prefix and Go type names that
// mean nothing to a user ("struct field Q of type float64").
func cleanDecodeMessage(msg string) string {
	msg = strings.TrimPrefix(msg, "toml: ")
	if i := strings.Index(msg, " into struct field "); i >= 0 {
		if j := strings.LastIndex(msg, " of type "); j > i {
			msg = msg[:i] + ": expected " + goTypeForUser(msg[j+len(" of type "):])
		}
	}
	return msg
}

func goTypeForUser(t string) string {
	switch {
	case strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case strings.HasSuffix(t, "Duration"):
		return `a duration string such as "1s"`
	}
	return t
}
