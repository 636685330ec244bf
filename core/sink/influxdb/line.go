package influxdb

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"netspot/core/event"
)

// The points written, in InfluxDB line protocol
// (https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/):
//
//	netspot,agent=local,series=eth0 packets=812i,dropped=0i,malformed=0i,learning_left=0i,active_alarms=1i,R_SYN=0.31,R_SYN_up=0.12,TRAFFIC=405.2,TRAFFIC_up=980.1,TRAFFIC_down=12.5 1767225601000000000
//	netspot_alarm,agent=local,series=eth0,side=up,stat=R_SYN id="2f1c…-17",value=0.31,threshold=0.12,probability=3.2e-05 1767225601000000000
//
// A statistic S gives the fields S (its value), S_up and S_down (the
// thresholds); each is left out when it is undefined (NaN), since line
// protocol has no null, and a point needs no fixed set of fields. A field
// keeps one type in every point: floats for the statistics, integers (i)
// for the counts. partial=true and capture_error="…" appear only in the
// windows they concern. The timestamp is the end of the window, in ns.
const (
	dataMeasurement  = "netspot"
	alarmMeasurement = "netspot_alarm"
)

// InfluxDB stores nanosecond times as int64.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// appendDataPoint appends r's data point and a newline.
func appendDataPoint(b []byte, r *event.Record, agent, series string) ([]byte, error) {
	if err := checkTime(r.End); err != nil {
		return b, err
	}
	b = append(b, dataMeasurement...)
	b = appendTag(b, "agent", agent)
	b = appendTag(b, "series", series)
	b = append(b, " packets="...)
	b = appendInt(b, r.Packets)
	b = append(b, ",dropped="...)
	b = appendInt(b, r.Dropped)
	b = append(b, ",malformed="...)
	b = appendInt(b, r.Malformed)
	b = append(b, ",learning_left="...)
	b = strconv.AppendInt(b, int64(r.LearningLeft), 10)
	b = append(b, 'i')
	active := 0
	for i := range r.Stats {
		if r.Stats[i].AlarmID != "" {
			active++
		}
	}
	b = append(b, ",active_alarms="...)
	b = strconv.AppendInt(b, int64(active), 10)
	b = append(b, 'i')
	if r.Partial {
		b = append(b, ",partial=true"...)
	}
	if r.CaptureErr != "" {
		b = append(b, ",capture_error="...)
		b = appendString(b, r.CaptureErr)
	}
	for i := range r.Stats {
		st := &r.Stats[i]
		b = appendFloatField(b, st.Name, "", st.Value)
		b = appendFloatField(b, st.Name, "_up", st.Up)
		b = appendFloatField(b, st.Name, "_down", st.Down)
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, r.End.UnixNano(), 10)
	return append(b, '\n'), nil
}

// appendAlarmPoint appends a's point and a newline, stamped with the end
// of its window.
func appendAlarmPoint(b []byte, a *event.Alarm, agent, series string) ([]byte, error) {
	if err := checkTime(a.End); err != nil {
		return b, err
	}
	b = append(b, alarmMeasurement...)
	b = appendTag(b, "agent", agent)
	b = appendTag(b, "series", series)
	b = appendTag(b, "side", a.Side.String())
	b = appendTag(b, "stat", a.Stat)
	b = append(b, " id="...)
	b = appendString(b, a.ID)
	b = appendFloatField(b, "value", "", a.Value)
	b = appendFloatField(b, "threshold", "", a.Threshold)
	b = appendFloatField(b, "probability", "", a.Probability)
	b = append(b, ' ')
	b = strconv.AppendInt(b, a.End.UnixNano(), 10)
	return append(b, '\n'), nil
}

func checkTime(t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return fmt.Errorf("time %v is outside what InfluxDB stores (1677 to 2262)", t)
	}
	return nil
}

// appendTag appends ",key=value", or nothing for an empty value (InfluxDB
// does not store empty tags). Tags must be appended sorted by key.
func appendTag(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, ',')
	b = appendEscaped(b, key)
	b = append(b, '=')
	return appendEscaped(b, value)
}

// appendFloatField appends ",<name><suffix>=<f>", or nothing when f is
// NaN or infinite (or the name empty, which line protocol cannot carry).
func appendFloatField(b []byte, name, suffix string, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) || name == "" {
		return b
	}
	b = append(b, ',')
	b = appendEscaped(b, name)
	b = append(b, suffix...)
	b = append(b, '=')
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendInt appends a count as a line protocol integer (signed 64 bits).
func appendInt(b []byte, n uint64) []byte {
	if n > math.MaxInt64 {
		n = math.MaxInt64
	}
	b = strconv.AppendUint(b, n, 10)
	return append(b, 'i')
}

// appendEscaped escapes commas, spaces, equals signs and backslashes with a
// backslash, for tag keys, tag values and field keys (InfluxDB 1 keeps an
// escaped backslash doubled, InfluxDB 2 and 3 read it as one; unescaped, a
// backslash before a separator would break the line). Line protocol cannot carry line
// breaks or other control characters there: they become (escaped) spaces.
// Invalid UTF-8 becomes U+FFFD.
func appendEscaped(b []byte, s string) []byte {
	s = validUTF8(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', ' ')
		case c == ',' || c == ' ' || c == '=' || c == '\\':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendString appends a string field value: quoted, with quotes and
// backslashes escaped and line breaks turned into spaces.
func appendString(b []byte, s string) []byte {
	s = validUTF8(s)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n' || c == '\r':
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
