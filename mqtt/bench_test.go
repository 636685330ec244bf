package mqtt

import (
	"fmt"
	"log/slog"
	"math"
	"sync/atomic"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"netspot/core/event"
)

// benchRecord has 20 statistics, like a full default configuration.
func benchRecord(k int) *event.Record {
	r := record(k)
	r.Stats = r.Stats[:0]
	for i := range 20 {
		r.Stats = append(r.Stats, event.Stat{Name: fmt.Sprintf("STAT_%02d", i), Value: float64(i) / 7, Up: 0.5 + float64(i), Down: math.NaN()})
	}
	return r
}

// BenchmarkBuildBatch is the encoding of one period's statistics
// (P/stats and 20 P/stat/<STAT> payloads).
func BenchmarkBuildBatch(b *testing.B) {
	r := benchRecord(1)
	tp := newTopics("netspot", "box1", "homeassistant")
	topics := make(map[string]string)
	var scratch []event.Stat
	b.ReportAllocs()
	for b.Loop() {
		_, scratch = buildBatch(r, nil, &tp, topics, 0, scratch)
	}
}

// BenchmarkWriteStats is what the fan-out pays per period without alarms,
// with the broker unreachable (the queue is full and drops its oldest).
func BenchmarkWriteStats(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.Broker = "tcp://127.0.0.1:1" // nothing listens on port 1
	cfg.NodeID = "box1"
	cfg.StoreDir = b.TempDir()
	s, err := newSink(cfg, testInfo(), nil, testOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := benchRecord(1)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteAlarm is the cost of storing one alarm durably (two
// fsyncs): it depends on the disk far more than on the code.
func BenchmarkWriteAlarm(b *testing.B) {
	st, err := openStore(b.TempDir(), 1000, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	a := alarm("bench", 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := st.add(fmt.Sprintf("bench-%d", i), alarmPayload(&a)); err != nil {
			b.Fatal(err)
		}
		if err := st.remove(st.head()); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDeliverAlarms measures alarms delivered per second end to end to
// an in-process broker with QoS 1: store, publish, PUBACK, remove.
func BenchmarkDeliverAlarms(b *testing.B) {
	in := newInbox()
	br := startMochi(b, freeAddr(b), in)
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.Broker = "tcp://" + br.addr
	cfg.NodeID = "box1"
	cfg.HomeAssistant = false
	cfg.StoreDir = b.TempDir()
	cfg.StoreMax = 1_000_000
	s, err := newSink(cfg, testInfo(), nil, testOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		if err := s.Write(record(n, alarm(fmt.Sprintf("d-%d", n), n))); err != nil {
			b.Fatal(err)
		}
	}
	for s.deliveredCount() < uint64(n) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alarms/s")
}

// BenchmarkWriteTenAlarms stores the ten alarms of one Record: one fsync
// per file and one of the directory for all.
func BenchmarkWriteTenAlarms(b *testing.B) {
	st, err := openStore(b.TempDir(), 100000, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	a := alarm("bench", 1)
	batch := make([]newAlarm, 10)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		for j := range batch {
			batch[j] = newAlarm{id: fmt.Sprintf("bench-%d-%d", i, j), payload: alarmPayload(&a)}
		}
		if err := st.addAll(batch); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkPublishRecords measures periods published per second end to end
// to an in-process broker (QoS 0, 21 messages per period), with the queue
// large enough that nothing is dropped.
func BenchmarkPublishRecords(b *testing.B) {
	br := startMochi(b, freeAddr(b), newInbox())
	var got atomic.Int64
	if err := br.srv.Subscribe("netspot/box1/stats", 2, func(*mochi.Client, packets.Subscription, packets.Packet) { got.Add(1) }); err != nil {
		b.Fatal(err)
	}
	_ = br.srv.Unsubscribe("#", 1) // the recording inbox would grow with b.N
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.Broker = "tcp://" + br.addr
	cfg.NodeID = "box1"
	cfg.HomeAssistant = false
	cfg.StoreDir = b.TempDir()
	cfg.StatsQueue = maxStatsQueue
	s, err := newSink(cfg, testInfo(), nil, testOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for ok, _ := s.Connected(); !ok; ok, _ = s.Connected() {
		time.Sleep(time.Millisecond)
	}
	r := benchRecord(1)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := s.Write(r); err != nil {
			b.Fatal(err)
		}
		n++
	}
	for got.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	if s.Dropped() != 0 {
		b.Fatalf("%d periods dropped", s.Dropped())
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "periods/s")
}
