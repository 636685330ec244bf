package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"netspot/core/config"
	"netspot/dev/trafficgen"
)

// The delivery contract, end to end: kill -9 at random points of a replay
// while the MQTT broker is down, then start netspot again with the broker
// up: every alarm printed before the kill reaches the broker, once.
func TestAlarmsSurviveKillDuringReplay(t *testing.T) {
	broker := mosquittoPath(t)
	bin := buildNetspot(t)
	dir := t.TempDir()
	capture := filepath.Join(dir, "attacks.pcap")
	writeAttacks(t, capture)
	quiet := filepath.Join(dir, "quiet.pcap")
	writeQuiet(t, quiet)
	port := freePort(t)

	trials := 4
	if testing.Short() {
		trials = 1
	}
	for trial := range trials {
		store := filepath.Join(dir, fmt.Sprintf("store-%d", trial))
		cfg := filepath.Join(dir, fmt.Sprintf("netspot-%d.toml", trial))
		writeFile(t, cfg, fmt.Sprintf(`[analyzer]
stats = ["SYN_RATE", "NB_DST_PORT", "TRAFFIC"]
[spot]
n_init = 200
depth = 20
level = 0.95
[exporter.mqtt]
enabled = true
broker = "tcp://127.0.0.1:%d"
node_id = "kill%d"
store_dir = %q
stats_queue = 20
connect_timeout = "1s"
close_timeout = "5s"
`, port, trial, store))

		// The replay, broker down: killed after a random number of
		// alarms printed.
		printed := replayUntilKilled(t, bin, cfg, capture, 1+rand.IntN(6))
		if len(printed) == 0 {
			t.Fatalf("trial %d: no alarm printed before the kill", trial)
		}

		// The broker comes up; netspot starts again on a quiet capture.
		stop := startMosquitto(t, broker, port)
		got := subscribe(t, port, fmt.Sprintf("netspot/kill%d/alarm", trial))
		out, err := exec.Command(bin, "run", "-c", cfg, "-d", quiet, "-l", "warn").CombinedOutput()
		if err != nil {
			t.Fatalf("trial %d: second run: %v\n%s", trial, err, out)
		}
		time.Sleep(200 * time.Millisecond) // the last PUBLISH reaches the subscriber
		ids := got.ids()
		stop()
		for _, id := range printed {
			if n := ids[id]; n != 1 {
				t.Errorf("trial %d: alarm %s printed before the kill arrived %d times (all: %v)", trial, id, n, ids)
			}
		}
	}
}

// replayUntilKilled runs netspot on capture and kills it (SIGKILL) once it
// has printed n alarms or ended; it returns the ids of the alarms printed.
func replayUntilKilled(t *testing.T, bin, cfg, capture string, n int) []string {
	t.Helper()
	cmd := exec.Command(bin, "run", "-c", cfg, "-d", capture, "-l", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var a struct{ Type, ID string }
		if json.Unmarshal(sc.Bytes(), &a) == nil && a.Type == "alarm" {
			ids = append(ids, a.ID)
			if len(ids) == n {
				break
			}
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	return ids
}

// writeAttacks writes twelve minutes of office traffic with a SYN scan
// every minute once the detectors watch.
func writeAttacks(t *testing.T, path string) {
	t.Helper()
	c := trafficgen.DefaultConfig()
	c.Seed, c.Duration, c.Rate = 5, config.Duration(12*time.Minute), 30
	for m := 5; m < 12; m++ {
		a, err := trafficgen.ParseAttack(fmt.Sprintf("syn-scan@%dm+15s", m))
		if err != nil {
			t.Fatal(err)
		}
		c.Attacks = append(c.Attacks, a)
	}
	generateTo(t, path, c)
}

func writeQuiet(t *testing.T, path string) {
	t.Helper()
	c := trafficgen.DefaultConfig()
	c.Seed, c.Duration, c.Rate = 6, config.Duration(20*time.Second), 10
	generateTo(t, path, c)
}

func generateTo(t *testing.T, path string, c trafficgen.Config) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trafficgen.Generate(f, c); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mosquittoPath finds Debian's mosquitto (NETSPOT_TEST_MOSQUITTO in CI).
func mosquittoPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NETSPOT_TEST_MOSQUITTO"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/sbin/mosquitto", "/usr/bin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI needs mosquitto (NETSPOT_TEST_MOSQUITTO)")
	}
	t.Skip("mosquitto not installed")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startMosquitto runs a broker on port until the returned function stops it.
func startMosquitto(t *testing.T, bin string, port int) (stop func()) {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	writeFile(t, conf, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nuser root\n", port))
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// received counts the alarm ids published on a topic.
type received struct {
	mu  sync.Mutex
	got map[string]int
}

func (r *received) ids() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.got))
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

func subscribe(t *testing.T, port int, topic string) *received {
	t.Helper()
	r := &received{got: make(map[string]int)}
	o := paho.NewClientOptions().AddBroker(fmt.Sprintf("tcp://127.0.0.1:%d", port)).SetClientID("kill-test-" + strconv.Itoa(rand.Int()))
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscriber: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(topic, 2, func(_ paho.Client, m paho.Message) {
		var a struct{ ID string }
		if json.Unmarshal(m.Payload(), &a) == nil && a.ID != "" {
			r.mu.Lock()
			r.got[strings.Clone(a.ID)]++
			r.mu.Unlock()
		}
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return r
}
