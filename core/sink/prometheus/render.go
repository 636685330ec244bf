package prometheus

import (
	"math"
	"runtime/metrics"

	"netspot/core/sink"
)

// render appends the exposition of the current state.
func (s *Sink) render(b []byte, queues []sink.QueueStats) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != "" {
		b = family(b, "netspot_build_info", "gauge", "Always 1; the version label is the running netspot's.")
		b = sample(b, "netspot_build_info", 1, label{"version", s.version})
	}
	b = family(b, "netspot_windows_total", "counter", "Windows (periods) analysed.")
	b = sample(b, "netspot_windows_total", float64(s.windows))
	if s.windows > 0 {
		b = family(b, "netspot_last_window_end_timestamp_seconds", "gauge", "End of the last window analysed, in seconds since the epoch.")
		b = sample(b, "netspot_last_window_end_timestamp_seconds", float64(s.lastEnd.UnixNano())/1e9)
		b = family(b, "netspot_learning_windows_left", "gauge", "Windows until every detector watches; 0 once all are calibrated.")
		b = sample(b, "netspot_learning_windows_left", float64(s.learningLeft))
	}
	b = family(b, "netspot_packets_total", "counter", "Frames seen by capture.")
	b = sample(b, "netspot_packets_total", float64(s.packets))
	b = family(b, "netspot_packets_dropped_total", "counter", "Frames the kernel dropped before capture could read them.")
	b = sample(b, "netspot_packets_dropped_total", float64(s.dropped))
	b = family(b, "netspot_packets_malformed_total", "counter", "Frames that could not be decoded.")
	b = sample(b, "netspot_packets_malformed_total", float64(s.malformed))
	b = family(b, "netspot_capture_failing", "gauge", "1 when capture reported an error in the last window.")
	b = sample(b, "netspot_capture_failing", bool01(s.captureFailing))
	b = family(b, "netspot_capture_failed_windows_total", "counter", "Windows during which capture reported an error.")
	b = sample(b, "netspot_capture_failed_windows_total", float64(s.failedWindows))

	if len(s.stats) > 0 {
		b = s.renderStats(b)
	}
	if len(s.alarmKeys) > 0 {
		b = s.renderAlarms(b)
	}
	if len(queues) > 0 {
		b = renderQueues(b, queues)
	}
	return s.renderRuntime(b)
}

func (s *Sink) renderStats(b []byte) []byte {
	// A family with no sample is left out.
	head := false
	for _, st := range s.stats {
		if defined(st.value) {
			if !head {
				b = family(b, "netspot_stat_value", "gauge", "Latest value of each statistic; absent while undefined (0/0).")
				head = true
			}
			b = sample(b, "netspot_stat_value", st.value, label{"stat", st.name})
		}
	}
	head = false
	for _, st := range s.stats {
		for _, th := range []struct {
			side  string
			value float64
		}{{"up", st.up}, {"down", st.down}} {
			if !defined(th.value) {
				continue
			}
			if !head {
				b = family(b, "netspot_stat_threshold", "gauge", "Alarm threshold of each statistic and side for the next window; absent while the side is not watched or still learning.")
				head = true
			}
			b = sample(b, "netspot_stat_threshold", th.value, label{"stat", st.name}, label{"side", th.side})
		}
	}
	b = family(b, "netspot_stat_learning", "gauge", "1 while a detector of the statistic is still calibrating.")
	for _, st := range s.stats {
		b = sample(b, "netspot_stat_learning", bool01(st.learning), label{"stat", st.name})
	}
	b = family(b, "netspot_stat_alarm_active", "gauge", "1 while the statistic has an active alarm.")
	for _, st := range s.stats {
		b = sample(b, "netspot_stat_alarm_active", bool01(st.alarm), label{"stat", st.name})
	}
	return b
}

func (s *Sink) renderAlarms(b []byte) []byte {
	b = family(b, "netspot_alarms_total", "counter", "Alarms raised, by statistic and side.")
	for _, k := range s.alarmKeys {
		b = sample(b, "netspot_alarms_total", float64(s.alarms[k].n), label{"stat", k.stat}, label{"side", k.side.String()})
	}
	head := false
	for _, k := range s.alarmKeys {
		c := s.alarms[k]
		if c.n == 0 {
			continue
		}
		if !head {
			b = family(b, "netspot_alarm_last_timestamp_seconds", "gauge", "End of the window of the last alarm, by statistic and side, in seconds since the epoch.")
			head = true
		}
		b = sample(b, "netspot_alarm_last_timestamp_seconds", float64(c.last.UnixNano())/1e9, label{"stat", k.stat}, label{"side", k.side.String()})
	}
	return b
}

func renderQueues(b []byte, queues []sink.QueueStats) []byte {
	for _, f := range []struct {
		name, typ, help string
		value           func(q *sink.QueueStats) float64
	}{
		{"netspot_sink_records_delivered_total", "counter", "Records each sink wrote without error.",
			func(q *sink.QueueStats) float64 { return float64(q.Delivered) }},
		{"netspot_sink_records_failed_total", "counter", "Records each sink failed to write (not retried by the fan-out).",
			func(q *sink.QueueStats) float64 { return float64(q.Failed) }},
		{"netspot_sink_records_dropped_total", "counter", "Records dropped because the sink's queue was full.",
			func(q *sink.QueueStats) float64 { return float64(q.DroppedRecords) }},
		{"netspot_sink_alarms_dropped_total", "counter", "Alarms lost with dropped records.",
			func(q *sink.QueueStats) float64 { return float64(q.DroppedAlarms) }},
		{"netspot_sink_queue_records", "gauge", "Records waiting in each sink's queue.",
			func(q *sink.QueueStats) float64 { return float64(q.Queued) }},
	} {
		b = family(b, f.name, f.typ, f.help)
		for i := range queues {
			b = sample(b, f.name, f.value(&queues[i]), label{"sink", queues[i].Name})
		}
	}
	return b
}

// renderRuntime exposes the Go runtime figures that show a leak, under the
// names the official client uses, so that existing dashboards work.
func (s *Sink) renderRuntime(b []byte) []byte {
	metrics.Read(s.runtime)
	for i, f := range []struct{ name, help string }{
		{"go_goroutines", "Number of goroutines that currently exist."},
		{"go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use."},
		{"go_memstats_sys_bytes", "Number of bytes obtained from system."},
	} {
		if v := s.runtime[i].Value; v.Kind() == metrics.KindUint64 {
			b = family(b, f.name, "gauge", f.help)
			b = sample(b, f.name, float64(v.Uint64()))
		}
	}
	return b
}

func defined(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func bool01(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
