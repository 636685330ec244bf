package influxdb

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"netspot/core/sink"
)

// The queries of the Grafana dashboard shipped in dev/dist, run by a real
// InfluxDB 1 on what the sink wrote there: each returns data (the names
// they use are checked against a real run's points in dev/dist).
func TestGrafanaQueriesOnRealInfluxDB(t *testing.T) {
	base := influxServer(t)
	db := testDatabase(t, base)
	cfg := v1Config(base)
	cfg.Database, cfg.AgentName = db, "lab-pi"
	s, err := New(cfg, sink.Env{Series: "eth0"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	for i := range 10 {
		r := record(i, i == 6)
		r.Start, r.End = now.Add(time.Duration(i-11)*time.Second), now.Add(time.Duration(i-10)*time.Second)
		r.Stats[0].Down = 0.01 // both thresholds of R_SYN
		for j := range r.Alarms {
			r.Alarms[j].Start, r.Alarms[j].End = r.Start, r.End
		}
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(filepath.Join("..", "..", "..", "dev", "dist", "grafana", "netspot-influxdb.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Annotations struct {
			List []struct {
				Query string `json:"query"`
			} `json:"list"`
		} `json:"annotations"`
		Panels []struct {
			Targets []struct {
				Query string `json:"query"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatal(err)
	}
	var queries []string
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok && strings.HasPrefix(q, "SHOW") {
			queries = append(queries, q)
		}
	}
	for _, a := range dash.Annotations.List {
		if a.Query != "" {
			queries = append(queries, a.Query)
		}
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries = append(queries, tg.Query)
		}
	}
	if len(queries) < 8 {
		t.Fatalf("%d queries in the dashboard", len(queries))
	}
	vars := strings.NewReplacer("$timeFilter", "time > now() - 1h", "$__interval", "1s", "$agent", "lab-pi",
		"${stat}", "R_SYN", "$stat", "R_SYN")
	for _, q := range queries {
		res := influxQuery(t, base, db, vars.Replace(q))
		if len(res) == 0 || len(res[0].Values) == 0 {
			t.Errorf("%s: no data", vars.Replace(q))
			continue
		}
		// Every column named in the query has values: a misspelt field
		// gives a column of nulls.
		for _, col := range res[0].Columns {
			found := false
			for _, row := range res[0].Values {
				for i, v := range row {
					found = found || res[0].Columns[i] == col && v != nil
				}
			}
			if !found {
				t.Errorf("%s: column %q has no value", vars.Replace(q), col)
			}
		}
	}
}
