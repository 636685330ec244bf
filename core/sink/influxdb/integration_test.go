package influxdb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"netspot/core/event"
	"netspot/core/sink"
)

// The tests below run against a real InfluxDB 1 server whose URL is in
// NETSPOT_TEST_INFLUXDB (.ci/run starts one). They fail if the variable is
// set and the server does not answer, and are skipped when it is unset.
func influxServer(t *testing.T) string {
	t.Helper()
	base := os.Getenv("NETSPOT_TEST_INFLUXDB")
	if base == "" {
		t.Skip("NETSPOT_TEST_INFLUXDB is not set: no InfluxDB server to test against (.ci/run starts one)")
	}
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(base + "/ping")
	if err != nil {
		t.Fatalf("InfluxDB at %s (NETSPOT_TEST_INFLUXDB) does not answer: %v", base, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("InfluxDB at %s: /ping answered %s", base, resp.Status)
	}
	return base
}

// testDatabase returns a database name of its own for the test, dropped at
// the end.
func testDatabase(t *testing.T, base string) string {
	db := fmt.Sprintf("netspot_test_%d", time.Now().UnixNano())
	t.Cleanup(func() { influxQuery(t, base, "", "DROP DATABASE "+quoteIdent(db)) })
	return db
}

type influxSeries struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// influxQuery runs an InfluxQL statement and returns the series of its
// result, with numbers as json.Number (nanosecond times need all digits).
func influxQuery(t *testing.T, base, db, q string) []influxSeries {
	t.Helper()
	form := url.Values{"q": {q}, "epoch": {"ns"}}
	if db != "" {
		form.Set("db", db)
	}
	resp, err := http.PostForm(base+"/query", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Results []struct {
			Series []influxSeries `json:"series"`
			Error  string         `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s %s (%v)", q, resp.Status, body, err)
	}
	if out.Error != "" || len(out.Results) != 1 || out.Results[0].Error != "" {
		t.Fatalf("%s: %s", q, body)
	}
	return out.Results[0].Series
}

// rows turns one series into maps from column to value.
func rows(s influxSeries) []map[string]any {
	var out []map[string]any
	for _, v := range s.Values {
		m := map[string]any{}
		for i, c := range s.Columns {
			m[c] = v[i]
		}
		out = append(out, m)
	}
	return out
}

func TestRealInfluxDB(t *testing.T) {
	base := influxServer(t)
	db := testDatabase(t, base)
	cfg := v1Config(base)
	cfg.Database, cfg.BatchSize, cfg.AgentName = db, 3, "pi 1"
	series := `lab "a", b=c\d`
	s, err := New(cfg, sink.Env{Series: series})
	if err != nil {
		t.Fatal(err)
	}
	// A replay through the fan-out: the database is created by the first
	// write, then the records go in batches of up to 3.
	f := sink.NewFanOut(nil, sink.Replay)
	f.Add("influxdb", s, cfg.Queue())
	var recs []*event.Record
	for i := range 5 {
		r := record(i, i == 2)
		r.Stats = append(r.Stats, event.Stat{Name: "TINY", Value: 1e-300, Up: 1e300, Down: -2.5})
		if i == 3 {
			r.CaptureErr = `link "eth1" down` + "\n"
			r.Partial = true
		}
		recs = append(recs, r)
		f.Publish(context.Background(), r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats()[0]; st.Delivered != 5 || st.Failed != 0 || st.Retries != 0 {
		t.Errorf("stats %+v, want the 5 records written", st)
	}

	got := influxQuery(t, base, db, "SELECT * FROM netspot ORDER BY time")
	if len(got) != 1 {
		t.Fatalf("netspot: %+v", got)
	}
	data := rows(got[0])
	if len(data) != len(recs) {
		t.Fatalf("%d data points read back, want %d: %+v", len(data), len(recs), got)
	}
	for i, m := range data {
		r := recs[i]
		want := map[string]string{
			"time": fmt.Sprint(r.End.UnixNano()), "agent": "pi 1", "packets": fmt.Sprint(r.Packets),
			"R_SYN": "0.25", "R_SYN_up": "0.5", "TINY": "1e-300", "TINY_up": "1e+300", "TINY_down": "-2.5",
			"active_alarms": fmt.Sprint(len(r.Alarms)),
		}
		for k, v := range want {
			if fmt.Sprint(m[k]) != v {
				t.Errorf("point %d: %s = %v, want %s", i, k, m[k], v)
			}
		}
		// Undefined values were left out: the columns exist (other
		// statistics' fields) but are null.
		for _, k := range []string{"R_SYN_down", "TRAFFIC", "TRAFFIC_up"} {
			if m[k] != nil {
				t.Errorf("point %d: %s = %v, want null (NaN is not written)", i, k, m[k])
			}
		}
		// InfluxDB 1 keeps an escaped backslash doubled (2 and 3 do not).
		if s := fmt.Sprint(m["series"]); s != `lab "a", b=c\\d` {
			t.Errorf("point %d: series tag %q", i, s)
		}
	}
	if data[3]["capture_error"] != `link "eth1" down ` || data[3]["partial"] != true || data[0]["partial"] != nil {
		t.Errorf("capture_error %q, partial %v", data[3]["capture_error"], data[3]["partial"])
	}

	got = influxQuery(t, base, db, "SELECT * FROM netspot_alarm")
	if len(got) != 1 || len(got[0].Values) != 1 {
		t.Fatalf("netspot_alarm: %+v", got)
	}
	a := rows(got[0])[0]
	a2 := recs[2].Alarms[0]
	if a["id"] != a2.ID || a["stat"] != "R_SYN" || a["side"] != "up" || fmt.Sprint(a["value"]) != "0.9" ||
		fmt.Sprint(a["probability"]) != "0.000001" && fmt.Sprint(a["probability"]) != "1e-06" || fmt.Sprint(a["time"]) != fmt.Sprint(a2.End.UnixNano()) {
		t.Errorf("alarm read back as %v", a)
	}
}

// A point InfluxDB refuses (a field that changes type) is not retried: the
// error is a plain one, with the server's message.
func TestRealInfluxDBRefusal(t *testing.T) {
	base := influxServer(t)
	db := testDatabase(t, base)
	influxQuery(t, base, "", "CREATE DATABASE "+quoteIdent(db))
	line := fmt.Sprintf("netspot,agent=local,series=office packets=1.5 %d\n", t0.UnixNano())
	resp, err := http.Post(base+"/write?db="+db, "text/plain", strings.NewReader(line))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("seeding the conflicting point: %s", resp.Status)
	}
	cfg := v1Config(base)
	cfg.Database, cfg.Alarm = db, false
	s := newSink(t, cfg)
	err = s.Write(record(0, false))
	if err == nil || sink.IsUnreachable(err) || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("Write = %v, want InfluxDB's field type conflict, not to be retried", err)
	}
}
