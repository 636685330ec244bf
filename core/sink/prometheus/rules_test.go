package prometheus

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"netspot/core/event"
	"netspot/core/sink"
)

// The alerting rules and the Grafana dashboard shipped in dev/dist, run by
// the real Prometheus server that .ci/run starts (NETSPOT_TEST_PROMETHEUS,
// scraping NETSPOT_TEST_PROMETHEUS_TARGET every second): each rule's
// expression selects this box in the state it alerts on, and each query of
// the dashboard returns data. (The rules' timing, their `for` clauses, is
// tested with promtool's unit tests; the names against a real run's
// exposition in dev/dist.)

var distDir = filepath.Join("..", "..", "..", "dev", "dist")

// promSeries runs an instant query and returns the label sets of its
// result.
func promSeries(server, q string) ([]map[string]string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(server + "/api/v1/query?" + url.Values{"query": {q}}.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("%s: %s", q, out.Error)
	}
	var res []map[string]string
	for _, r := range out.Data.Result {
		res = append(res, r.Metric)
	}
	return res, nil
}

// waitSeries waits until q's result has a series with the labels want.
func waitSeries(t *testing.T, server, what, q string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		got, err := promSeries(server, q)
		for _, m := range got {
			ok := true
			for k, v := range want {
				ok = ok && m[k] == v
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %s gives %v (%v), want a series with %v", what, q, got, err, want)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func realPrometheus(t *testing.T) (server, target string) {
	t.Helper()
	server, target = os.Getenv("NETSPOT_TEST_PROMETHEUS"), os.Getenv("NETSPOT_TEST_PROMETHEUS_TARGET")
	if server == "" || target == "" {
		t.Skip("NETSPOT_TEST_PROMETHEUS and NETSPOT_TEST_PROMETHEUS_TARGET are not set: no Prometheus server (.ci/run starts one)")
	}
	if _, err := promQuery(server, "up"); err != nil {
		t.Fatalf("Prometheus at %s (NETSPOT_TEST_PROMETHEUS) does not answer: %v", server, err)
	}
	return server, target
}

func TestAlertRulesOnRealPrometheus(t *testing.T) {
	server, target := realPrometheus(t)
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile(filepath.Join(distDir, "prometheus", "netspot.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			exprs[r.Alert] = r.Expr
		}
	}

	// A box in trouble: a statistic in alarm (named for this run, so that
	// series kept from an earlier run cannot pass for it), capture
	// failing, the kernel dropping a third of the frames, an output
	// dropping records and alarms. Windows keep coming.
	stat := fmt.Sprintf("RULES_%d", time.Now().UnixNano()%1_000_000)
	ln, err := net.Listen("tcp", target)
	if err != nil {
		t.Fatalf("cannot listen on the scrape target %s: %v", target, err)
	}
	var drops atomic.Uint64
	s, err := New(Config{Serve: true}, Options{Listener: ln, SinkStats: func() []sink.QueueStats {
		n := drops.Load()
		return []sink.QueueStats{{Name: "mqtt", DroppedRecords: n, DroppedAlarms: n}}
	}})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			start := time.Now()
			r := &event.Record{Start: start, End: start.Add(time.Second), Packets: 100, Dropped: 50, CaptureErr: "link down",
				Stats: []event.Stat{{Name: stat, Value: 9, Up: 5, Down: math.NaN(), AlarmID: "r-1"}}}
			if i%5 == 0 {
				r.Alarms = []event.Alarm{{ID: fmt.Sprint("r-", i), Stat: stat, Side: event.Up, Value: 9, Threshold: 5, Start: start, End: r.End}}
			}
			s.Write(r)
			drops.Add(1)
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	box := map[string]string{"instance": target}
	waitSeries(t, server, "NetspotAlarm", exprs["NetspotAlarm"], map[string]string{"instance": target, "stat": stat})
	waitSeries(t, server, "NetspotCaptureFailing", exprs["NetspotCaptureFailing"], box)
	waitSeries(t, server, "NetspotPacketsDropped", exprs["NetspotPacketsDropped"], box)
	waitSeries(t, server, "NetspotSinkDropping", exprs["NetspotSinkDropping"], map[string]string{"instance": target, "sink": "mqtt"})
	waitSeries(t, server, "NetspotAlarmsLost", exprs["NetspotAlarmsLost"], map[string]string{"instance": target, "sink": "mqtt"})
	// Windows come: the box is not silent.
	if got, err := promSeries(server, exprs["NetspotSilent"]); err != nil {
		t.Errorf("NetspotSilent: %v", err)
	} else {
		for _, m := range got {
			if m["instance"] == target {
				t.Errorf("NetspotSilent selects the box while its windows come: %v", m)
			}
		}
	}

	// The Grafana dashboard's queries, for this box and statistic, return
	// data. (Its names are checked against a real run in dev/dist.)
	var dash struct {
		Annotations struct {
			List []struct {
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	b, err = os.ReadFile(filepath.Join(distDir, "grafana", "netspot-prometheus.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer(`"$instance"`, fmt.Sprintf("%q", target), "$stat", stat, "$__rate_interval", "30s", "$__interval", "5s")
	var queries []string
	for _, a := range dash.Annotations.List {
		if a.Expr != "" {
			queries = append(queries, a.Expr)
		}
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			// The lower threshold of a statistic watched upwards only has
			// no series.
			if !strings.Contains(tg.Expr, `side="down"`) {
				queries = append(queries, tg.Expr)
			}
		}
	}
	for _, q := range queries {
		waitSeries(t, server, "dashboard", vars.Replace(q), map[string]string{"instance": target})
	}

	// The box goes away: NetspotDown selects it once a scrape fails.
	close(stop)
	<-done
	s.Close()
	waitSeries(t, server, "NetspotDown", exprs["NetspotDown"], box)
}
