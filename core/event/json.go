package event

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The JSON forms below are the project's wire format, shared by every sink
// that writes JSON (console, file, MQTT, socket): one object per line, valid
// JSON (NaN and ±Inf become null), times in RFC 3339 with nanoseconds, UTC.
// They are written by hand with append functions so that a record is encoded
// without reflection and with at most one allocation for the buffer.

// AppendDataJSON appends the data record of r as one JSON object (without a
// trailing newline):
//
//	{"type":"data","start":"…","end":"…","partial":false,"learning_left":0,
//	 "packets":12,"dropped":0,"malformed":0,
//	 "stats":{"R_SYN":{"value":0.1,"up":0.5,"down":null,"alarm":false},…}}
//
// A "capture_error" key is added only when capture failed in the window.
func AppendDataJSON(b []byte, r *Record) []byte {
	b = append(b, `{"type":"data","start":`...)
	b = AppendTime(b, r.Start)
	b = append(b, `,"end":`...)
	b = AppendTime(b, r.End)
	b = append(b, `,"partial":`...)
	b = strconv.AppendBool(b, r.Partial)
	b = append(b, `,"learning_left":`...)
	b = strconv.AppendInt(b, int64(r.LearningLeft), 10)
	b = append(b, `,"packets":`...)
	b = strconv.AppendUint(b, r.Packets, 10)
	b = append(b, `,"dropped":`...)
	b = strconv.AppendUint(b, r.Dropped, 10)
	b = append(b, `,"malformed":`...)
	b = strconv.AppendUint(b, r.Malformed, 10)
	if r.CaptureErr != "" {
		b = append(b, `,"capture_error":`...)
		b = appendString(b, r.CaptureErr)
	}
	b = append(b, `,"stats":{`...)
	for i := range r.Stats {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, r.Stats[i].Name)
		b = append(b, ':')
		b = AppendStatJSON(b, &r.Stats[i])
	}
	return append(b, "}}"...)
}

// AppendStatJSON appends one statistic as
// {"value":…,"up":…,"down":…,"alarm":…}, with "learning":true while its
// detectors calibrate and "alarm_id" while an alarm is active.
func AppendStatJSON(b []byte, s *Stat) []byte {
	b = append(b, `{"value":`...)
	b = AppendFloat(b, s.Value)
	b = append(b, `,"up":`...)
	b = AppendFloat(b, s.Up)
	b = append(b, `,"down":`...)
	b = AppendFloat(b, s.Down)
	b = append(b, `,"alarm":`...)
	b = strconv.AppendBool(b, s.AlarmID != "")
	if s.AlarmID != "" {
		b = append(b, `,"alarm_id":`...)
		b = appendString(b, s.AlarmID)
	}
	if s.Learning {
		b = append(b, `,"learning":true`...)
	}
	return append(b, '}')
}

// AppendAlarmJSON appends one alarm as a JSON object:
//
//	{"type":"alarm","id":"…","stat":"R_SYN","side":"up","value":0.9,
//	 "threshold":0.5,"probability":1e-06,"start":"…","end":"…"}
func AppendAlarmJSON(b []byte, a *Alarm) []byte {
	b = append(b, `{"type":"alarm","id":`...)
	b = appendString(b, a.ID)
	b = append(b, `,"stat":`...)
	b = appendString(b, a.Stat)
	b = append(b, `,"side":"`...)
	b = append(b, a.Side.String()...)
	b = append(b, `","value":`...)
	b = AppendFloat(b, a.Value)
	b = append(b, `,"threshold":`...)
	b = AppendFloat(b, a.Threshold)
	b = append(b, `,"probability":`...)
	b = AppendFloat(b, a.Probability)
	b = append(b, `,"start":`...)
	b = AppendTime(b, a.Start)
	b = append(b, `,"end":`...)
	b = AppendTime(b, a.End)
	return append(b, '}')
}

// appendString appends s as a JSON string. strconv's Go quoting is not
// JSON (it writes \x, \a and \U escapes): control characters become \uXXXX,
// invalid UTF-8 becomes U+FFFD, and U+2028 and U+2029 are escaped so that
// the text is also valid JavaScript.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case '\u2028':
				b = append(b, `\u2028`...)
			case '\u2029':
				b = append(b, `\u2029`...)
			default:
				b = append(b, `\ufffd`...)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// AppendFloat appends f as a JSON number, or null when f is NaN or ±Inf.
// The shortest representation that reads back to the same float64 is used.
func AppendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// AppendTime appends t as a quoted RFC 3339 time with nanoseconds, in UTC.
func AppendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
