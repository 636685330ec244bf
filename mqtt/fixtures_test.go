package mqtt

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"netspot/core/config"
	"netspot/core/event"
)

// waitFor is the longest a test waits for something that should happen
// within milliseconds; it only bounds a failing test.
const waitFor = 20 * time.Second

// received is one message seen by a test subscriber.
type received struct {
	topic   string
	payload string
	retain  bool
	qos     byte
}

// inbox collects messages and lets a test wait for a condition on them.
type inbox struct {
	mu     sync.Mutex
	msgs   []received
	notify chan struct{}
}

func newInbox() *inbox { return &inbox{notify: make(chan struct{}, 1)} }

func (in *inbox) add(m received) {
	in.mu.Lock()
	in.msgs = append(in.msgs, m)
	in.mu.Unlock()
	select {
	case in.notify <- struct{}{}:
	default:
	}
}

// on returns the payloads received on topic, in order.
func (in *inbox) on(topic string) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, m := range in.msgs {
		if m.topic == topic {
			out = append(out, m.payload)
		}
	}
	return out
}

// countQoS returns how many messages arrived with QoS 1 or 2.
func (in *inbox) countQoS() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, m := range in.msgs {
		if m.qos > 0 {
			n++
		}
	}
	return n
}

// prefixed returns the messages whose topic starts with prefix.
func (in *inbox) prefixed(prefix string) []received {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []received
	for _, m := range in.msgs {
		if strings.HasPrefix(m.topic, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// waitUntil waits until cond holds, failing the test after waitFor.
func (in *inbox) waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-in.notify:
		case <-tick.C:
		case <-deadline.C:
			in.mu.Lock()
			n := len(in.msgs)
			in.mu.Unlock()
			t.Fatalf("timed out waiting for %s (%d messages received)", what, n)
		}
	}
}

// eventually polls cond until it holds, failing after waitFor.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testBroker is an in-process mochi broker whose inline client records
// every message published by clients.
type testBroker struct {
	srv  *mochi.Server
	addr string
	in   *inbox
	once sync.Once
}

// stop closes the broker and every connection to it.
func (b *testBroker) stop() { b.once.Do(func() { _ = b.srv.Close() }) }

func startMochi(t testing.TB, addr string, in *inbox) *testBroker {
	t.Helper()
	return startMochiOn(t, listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr}), addr, in)
}

// startMochiOn starts the broker on l, which listens on addr.
func startMochiOn(t testing.TB, l listeners.Listener, addr string, in *inbox) *testBroker {
	t.Helper()
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(l); err != nil {
		t.Fatalf("mochi listen %s: %v", addr, err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	err := srv.Subscribe("#", 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		in.add(received{topic: pk.TopicName, payload: string(pk.Payload), retain: pk.FixedHeader.Retain, qos: pk.FixedHeader.Qos})
	})
	if err != nil {
		t.Fatal(err)
	}
	b := &testBroker{srv: srv, addr: addr, in: in}
	t.Cleanup(b.stop)
	return b
}

// retained returns the broker's retained payload on topic, or "" if none.
func (b *testBroker) retained(topic string) string {
	for _, pk := range b.srv.Topics.Messages(topic) {
		if pk.TopicName == topic {
			return string(pk.Payload)
		}
	}
	return ""
}

// publish sends a message as the broker's inline client.
func (b *testBroker) publish(t testing.TB, topic, payload string, retain bool) {
	t.Helper()
	if err := b.srv.Publish(topic, []byte(payload), retain, 1); err != nil {
		t.Fatal(err)
	}
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// testConfig returns an enabled config for a broker at addr (host:port or
// URL) with a fresh store.
func testConfig(t *testing.T, broker string) Config {
	t.Helper()
	if !strings.Contains(broker, "://") {
		broker = "tcp://" + broker
	}
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.Broker = broker
	cfg.NodeID = "box1"
	cfg.StoreDir = t.TempDir()
	cfg.KeepAlive = config.Duration(2 * time.Second)
	cfg.ConnectTimeout = config.Duration(2 * time.Second)
	cfg.ReconnectMax = config.Duration(time.Second)
	return cfg
}

// testOptions reconnect fast so that tests do not wait for real seconds.
func testOptions() options {
	return options{retryMin: 20 * time.Millisecond, ackTimeout: 5 * time.Second, hostname: func() (string, error) { return "testhost", nil }}
}

func testInfo() Info {
	return Info{Version: "1.2.3", Stats: []StatInfo{
		{Name: "R_SYN", Unit: ""},
		{Name: "TRAFFIC", Unit: "pkt/s"},
	}}
}

// logSink collects log records so tests can wait for a logged state change.
type logSink struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSink) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logSink) WithGroup(string) slog.Handler            { return l }
func (l *logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}

func (l *logSink) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

func (l *logSink) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

func newTestSink(t *testing.T, cfg Config, ls *logSink) *Sink {
	t.Helper()
	var log *slog.Logger
	if ls != nil {
		log = slog.New(ls)
	}
	s, err := newSink(cfg, testInfo(), log, testOptions())
	if err != nil {
		t.Fatalf("newSink: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// record returns the Record of window k with the given alarms raised.
func record(k int, alarms ...event.Alarm) *event.Record {
	start := t0.Add(time.Duration(k) * time.Second)
	r := &event.Record{
		Start: start, End: start.Add(time.Second), Packets: uint64(100 + k),
		Stats: []event.Stat{
			{Name: "R_SYN", Value: 0.25, Up: 0.5, Down: math.NaN()},
			{Name: "TRAFFIC", Value: float64(k), Up: math.NaN(), Down: math.NaN(), Learning: true},
		},
		Alarms: alarms,
	}
	for _, a := range alarms {
		for i := range r.Stats {
			if r.Stats[i].Name == a.Stat {
				r.Stats[i].AlarmID = a.ID
			}
		}
	}
	return r
}

func alarm(id string, k int) event.Alarm {
	start := t0.Add(time.Duration(k) * time.Second)
	return event.Alarm{ID: id, Stat: "R_SYN", Side: event.Up, Value: 0.9, Threshold: 0.5, Probability: 1e-6, Start: start, End: start.Add(time.Second)}
}

// alarmIDs extracts the ids of alarm payloads, in order.
func alarmIDs(payloads []string) []string {
	ids := make([]string, 0, len(payloads))
	for _, p := range payloads {
		_, rest, ok := strings.Cut(p, `"id":"`)
		id, _, _ := strings.Cut(rest, `"`)
		if !ok {
			id = "?" + p
		}
		ids = append(ids, id)
	}
	return ids
}

func seqIDs(prefix string, from, to int) []string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, fmt.Sprintf("%s%03d", prefix, i))
	}
	return ids
}
