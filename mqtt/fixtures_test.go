package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
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
	"netspot/core/event/eventtest"
	"netspot/core/sink"
	"netspot/core/sink/sinktest"
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
func (b *testBroker) stop() {
	b.once.Do(func() {
		_ = b.srv.Close()
		disconnectAll(b.srv, "") // a client that was being attached meanwhile
	})
}

// disconnectAll disconnects the clients of listener id ("": every one).
func disconnectAll(srv *mochi.Server, id string) {
	for _, cl := range srv.Clients.GetAll() {
		if (id == "" || cl.Net.Listener == id) && !cl.Closed() {
			_ = srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

// safeClose works around a deadlock of mochi v2.7.9 (mochi-mqtt/server
// issue 488): its Close takes the clients' read lock twice over, and a
// client connecting at that moment leaves the broker stuck for ever. The
// listener's clients are disconnected here instead, under one lock.
type safeClose struct {
	listeners.Listener
	srv *mochi.Server
}

func (l safeClose) Close(listeners.CloseFn) {
	l.Listener.Close(func(id string) { disconnectAll(l.srv, id) })
}

// startMochi starts a broker on addr, or on a port of its own when addr
// is empty (no other process can take it meanwhile).
func startMochi(t testing.TB, addr string, in *inbox) *testBroker {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("mochi listen %s: %v", addr, err)
	}
	return startMochiOn(t, listeners.NewNet("tcp", l), l.Addr().String(), in)
}

// startMochiOn starts the broker on l, which listens on addr.
func startMochiOn(t testing.TB, l listeners.Listener, addr string, in *inbox) *testBroker {
	t.Helper()
	srv := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	// Subscribed before serving: a client waiting for the broker (the
	// sink retrying) may publish as soon as it accepts connections.
	err := srv.Subscribe("#", 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		if !strings.HasPrefix(pk.TopicName, "$") { // the broker's own $SYS topics
			in.add(received{topic: pk.TopicName, payload: string(pk.Payload), retain: pk.FixedHeader.Retain, qos: pk.FixedHeader.Qos})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(safeClose{Listener: l, srv: srv}); err != nil {
		t.Fatalf("mochi listen %s: %v", addr, err)
	}
	if err := srv.Serve(); err != nil {
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

// downAddr returns a loopback address where connections are refused, as
// to a broker that is down, until up is called: then the test starts its
// broker there at once.
func downAddr(t testing.TB) (addr string, up func()) {
	t.Helper()
	return reserve(t, "127.0.0.1:0")
}

// freeAddr returns a loopback address with a port nobody listens on now,
// for a broker started at once.
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
func testConfig(t testing.TB, broker string) Config {
	t.Helper()
	if !strings.Contains(broker, "://") {
		broker = "tcp://" + broker
	}
	cfg := DefaultConfig()
	cfg.Enable = true
	cfg.Broker = broker
	cfg.NodeID = "box1"
	cfg.StoreDir = t.TempDir()
	cfg.KeepAlive = config.Duration(2 * time.Second)
	cfg.ConnectTimeout = config.Duration(2 * time.Second)
	cfg.ReconnectMax = config.Duration(time.Second)
	return cfg
}

// testOptions bound the wait for an acknowledgement well below the test
// timeout, and name the host.
func testOptions() options {
	return options{ackTimeout: 5 * time.Second, hostname: func() (string, error) { return "testhost", nil }}
}

// watched are the statistics of the test Records.
var watched = []sink.StatInfo{{Name: "R_SYN", Unit: ""}, {Name: "TRAFFIC", Unit: "pkt/s"}}

// testLog returns a logger whose text lines a test reads from the buffer.
func testLog() (*slog.Logger, *sinktest.Buffer) {
	buf := &sinktest.Buffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// count returns how many lines of the log hold substr.
func count(log *sinktest.Buffer, substr string) int {
	n := 0
	for _, l := range strings.Split(log.String(), "\n") {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func testEnv(log *slog.Logger) sink.Env {
	return sink.Env{Log: log.With("sink", "mqtt"), Watched: watched, Version: "1.2.3", Series: "test"}
}

// newTestSink opens a sink with cfg, logging to log; the test closes it
// (through its rig, or itself).
func newTestSink(t testing.TB, cfg Config, log *slog.Logger) *Sink {
	t.Helper()
	s, err := newSink(cfg, testEnv(log), testOptions())
	if err != nil {
		t.Fatalf("newSink: %v", err)
	}
	return s
}

// rig is a sink behind a real fan-out, as the pipeline runs it, with fast
// retries: 20ms doubling up to 200ms.
type rig struct {
	t      testing.TB
	cfg    Config
	s      *Sink
	f      *sink.FanOut
	log    *sinktest.Buffer
	closed bool
}

// retryFast shapes the queue of a rig.
func retryFast(cfg Config) sink.QueueOptions {
	q := cfg.Queue()
	q.RetryMin, q.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	return q
}

func openRig(t testing.TB, cfg Config, mode sink.Mode) *rig {
	return openRigWith(t, cfg, mode, retryFast(cfg), testOptions())
}

func openRigWith(t testing.TB, cfg Config, mode sink.Mode, q sink.QueueOptions, opts options) *rig {
	t.Helper()
	log, buf := testLog()
	s, err := newSink(cfg, testEnv(log), opts)
	if err != nil {
		t.Fatalf("newSink: %v", err)
	}
	f := sink.NewFanOut(log, mode)
	f.Add("mqtt", s, q)
	r := &rig{t: t, cfg: cfg, s: s, f: f, log: buf}
	t.Cleanup(func() {
		_ = r.closeWithin(time.Second)
		if t.Failed() {
			t.Logf("log of the sink and its fan-out:\n%s", buf)
		}
	})
	return r
}

// publish hands the Records to the fan-out, as the analyzer does.
func (r *rig) publish(recs ...*event.Record) {
	for _, rec := range recs {
		r.f.Publish(context.Background(), rec)
	}
}

// stats returns the fan-out's counters of the sink.
func (r *rig) stats() sink.QueueStats { return r.f.Stats()[0] }

// close lets the fan-out deliver what is queued, then closes the sink.
func (r *rig) close() error { return r.closeWithin(waitFor) }

// closeWithin gives the fan-out d to deliver what is queued: with the
// broker away, what is left is given up and the sink closed.
func (r *rig) closeWithin(d time.Duration) error {
	if r.closed {
		return nil
	}
	r.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return r.f.Close(ctx)
}

// record returns the Record of window k, with an alarm raised on R_SYN for
// each id.
func record(k int, ids ...string) *event.Record {
	r := eventtest.Record(k, eventtest.Stat("R_SYN", 0.25, 0.5),
		event.Stat{Name: "TRAFFIC", Value: float64(k), Up: math.NaN(), Down: math.NaN(), Learning: true})
	for _, id := range ids {
		eventtest.Raise(r, id, "R_SYN", 0.9, 0.5)
	}
	return r
}

// alarmRecords returns the Records of windows from..to, each raising the
// alarm prefix+window (seqIDs).
func alarmRecords(prefix string, from, to int) []*event.Record {
	var out []*event.Record
	for k := from; k <= to; k++ {
		out = append(out, record(k, seqIDs(prefix, k, k)...))
	}
	return out
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

// windows returns the start times of the P/stats payloads, in order.
func windows(payloads []string) []string {
	out := make([]string, 0, len(payloads))
	for _, p := range payloads {
		_, rest, _ := strings.Cut(p, `"start":"`)
		start, _, _ := strings.Cut(rest, `"`)
		out = append(out, start)
	}
	return out
}

// windowStart is the start of window k as P/stats writes it.
func windowStart(k int) string {
	return eventtest.T0.Add(time.Duration(k) * time.Second).Format(time.RFC3339)
}

// storedOnDisk returns the ids of the alarms in dir's files, as a restart
// would find them: dir is copied (a snapshot of the card at this instant)
// and the copy opened as a store.
func storedOnDisk(t testing.TB, dir string) []string {
	t.Helper()
	ids, err := snapshotStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// snapshotStore is storedOnDisk for any goroutine.
func snapshotStore(dir string) ([]string, error) {
	snap, err := os.MkdirTemp("", "netspot-mqtt-snapshot-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(snap)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if e.IsDir() || e.Name() == lockFileName {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // delivered meanwhile
		}
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(snap, e.Name()), b, 0o600); err != nil {
			return nil, err
		}
	}
	st, err := openStore(snap, maxStoreMax, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer st.close()
	return storedIDs(st), nil
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
