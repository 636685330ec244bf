package api

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"netspot/core/event"
)

// benchRecord is a window with the default statistics' count (10).
func benchRecord(i int) *event.Record {
	start := t0.Add(time.Duration(i) * time.Second)
	r := &event.Record{Start: start, End: start.Add(time.Second), Packets: 1234}
	for j := range 10 {
		r.Stats = append(r.Stats, event.Stat{Name: fmt.Sprintf("STAT_%d", j), Value: float64(i%97) / 7, Up: 12.5, Down: math.NaN()})
	}
	return r
}

// What one record costs the pipeline's API sink, with live clients that
// keep up: the benchmark drains their queues after each record, as their
// stream handlers would.
func BenchmarkFeedWrite(b *testing.B) {
	for _, clients := range []int{0, 1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			f := testFeed(DefaultConfig())
			var subs []*subscriber
			for range clients {
				s, _, err := f.subscribe("", allKinds)
				if err != nil {
					b.Fatal(err)
				}
				subs = append(subs, s)
			}
			sink := f.beginRun(1)
			recs := make([]*event.Record, 1024)
			for i := range recs {
				recs[i] = benchRecord(i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				_ = sink.Write(recs[i%len(recs)])
				for _, s := range subs {
					<-s.ch
				}
			}
			b.StopTimer()
			if _, _, st := f.snapshot(); st.Dropped > 0 {
				b.Fatalf("%d clients dropped", st.Dropped)
			}
		})
	}
}

func BenchmarkAppendRecordJSON(b *testing.B) {
	r := benchRecord(1)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendRecordJSON(buf[:0], 1, 1, r)
	}
	b.SetBytes(int64(len(buf)))
}

// GET /api/v1/records with the default history full (600 records).
func BenchmarkRecordsEndpoint(b *testing.B) {
	s, err := New(DefaultConfig(), &fakeRunner{}, Options{Epoch: "e1"})
	if err != nil {
		b.Fatal(err)
	}
	sink := s.feed.beginRun(1)
	for i := range 600 {
		_ = sink.Write(benchRecord(i))
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/records", nil)
	req.Host = "localhost"
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
