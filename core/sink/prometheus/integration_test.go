package prometheus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"netspot/core/event"
	"netspot/core/sink"
)

// fullExposition is a sink's output with every kind of metric in it.
func fullExposition(t *testing.T) []byte {
	s := serve(t, Options{Version: "test", SinkStats: func() []sink.QueueStats {
		return []sink.QueueStats{{Name: "console", Delivered: 3}, {Name: "mqtt", DroppedRecords: 1}}
	}})
	s.Write(record(0, true))
	r := record(1, false)
	r.CaptureErr = "down"
	s.Write(r)
	return []byte(scrape(t, s))
}

// promtool, the linter of the Prometheus project, finds nothing to say.
// NETSPOT_TEST_PROMTOOL names its binary (.ci/run sets it); when it is set
// the tool must run.
func TestPromtoolCheckMetrics(t *testing.T) {
	tool := os.Getenv("NETSPOT_TEST_PROMTOOL")
	if tool == "" {
		t.Skip("NETSPOT_TEST_PROMTOOL is not set: the exposition is not linted (.ci/run sets it to promtool)")
	}
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(fullExposition(t))
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// A real Prometheus server scrapes the sink. NETSPOT_TEST_PROMETHEUS is the
// server's URL and NETSPOT_TEST_PROMETHEUS_TARGET the address it scrapes
// every second (.ci/run starts it so); the test serves there and waits for
// its values to be queryable.
func TestRealPrometheusScrape(t *testing.T) {
	server, target := os.Getenv("NETSPOT_TEST_PROMETHEUS"), os.Getenv("NETSPOT_TEST_PROMETHEUS_TARGET")
	if server == "" || target == "" {
		t.Skip("NETSPOT_TEST_PROMETHEUS and NETSPOT_TEST_PROMETHEUS_TARGET are not set: no Prometheus server to scrape the sink (.ci/run starts one)")
	}
	if _, err := promQuery(server, "up"); err != nil {
		t.Fatalf("Prometheus at %s (NETSPOT_TEST_PROMETHEUS) does not answer: %v", server, err)
	}
	ln, err := net.Listen("tcp", target)
	if err != nil {
		t.Fatalf("cannot listen on the scrape target %s: %v", target, err)
	}
	s, err := New(Config{Serve: true}, Options{Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Values of this run only, so that samples kept from an earlier run
	// cannot pass for them.
	mark := float64(time.Now().UnixNano()%1_000_000) / 7
	r := record(0, true)
	r.Stats = append(r.Stats, event.Stat{Name: `odd "name"\`, Value: mark, Up: math.NaN(), Down: -mark})
	s.Write(r)

	// The mark first: once it is seen, a scrape of this run has been
	// stored, and the other values (absences included) come from it.
	checks := []struct {
		query string
		want  float64
	}{
		{`netspot_stat_value{stat="odd \"name\"\\"}`, mark},
		{`netspot_stat_threshold{stat="odd \"name\"\\",side="down"}`, -mark},
		{`netspot_stat_value{stat="R_SYN"}`, 0.25},
		{`netspot_alarms_total{stat="R_SYN",side="up"}`, 1},
		{`netspot_packets_total`, 100},
		{`count(netspot_stat_value{stat="TRAFFIC"}) or vector(0)`, 0}, // undefined: absent
		{`count(netspot_stat_threshold{stat="odd \"name\"\\",side="up"}) or vector(0)`, 0},
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, c := range checks {
		for {
			got, err := promQuery(server, c.query)
			if err == nil && len(got) == 1 && math.Abs(got[0]-c.want) <= 1e-9*math.Abs(c.want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s = %v (%v) after 30 s, want %v", c.query, got, err, c.want)
			}
			time.Sleep(200 * time.Millisecond) // waiting for the next scrape
		}
	}
	up, err := promQuery(server, fmt.Sprintf(`up{instance=%q}`, target))
	if err != nil || len(up) != 1 || up[0] != 1 {
		t.Errorf("up{instance=%q} = %v, %v: Prometheus failed to scrape", target, up, err)
	}
}

// promQuery runs an instant PromQL query and returns the values of its
// vector.
func promQuery(server, q string) ([]float64, error) {
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
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if out.Status != "success" {
		return nil, fmt.Errorf("%s: %s", q, out.Error)
	}
	var vals []float64
	for _, r := range out.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	return vals, nil
}
