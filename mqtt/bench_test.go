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
	"netspot/core/sink"
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

// BenchmarkPersistAlarm is the cost of storing one alarm durably (two
// fsyncs) and removing it once delivered (one more): it depends on the
// disk far more than on the code.
func BenchmarkPersistAlarm(b *testing.B) {
	st, err := openStore(b.TempDir(), 1000, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	a := record(1, "bench").Alarms[0]
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

// BenchmarkDeliverAlarms measures alarms delivered per second end to end
// (until the last is acknowledged) to an in-process broker with QoS 1,
// through the fan-out of a replay: store, publish, PUBACK, remove, then
// the period's statistics.
func BenchmarkDeliverAlarms(b *testing.B) {
	br := startMochi(b, "", newInbox())
	_ = br.srv.Unsubscribe("#", 1) // the recording inbox would grow with b.N
	cfg := testConfig(b, br.addr)
	cfg.HomeAssistant = false
	cfg.StoreMax = 1_000_000
	rg := openRig(b, cfg, sink.Replay)
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		n++
		rg.publish(record(n, fmt.Sprintf("d-%d", n)))
	}
	if err := rg.close(); err != nil {
		b.Fatal(err)
	}
	if d := rg.s.deliveredCount(); d != uint64(n) {
		b.Fatalf("%d alarms delivered of %d", d, n)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "alarms/s")
}

// BenchmarkPersistTenAlarms stores the ten alarms of one Record: one fsync
// per file and one of the directory for all.
func BenchmarkPersistTenAlarms(b *testing.B) {
	st, err := openStore(b.TempDir(), 100000, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer st.close()
	a := record(1, "bench").Alarms[0]
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
// (until the broker has them all) to an in-process broker (QoS 0, 21
// messages per period), through the fan-out of a replay, which loses none.
func BenchmarkPublishRecords(b *testing.B) {
	br := startMochi(b, "", newInbox())
	var got atomic.Int64
	if err := br.srv.Subscribe("netspot/box1/stats", 2, func(*mochi.Client, packets.Subscription, packets.Packet) { got.Add(1) }); err != nil {
		b.Fatal(err)
	}
	_ = br.srv.Unsubscribe("#", 1) // the recording inbox would grow with b.N
	cfg := testConfig(b, br.addr)
	cfg.HomeAssistant = false
	rg := openRig(b, cfg, sink.Replay)
	r := benchRecord(1)
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		rg.publish(r)
		n++
	}
	if err := rg.close(); err != nil {
		b.Fatal(err)
	}
	for got.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	if st := rg.stats(); st.DroppedRecords != 0 || st.Delivered != uint64(n) {
		b.Fatalf("fan-out counters %+v after %d periods", st, n)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "periods/s")
}
