package dist

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"netspot/core/analyzer"
	"netspot/core/event"
	"netspot/core/miner"
	"netspot/core/sink"
	"netspot/core/sink/influxdb"
	"netspot/core/sink/prometheus"
	"netspot/core/stats"
)

// The integrations shipped for other tools — Prometheus alerting rules
// (prometheus/), Grafana dashboards (grafana/) — name metrics, labels,
// measurements, fields and tags. These tests check every name against what
// the exporters really write in a real run: the demo capture replayed
// through capture, miner and analyzer, every statistic watched, into the
// Prometheus exporter (scraped) and the InfluxDB exporter (its writes
// captured). The tests against real Prometheus and InfluxDB servers are in
// core/sink/prometheus and core/sink/influxdb.

// exported is what the exporters wrote in the real run.
type exported struct {
	promLabels map[string]map[string]bool // metric -> its label names
	// influx measurement -> field keys, tag keys
	fields, tags map[string]map[string]bool
	stats        []string // statistics in the records
	alarms       int
}

var (
	realRunOnce sync.Once
	realRun     exported
	realRunErr  error
)

func exporters(t *testing.T) exported {
	t.Helper()
	realRunOnce.Do(func() { realRun, realRunErr = runExporters() })
	if realRunErr != nil {
		t.Fatal(realRunErr)
	}
	return realRun
}

func runExporters() (exported, error) {
	out := exported{promLabels: map[string]map[string]bool{}, fields: map[string]map[string]bool{}, tags: map[string]map[string]bool{}}
	log := slog.New(slog.DiscardHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return out, err
	}
	var queues []sink.QueueStats
	prom, err := prometheus.New(prometheus.Config{Serve: true}, prometheus.Options{Listener: ln, Version: "test",
		SinkStats: func() []sink.QueueStats { return queues }})
	if err != nil {
		return out, err
	}
	defer prom.Close()
	var mu sync.Mutex
	var lines []string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/write" {
			mu.Lock()
			lines = append(lines, strings.Split(strings.TrimSpace(string(b)), "\n")...)
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer fake.Close()
	icfg := influxdb.DefaultConfig()
	icfg.Data, icfg.Alarm, icfg.Address, icfg.Database, icfg.AgentName, icfg.BatchSize = true, true, fake.URL, "netspot", "demo", 100
	influx, err := influxdb.New(icfg, sink.Env{Log: log, Series: "demo"})
	if err != nil {
		return out, err
	}

	// Every statistic, with the demo's shortened calibration so that the
	// twelve minutes give thresholds and alarms.
	ac := analyzer.DefaultConfig()
	for _, s := range stats.All() {
		ac.Stats = append(ac.Stats, s.Name)
	}
	sp := analyzer.DefaultSpotConfig()
	sp.NInit, sp.Depth, sp.Level = 300, 30, 0.95
	sp.Up, sp.Down = true, true // both thresholds, so that both sides' names are checked
	an, err := analyzer.New(ac, sp, analyzer.Options{Log: log, RunID: "integrations"})
	if err != nil {
		return out, err
	}
	mc := miner.DefaultConfig()
	mc.Device = filepath.Join("..", "demo", "demo.pcapng")
	m, err := miner.New(mc, time.Second, log)
	if err != nil {
		return out, err
	}
	defer m.Close()
	var werr error
	err = m.Run(context.Background(), func(s *event.Snapshot) {
		r := an.Process(s)
		out.alarms += len(r.Alarms)
		if out.stats == nil {
			for _, st := range r.Stats {
				out.stats = append(out.stats, st.Name)
			}
		}
		if err := prom.Write(r); err != nil && werr == nil {
			werr = err
		}
		if err := influx.Write(r); err != nil && werr == nil {
			werr = err
		}
	})
	if err == nil {
		err = werr
	}
	if err == nil {
		err = influx.Close()
	}
	if err != nil {
		return out, err
	}
	// The fan-out's counters, as `netspot run` passes them.
	queues = []sink.QueueStats{{Name: "mqtt", DroppedRecords: 1, DroppedAlarms: 1}, {Name: "console"}}
	resp, err := http.Get("http://" + prom.Addr().String() + "/metrics")
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	sampleRE := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? `)
	labelRE := regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"`)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		m := sampleRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if out.promLabels[m[1]] == nil {
			out.promLabels[m[1]] = map[string]bool{}
		}
		for _, l := range labelRE.FindAllStringSubmatch(m[3], -1) {
			out.promLabels[m[1]][l[1]] = true
		}
	}
	for _, l := range lines {
		measurement, fieldsTS, _ := strings.Cut(l, " ")
		parts := strings.Split(measurement, ",")
		name := parts[0]
		if out.fields[name] == nil {
			out.fields[name], out.tags[name] = map[string]bool{}, map[string]bool{}
		}
		for _, tag := range parts[1:] {
			k, _, _ := strings.Cut(tag, "=")
			out.tags[name][k] = true
		}
		fieldSet, _, _ := strings.Cut(fieldsTS, " ")
		for _, f := range splitFields(fieldSet) {
			k, _, _ := strings.Cut(f, "=")
			out.fields[name][k] = true
		}
	}
	return out, sc.Err()
}

// splitFields splits a line protocol field set at the commas outside
// quoted strings.
func splitFields(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// The real run gives what the checks need: thresholds, alarms, every
// statistic, both measurements.
func TestExportersRealRun(t *testing.T) {
	e := exporters(t)
	if e.alarms == 0 || len(e.stats) != len(stats.All()) {
		t.Errorf("real run: %d alarms, %d statistics", e.alarms, len(e.stats))
	}
	for _, name := range []string{"netspot_stat_threshold", "netspot_alarm_last_timestamp_seconds", "netspot_sink_alarms_dropped_total"} {
		if e.promLabels[name] == nil {
			t.Errorf("the exposition of the real run lacks %s", name)
		}
	}
	if !e.fields["netspot"]["R_SYN_up"] || !e.fields["netspot_alarm"]["threshold"] || !e.tags["netspot_alarm"]["stat"] {
		t.Errorf("influx fields %v, tags %v", e.fields, e.tags)
	}
}

// promNames checks the metric names and label names of a PromQL
// expression against the exposition: every netspot_ or go_ name must be
// a metric written, every label in a matcher or a grouping a label of one
// of its metrics (or job and instance, which Prometheus adds).
func promNames(t *testing.T, e exported, where, expr string) {
	t.Helper()
	metrics := regexp.MustCompile(`\b(netspot_[a-z_]+|go_[a-z_]+)\b`).FindAllString(expr, -1)
	if len(metrics) == 0 && !strings.Contains(expr, "up") {
		t.Errorf("%s: %q names no netspot metric", where, expr)
	}
	labels := map[string]bool{"job": true, "instance": true}
	for _, m := range metrics {
		if e.promLabels[m] == nil {
			t.Errorf("%s: %s is not a metric netspot exports (%q)", where, m, expr)
			continue
		}
		for l := range e.promLabels[m] {
			labels[l] = true
		}
	}
	var used []string
	for _, m := range regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)\s*"`).FindAllStringSubmatch(expr, -1) {
		used = append(used, m[1])
	}
	for _, m := range regexp.MustCompile(`\b(?:by|without|on|ignoring)\s*\(([^)]*)\)`).FindAllStringSubmatch(expr, -1) {
		for l := range strings.SplitSeq(m[1], ",") {
			used = append(used, strings.TrimSpace(l))
		}
	}
	for _, m := range regexp.MustCompile(`label_values\([^,]+,\s*([a-z_]+)\)`).FindAllStringSubmatch(expr, -1) {
		used = append(used, m[1])
	}
	for _, l := range used {
		if l != "" && !labels[l] {
			t.Errorf("%s: label %s is on none of %v (%q)", where, l, metrics, expr)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// The alerting rules cover what the package promises (an alarm, a box
// down or silent, capture failing, drops), name only metrics and labels
// the exporter writes, and their unit tests feed series of those names and
// labels.
func TestAlertRulesNames(t *testing.T) {
	e := exporters(t)
	var rf ruleFile
	readYAML(t, filepath.Join("prometheus", "netspot.rules.yml"), &rf)
	var alerts []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			promNames(t, e, r.Alert, r.Expr)
			if r.Labels["severity"] == "" {
				t.Errorf("%s: no severity label", r.Alert)
			}
			labels := map[string]bool{"job": true, "instance": true}
			for _, m := range regexp.MustCompile(`\bnetspot_[a-z_]+`).FindAllString(r.Expr, -1) {
				for l := range e.promLabels[m] {
					labels[l] = true
				}
			}
			for _, text := range r.Annotations {
				for _, m := range regexp.MustCompile(`\$labels\.([a-z_]+)`).FindAllStringSubmatch(text, -1) {
					if !labels[m[1]] {
						t.Errorf("%s: annotation uses $labels.%s, which its series do not have", r.Alert, m[1])
					}
				}
			}
		}
	}
	for _, want := range []string{"NetspotAlarm", "NetspotDown", "NetspotSilent", "NetspotCaptureFailing", "NetspotPacketsDropped"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s among %v", want, alerts)
		}
	}

	var tests struct {
		Tests []struct {
			InputSeries []struct {
				Series string `yaml:"series"`
			} `yaml:"input_series"`
		} `yaml:"tests"`
	}
	readYAML(t, filepath.Join("prometheus", "netspot.rules.test.yml"), &tests)
	seriesRE := regexp.MustCompile(`^([a-z_]+)\{(.*)\}$`)
	for _, tc := range tests.Tests {
		for _, s := range tc.InputSeries {
			m := seriesRE.FindStringSubmatch(s.Series)
			if m == nil {
				t.Errorf("unit test series %q", s.Series)
				continue
			}
			if m[1] == "up" {
				continue
			}
			var names []string
			for _, l := range regexp.MustCompile(`([a-z_]+)="`).FindAllStringSubmatch(m[2], -1) {
				if l[1] != "job" && l[1] != "instance" {
					names = append(names, l[1])
				}
			}
			var want []string
			for l := range e.promLabels[m[1]] {
				want = append(want, l)
			}
			sort.Strings(names)
			sort.Strings(want)
			if e.promLabels[m[1]] == nil || !slices.Equal(names, want) {
				t.Errorf("unit test series %s: labels %v, the exporter writes %s with %v", s.Series, names, m[1], want)
			}
		}
	}
}

// promtool, Prometheus' own checker, accepts the rules, and their unit
// tests pass. NETSPOT_TEST_PROMTOOL names promtool (.ci/run sets it).
func TestAlertRulesPromtool(t *testing.T) {
	tool := os.Getenv("NETSPOT_TEST_PROMTOOL")
	if tool == "" {
		t.Skip("NETSPOT_TEST_PROMTOOL is not set: the rules are not checked by promtool (.ci/run sets it)")
	}
	for _, args := range [][]string{
		{"check", "rules", "netspot.rules.yml"},
		{"test", "rules", "netspot.rules.test.yml"},
	} {
		cmd := exec.Command(tool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// grafanaDashboard holds the parts of a dashboard that carry queries.
type grafanaDashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name       string `json:"name"`
			Expr       string `json:"expr"`
			Query      string `json:"query"`
			TextColumn string `json:"textColumn"`
			TagsColumn string `json:"tagsColumn"`
		} `json:"list"`
	} `json:"annotations"`
	Panels []struct {
		Title   string `json:"title"`
		Repeat  string `json:"repeat"`
		Targets []struct {
			Expr  string `json:"expr"`
			Query string `json:"query"`
		} `json:"targets"`
	} `json:"panels"`
}

// GrafanaQuery is one query of a dashboard and where it is.
type grafanaQuery struct{ where, text string }

func readDashboard(t *testing.T, name string) (grafanaDashboard, []grafanaQuery) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("grafana", name))
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var qs []grafanaQuery
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := v.Definition
		if m, ok := v.Query.(map[string]any); ok && q == "" {
			q, _ = m["query"].(string)
		} else if s, ok := v.Query.(string); ok {
			q = s
		}
		qs = append(qs, grafanaQuery{"variable " + v.Name, q})
	}
	for _, a := range d.Annotations.List {
		if a.Expr+a.Query != "" {
			qs = append(qs, grafanaQuery{"annotation " + a.Name, a.Expr + a.Query})
		}
	}
	for _, p := range d.Panels {
		for i, tg := range p.Targets {
			qs = append(qs, grafanaQuery{"panel " + p.Title + " target " + string(rune('A'+i)), tg.Expr + tg.Query})
		}
	}
	return d, qs
}

// Every query of the Prometheus dashboard names metrics and labels that
// the exporter writes; it shows each statistic with its thresholds
// (repeated per statistic) and the alarms as annotations.
func TestGrafanaPrometheusDashboard(t *testing.T) {
	e := exporters(t)
	d, qs := readDashboard(t, "netspot-prometheus.json")
	if len(qs) < 8 {
		t.Fatalf("%d queries", len(qs))
	}
	for _, q := range qs {
		promNames(t, e, q.where, q.text)
	}
	var repeated, annotated bool
	for _, p := range d.Panels {
		if p.Repeat == "stat" {
			var all string
			for _, tg := range p.Targets {
				all += tg.Expr
			}
			repeated = strings.Contains(all, "netspot_stat_value") && strings.Contains(all, `side="up"`) && strings.Contains(all, `side="down"`)
		}
	}
	for _, a := range d.Annotations.List {
		annotated = annotated || strings.Contains(a.Expr, "netspot_alarms_total")
	}
	if !repeated || !annotated || d.UID == "" {
		t.Errorf("dashboard %q: a panel per statistic with both thresholds %v, alarms as annotations %v", d.Title, repeated, annotated)
	}
}

// influxNames checks an InfluxQL query against the points written: its
// measurement, and every quoted identifier in it a field or a tag of that
// measurement, with ${stat} (or $stat) standing for each statistic.
func influxNames(t *testing.T, e exported, where, q string) {
	t.Helper()
	from := regexp.MustCompile(`FROM "([^"]+)"`).FindStringSubmatch(q)
	if from == nil {
		t.Errorf("%s: no FROM \"measurement\" in %q", where, q)
		return
	}
	m := from[1]
	if e.fields[m] == nil {
		t.Errorf("%s: measurement %s is not written by the exporter", where, m)
		return
	}
	for _, stat := range e.stats {
		s := strings.NewReplacer("${stat}", stat, "$stat", stat).Replace(q)
		for _, id := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(s, -1) {
			name := id[1]
			if name == m || regexp.MustCompile(`AS "`+regexp.QuoteMeta(name)+`"`).MatchString(s) {
				continue
			}
			if !e.fields[m][name] && !e.tags[m][name] {
				// A statistic that is never judged (PERF) has no
				// thresholds: its panel shows no threshold line.
				if info, _ := stats.Lookup(stat); info.Informational && (name == stat+"_up" || name == stat+"_down") {
					continue
				}
				t.Errorf("%s: %q is neither a field nor a tag of %s (statistic %s)", where, name, m, stat)
			}
		}
		if !strings.Contains(q, "$stat") && !strings.Contains(q, "${stat}") {
			break
		}
	}
}

// Every query of the InfluxDB dashboard names a measurement, fields and
// tags that the exporter writes.
func TestGrafanaInfluxDBDashboard(t *testing.T) {
	e := exporters(t)
	d, qs := readDashboard(t, "netspot-influxdb.json")
	if len(qs) < 8 {
		t.Fatalf("%d queries", len(qs))
	}
	for _, q := range qs {
		if strings.HasPrefix(q.text, "SHOW ") {
			if m := regexp.MustCompile(`FROM "([^"]+)"`).FindStringSubmatch(q.text); m == nil || e.fields[m[1]] == nil {
				t.Errorf("%s: %q", q.where, q.text)
			}
			if k := regexp.MustCompile(`KEY = "([^"]+)"`).FindStringSubmatch(q.text); k != nil && !e.tags["netspot"][k[1]] {
				t.Errorf("%s: tag %s is not written", q.where, k[1])
			}
			continue
		}
		influxNames(t, e, q.where, q.text)
	}
	for _, a := range d.Annotations.List {
		if a.Query == "" {
			continue
		}
		for _, col := range append([]string{a.TextColumn}, strings.Split(a.TagsColumn, ",")...) {
			if !e.fields["netspot_alarm"][col] && !e.tags["netspot_alarm"][col] {
				t.Errorf("annotation %s: column %q is not written to netspot_alarm", a.Name, col)
			}
			if !strings.Contains(a.Query, `"`+col+`"`) {
				t.Errorf("annotation %s: column %q is not selected", a.Name, col)
			}
		}
	}
}
