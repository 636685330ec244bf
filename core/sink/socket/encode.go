package socket

import (
	"math"
	"strconv"
	"time"

	"netspot/core/event"
)

// encoder turns Records into messages. The JSON messages are the objects of
// core/event (the console's and the file's format) with "series" and "tag"
// added; the CSV rows hold the same values in columns.
type encoder interface {
	// data returns r's data message, ending with a newline.
	data(r *event.Record) []byte
	// alarm returns a's message, ending with a newline.
	alarm(a *event.Alarm) []byte
	// dataHeader and alarmHeader return the header line that starts every
	// connection (and every datagram), or nil for a format without one.
	// dataHeader is known once the first Record has been encoded.
	dataHeader() []byte
	alarmHeader() []byte
}

type jsonEncoder struct{ series, tag string }

func (e *jsonEncoder) data(r *event.Record) []byte {
	return e.finish(event.AppendDataJSON(make([]byte, 0, 256+96*len(r.Stats)), r))
}

func (e *jsonEncoder) alarm(a *event.Alarm) []byte {
	return e.finish(event.AppendAlarmJSON(make([]byte, 0, 320), a))
}

// finish adds "series" and "tag" before the closing brace of obj, and the
// newline that ends a message.
func (e *jsonEncoder) finish(obj []byte) []byte {
	b := obj[:len(obj)-1]
	if e.series != "" {
		b = append(b, `,"series":`...)
		b = event.AppendString(b, e.series)
	}
	if e.tag != "" {
		b = append(b, `,"tag":`...)
		b = event.AppendString(b, e.tag)
	}
	return append(b, '}', '\n')
}

func (e *jsonEncoder) dataHeader() []byte  { return nil }
func (e *jsonEncoder) alarmHeader() []byte { return nil }

// dataColumns are the leading columns of a CSV data row; each statistic S
// adds S, S_up, S_down and S_alarm (the active alarm's id, empty when none).
var dataColumns = []string{"series", "tag", "start", "end", "partial", "learning_left",
	"packets", "dropped", "malformed", "capture_error"}

var alarmColumns = []string{"series", "tag", "id", "stat", "side", "value", "threshold",
	"probability", "start", "end"}

// csvEncoder writes RFC 4180 rows (with \n line ends). The statistics'
// columns are fixed by the first Record; a later Record is matched to them
// by name (a missing statistic gives empty fields).
type csvEncoder struct {
	series, tag string
	stats       []string // statistics' names, in column order
	header      []byte
	alarmHead   []byte
	// unknown is the name of a statistic that a Record had and the header
	// has not (its values are not sent), for the sink to log once.
	unknown string
}

func newCSVEncoder(series, tag string) *csvEncoder {
	e := &csvEncoder{series: series, tag: tag}
	e.alarmHead = appendRow(nil, alarmColumns)
	return e
}

func appendRow(b []byte, fields []string) []byte {
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, f)
	}
	return append(b, '\n')
}

func (e *csvEncoder) dataHeader() []byte  { return e.header }
func (e *csvEncoder) alarmHeader() []byte { return e.alarmHead }

func (e *csvEncoder) data(r *event.Record) []byte {
	if e.header == nil {
		cols := append([]string(nil), dataColumns...)
		for i := range r.Stats {
			n := r.Stats[i].Name
			e.stats = append(e.stats, n)
			cols = append(cols, n, n+"_up", n+"_down", n+"_alarm")
		}
		e.header = appendRow(nil, cols)
	}
	b := make([]byte, 0, 160+48*len(e.stats))
	b = appendCSVField(b, e.series)
	b = append(b, ',')
	b = appendCSVField(b, e.tag)
	b = append(b, ',')
	b = appendCSVTime(b, r.Start)
	b = append(b, ',')
	b = appendCSVTime(b, r.End)
	b = append(b, ',')
	b = strconv.AppendBool(b, r.Partial)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(r.LearningLeft), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, r.Packets, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, r.Dropped, 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, r.Malformed, 10)
	b = append(b, ',')
	b = appendCSVField(b, r.CaptureErr)
	for i, name := range e.stats {
		st := findStat(r, i, name)
		b = append(b, ',')
		if st == nil {
			b = append(b, ",,,"...)
			continue
		}
		b = appendCSVFloat(b, st.Value)
		b = append(b, ',')
		b = appendCSVFloat(b, st.Up)
		b = append(b, ',')
		b = appendCSVFloat(b, st.Down)
		b = append(b, ',')
		b = appendCSVField(b, st.AlarmID)
	}
	if e.unknown == "" && !sameStats(r, e.stats) {
		e.findUnknown(r)
	}
	return append(b, '\n')
}

func sameStats(r *event.Record, names []string) bool {
	if len(r.Stats) != len(names) {
		return false
	}
	for i := range r.Stats {
		if r.Stats[i].Name != names[i] {
			return false
		}
	}
	return true
}

func (e *csvEncoder) findUnknown(r *event.Record) {
	for i := range r.Stats {
		known := false
		for _, n := range e.stats {
			if n == r.Stats[i].Name {
				known = true
				break
			}
		}
		if !known {
			e.unknown = r.Stats[i].Name
			return
		}
	}
}

// findStat returns the statistic of r named name, looking first at index i
// (where it is when the Record has the same statistics as the first one).
func findStat(r *event.Record, i int, name string) *event.Stat {
	if i < len(r.Stats) && r.Stats[i].Name == name {
		return &r.Stats[i]
	}
	for j := range r.Stats {
		if r.Stats[j].Name == name {
			return &r.Stats[j]
		}
	}
	return nil
}

func (e *csvEncoder) alarm(a *event.Alarm) []byte {
	b := make([]byte, 0, 200)
	b = appendCSVField(b, e.series)
	b = append(b, ',')
	b = appendCSVField(b, e.tag)
	b = append(b, ',')
	b = appendCSVField(b, a.ID)
	b = append(b, ',')
	b = appendCSVField(b, a.Stat)
	b = append(b, ',')
	b = append(b, a.Side.String()...)
	b = append(b, ',')
	b = appendCSVFloat(b, a.Value)
	b = append(b, ',')
	b = appendCSVFloat(b, a.Threshold)
	b = append(b, ',')
	b = appendCSVFloat(b, a.Probability)
	b = append(b, ',')
	b = appendCSVTime(b, a.Start)
	b = append(b, ',')
	b = appendCSVTime(b, a.End)
	return append(b, '\n')
}

// appendCSVField quotes f when it holds a separator, a quote, a line break
// or leading or trailing space, doubling the quotes inside.
func appendCSVField(b []byte, f string) []byte {
	quote := f != "" && (f[0] == ' ' || f[len(f)-1] == ' ')
	for i := 0; i < len(f) && !quote; i++ {
		switch f[i] {
		case ',', '"', '\n', '\r':
			quote = true
		}
	}
	if !quote {
		return append(b, f...)
	}
	b = append(b, '"')
	for i := 0; i < len(f); i++ {
		if f[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, f[i])
	}
	return append(b, '"')
}

// appendCSVFloat writes the shortest form that reads back to f; NaN and ±Inf
// (undefined values) leave the field empty.
func appendCSVFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

func appendCSVTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, time.RFC3339Nano)
}
