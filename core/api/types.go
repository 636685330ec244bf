package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"netspot/core/config"
	"netspot/core/event"
)

// The types below are the API's JSON documents, shared with the client
// package. Records and alarms are written by hand (the event package's
// appenders, NaN as null) because they are sent at every period to every
// live client; the rest goes through encoding/json.

// State is what the pipeline is doing.
type State string

const (
	Stopped  State = "stopped"  // never started, stopped on request, or its capture file ended
	Starting State = "starting" // Run called, capture not started yet
	Learning State = "learning" // capturing; some detectors still calibrate
	Watching State = "watching" // capturing; every detector watches
	Stopping State = "stopping" // stop requested, sinks flushing
	Failed   State = "failed"   // the last run ended with an error
)

// Status is the answer of GET /api/v1/status.
type Status struct {
	State   State  `json:"state"`
	Running bool   `json:"running"` // starting, learning, watching or stopping
	Version string `json:"version"`
	// Uptime is how long the server has run, in seconds.
	Uptime float64 `json:"uptime_seconds"`
	// Config summarizes the configuration the next start uses.
	Config ConfigSummary `json:"config"`
	// RestartRequired is set when the configuration changed since the
	// running pipeline started: the change applies at the next start.
	RestartRequired bool `json:"restart_required"`
	// ReadOnly is set when changes through the API are refused (TCP
	// without a token), with why and what to do.
	ReadOnly       bool   `json:"read_only"`
	ReadOnlyReason string `json:"read_only_reason,omitempty"`
	// Run is the current run, or the last one; null before the first.
	Run    *RunStatus  `json:"run"`
	Sinks  []SinkStats `json:"sinks,omitempty"`
	Stream StreamStats `json:"stream"`
}

// ConfigSummary is the part of a configuration the status shows.
type ConfigSummary struct {
	Device string          `json:"device"`
	Period config.Duration `json:"period"`
	Stats  []string        `json:"stats"`
}

// How a run ended.
const (
	EndStopped  = "stopped"  // on request (or when the server stopped)
	EndFinished = "finished" // the capture file ended
	EndFailed   = "failed"   // capture or a sink failed
)

// RunStatus describes one run of the pipeline.
type RunStatus struct {
	ID      int           `json:"id"` // counts the runs of this server from 1
	Config  ConfigSummary `json:"config"`
	Started time.Time     `json:"started"`
	// Uptime is how long it has run (until it ended), in seconds.
	Uptime float64    `json:"uptime_seconds"`
	Ended  *time.Time `json:"ended,omitempty"`
	End    string     `json:"end,omitempty"` // EndStopped, EndFinished or EndFailed once ended
	Error  string     `json:"error,omitempty"`

	Windows   uint64 `json:"windows"` // records received
	Packets   uint64 `json:"packets"`
	Dropped   uint64 `json:"dropped"`
	Malformed uint64 `json:"malformed"`
	// LearningLeft is the number of windows until every detector
	// watches; null until the first window.
	LearningLeft *int `json:"learning_left"`
	// LearningTotal is LearningLeft at the start of the run, for a
	// progress bar; 0 when the detectors were restored already trained.
	LearningTotal int        `json:"learning_total"`
	LastWindowEnd *time.Time `json:"last_window_end,omitempty"` // on the capture's clock
	CaptureError  string     `json:"capture_error,omitempty"`   // of the last window
	ActiveAlarms  int        `json:"active_alarms"`
}

// SinkStats is how one sink of the pipeline keeps up (sink.QueueStats).
type SinkStats struct {
	Name           string `json:"name"`
	Queued         int    `json:"queued"`
	Delivered      uint64 `json:"delivered"`
	Failed         uint64 `json:"failed"`
	DroppedRecords uint64 `json:"dropped_records"`
	DroppedAlarms  uint64 `json:"dropped_alarms"`
}

// StreamStats describes the live stream's clients.
type StreamStats struct {
	Clients int `json:"clients"`
	// Dropped counts clients disconnected for falling behind.
	Dropped uint64 `json:"dropped"`
}

// Statistic is one entry of GET /api/v1/stats.
type Statistic struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Kind is what the values are: "ratio" (a share, 0 to 1), "count"
	// (things seen in a window), "rate" (per second), "average" or
	// "machine" (a measure of this machine) or "event" (events normal
	// traffic hardly ever produces); the dashboard labels its
	// axes with it when Unit is empty.
	Kind    string `json:"kind"`
	Help    string `json:"help"`
	Watched bool   `json:"watched"` // by the current configuration
	Default bool   `json:"default"` // watched when the configuration names none
	// Informational statistics describe this machine, not the network:
	// they are reported but never judged.
	Informational bool `json:"informational"`
}

// Device is a network interface that netspot can capture from.
type Device struct {
	Name      string   `json:"name"`
	Index     int      `json:"index"` // 0 for "any"
	MTU       int      `json:"mtu,omitempty"`
	MAC       string   `json:"mac,omitempty"`
	Up        bool     `json:"up"`
	Loopback  bool     `json:"loopback"`
	Flags     []string `json:"flags"`
	Addresses []string `json:"addresses"`
}

// ConfigResult is the answer of a configuration change.
type ConfigResult struct {
	// DryRun is set when the configuration was only checked.
	DryRun bool `json:"dry_run"`
	// RestartRequired is set when the pipeline runs with the previous
	// configuration: the change applies at the next start.
	RestartRequired bool           `json:"restart_required"`
	Config          map[string]any `json:"config"`
}

// Health is the answer of GET /api/v1/health.
type Health struct {
	Status   string   `json:"status"` // "ok" or "failing"
	State    State    `json:"state"`
	Problems []string `json:"problems"`
}

// RecordList is the answer of GET /api/v1/records.
type RecordList struct {
	// LastID is the stream position of the newest event: a stream opened
	// with it as Last-Event-ID continues without a gap.
	LastID    string   `json:"last_id"`
	Truncated bool     `json:"truncated"` // older records after since were left out
	Records   []Record `json:"records"`   // oldest first
}

// AlarmList is the answer of GET /api/v1/alarms.
type AlarmList struct {
	Active  []Alarm `json:"active"`  // oldest first
	History []Alarm `json:"history"` // newest first, active ones included
}

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Error    string        `json:"error"`
	Problems []ConfigError `json:"problems,omitempty"` // configuration problems, one per key
}

// Record is one window as the API sends it: the analyzer's Record with its
// place in the stream.
type Record struct {
	Seq uint64 // position in the server's stream
	Run int    // run that produced it
	event.Record
}

// Alarm is an alarm as the API sends it: the analyzer's Alarm with what
// happened since.
type Alarm struct {
	Seq    uint64 // position in the server's stream
	Run    int
	Active bool // the excursion goes on
	// Cleared is the end of the window in which the statistic returned to
	// normal; zero while active, or when the run stopped first.
	Cleared time.Time
	// Peak is the most extreme value of the excursion: the highest for
	// an upper alarm, the lowest for a lower one.
	Peak float64
	// Windows counts the windows the alarm has been active in.
	Windows int
	event.Alarm
}

// appendRecordJSON writes r as a JSON object: the event package's data
// record with "seq" and "run" first.
func appendRecordJSON(b []byte, seq uint64, run int, r *event.Record) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"run":`...)
	b = strconv.AppendInt(b, int64(run), 10)
	b = append(b, ',')
	return appendWithoutBrace(b, func(b []byte) []byte { return event.AppendDataJSON(b, r) })
}

// appendAlarmJSON writes a as a JSON object: the event package's alarm with
// its history first.
func appendAlarmJSON(b []byte, a *Alarm) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, a.Seq, 10)
	b = append(b, `,"run":`...)
	b = strconv.AppendInt(b, int64(a.Run), 10)
	b = append(b, `,"active":`...)
	b = strconv.AppendBool(b, a.Active)
	b = append(b, `,"cleared":`...)
	if a.Cleared.IsZero() {
		b = append(b, "null"...)
	} else {
		b = event.AppendTime(b, a.Cleared)
	}
	b = append(b, `,"peak":`...)
	b = event.AppendFloat(b, a.Peak)
	b = append(b, `,"windows":`...)
	b = strconv.AppendInt(b, int64(a.Windows), 10)
	b = append(b, ',')
	return appendWithoutBrace(b, func(b []byte) []byte { return event.AppendAlarmJSON(b, &a.Alarm) })
}

// appendWithoutBrace appends an object written by f without its opening
// brace, to continue the object already open in b.
func appendWithoutBrace(b []byte, f func([]byte) []byte) []byte {
	mark := len(b)
	b = f(b)
	copy(b[mark:], b[mark+1:])
	return b[:len(b)-1]
}

// MarshalJSON writes the record as the API does.
func (r Record) MarshalJSON() ([]byte, error) {
	return appendRecordJSON(nil, r.Seq, r.Run, &r.Record), nil
}

// MarshalJSON writes the alarm as the API does.
func (a Alarm) MarshalJSON() ([]byte, error) {
	return appendAlarmJSON(nil, &a), nil
}

// nullFloat reads a JSON number or null (NaN).
type nullFloat float64

func (f *nullFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = nullFloat(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("not a number: %.40s", b)
	}
	*f = nullFloat(v)
	return nil
}

type statJSON struct {
	Value    nullFloat `json:"value"`
	Up       nullFloat `json:"up"`
	Down     nullFloat `json:"down"`
	Alarm    bool      `json:"alarm"`
	AlarmID  string    `json:"alarm_id"`
	Learning bool      `json:"learning"`
}

// orderedStats reads the "stats" object of a record in document order.
type orderedStats []event.Stat

func (s *orderedStats) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New(`"stats" is not an object`)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		st := statJSON{Value: nullFloat(math.NaN()), Up: nullFloat(math.NaN()), Down: nullFloat(math.NaN())}
		if err := dec.Decode(&st); err != nil {
			return fmt.Errorf("stats.%s: %w", name, err)
		}
		*s = append(*s, event.Stat{Name: name, Value: float64(st.Value), Up: float64(st.Up), Down: float64(st.Down),
			Learning: st.Learning, AlarmID: st.AlarmID})
	}
	return nil
}

// UnmarshalJSON reads a record written by the API.
func (r *Record) UnmarshalJSON(b []byte) error {
	var w struct {
		Seq          uint64       `json:"seq"`
		Run          int          `json:"run"`
		Type         string       `json:"type"`
		Start        time.Time    `json:"start"`
		End          time.Time    `json:"end"`
		Partial      bool         `json:"partial"`
		LearningLeft int          `json:"learning_left"`
		Packets      uint64       `json:"packets"`
		Dropped      uint64       `json:"dropped"`
		Malformed    uint64       `json:"malformed"`
		CaptureErr   string       `json:"capture_error"`
		Stats        orderedStats `json:"stats"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	if w.Type != "data" {
		return fmt.Errorf("record: type %q, want \"data\"", w.Type)
	}
	*r = Record{Seq: w.Seq, Run: w.Run, Record: event.Record{
		Start: w.Start, End: w.End, Partial: w.Partial, Stats: w.Stats, LearningLeft: w.LearningLeft,
		Packets: w.Packets, Dropped: w.Dropped, Malformed: w.Malformed, CaptureErr: w.CaptureErr,
	}}
	return nil
}

// UnmarshalJSON reads an alarm written by the API.
func (a *Alarm) UnmarshalJSON(b []byte) error {
	var w struct {
		Seq         uint64     `json:"seq"`
		Run         int        `json:"run"`
		Active      bool       `json:"active"`
		Cleared     *time.Time `json:"cleared"`
		Peak        nullFloat  `json:"peak"`
		Windows     int        `json:"windows"`
		Type        string     `json:"type"`
		ID          string     `json:"id"`
		Stat        string     `json:"stat"`
		Side        event.Side `json:"side"`
		Value       nullFloat  `json:"value"`
		Threshold   nullFloat  `json:"threshold"`
		Probability nullFloat  `json:"probability"`
		Start       time.Time  `json:"start"`
		End         time.Time  `json:"end"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("alarm: %w", err)
	}
	if w.Type != "alarm" {
		return fmt.Errorf("alarm: type %q, want \"alarm\"", w.Type)
	}
	*a = Alarm{Seq: w.Seq, Run: w.Run, Active: w.Active, Peak: float64(w.Peak), Windows: w.Windows,
		Alarm: event.Alarm{ID: w.ID, Stat: w.Stat, Side: w.Side, Value: float64(w.Value), Threshold: float64(w.Threshold),
			Probability: float64(w.Probability), Start: w.Start, End: w.End}}
	if w.Cleared != nil {
		a.Cleared = *w.Cleared
	}
	return nil
}
