package influxdb

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"netspot/core/event"
)

// parsedPoint is a line read back by parseLine.
type parsedPoint struct {
	measurement string
	tags        map[string]string
	fields      map[string]string // raw values; strings unquoted and unescaped
	time        int64
}

// parseLine reads one point the way InfluxDB does: a backslash escapes
// the next character in names; double quotes matter only in field values,
// where a string is quoted with \" and \\ escapes. It is independent of the
// encoder, to check its escaping.
func parseLine(t *testing.T, line string) parsedPoint {
	t.Helper()
	head, rest := cutUnescaped(line, ' ', false)
	fields, ts := cutUnescaped(rest, ' ', true)
	if head == "" || fields == "" || ts == "" || strings.Contains(ts, " ") {
		t.Fatalf("line %q: want measurement[,tags] fields timestamp", line)
	}
	p := parsedPoint{tags: map[string]string{}, fields: map[string]string{}}
	parts := splitUnescaped(head, ',', false)
	p.measurement = unescape(parts[0])
	for _, kv := range parts[1:] {
		k, v := splitPair(t, line, kv)
		if v == "" {
			t.Fatalf("line %q: empty tag value", line)
		}
		p.tags[unescape(k)] = unescape(v)
	}
	for _, kv := range splitUnescaped(fields, ',', true) {
		k, v := splitPair(t, line, kv)
		if k == "" {
			t.Fatalf("line %q: empty field key", line)
		}
		if strings.HasPrefix(v, `"`) {
			if len(v) < 2 || !strings.HasSuffix(v, `"`) {
				t.Fatalf("line %q: bad string %s", line, v)
			}
			v = unescape(v[1 : len(v)-1])
		}
		p.fields[unescape(k)] = v
	}
	var err error
	if p.time, err = strconv.ParseInt(ts, 10, 64); err != nil {
		t.Fatalf("line %q: timestamp: %v", line, err)
	}
	return p
}

// cutUnescaped cuts s at the first sep that is not escaped (nor, in a field
// set, inside a quoted value).
func cutUnescaped(s string, sep byte, fieldSet bool) (string, string) {
	parts := splitUnescaped(s, sep, fieldSet)
	if len(parts) == 1 {
		return s, ""
	}
	return parts[0], s[len(parts[0])+1:]
}

// splitUnescaped splits s at each sep that is not escaped by a backslash
// (nor, in a field set, inside a quoted value: quotes count after a key's
// equals sign only).
func splitUnescaped(s string, sep byte, fieldSet bool) []string {
	var parts []string
	start, inValue, inQuote := 0, false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case fieldSet && inValue && c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == sep:
			parts = append(parts, s[start:i])
			start = i + 1
			inValue = false
		case c == ',':
			inValue = false
		case c == '=':
			inValue = true
		}
	}
	return append(parts, s[start:])
}

func splitPair(t *testing.T, line, kv string) (string, string) {
	t.Helper()
	k, v := cutUnescaped(kv, '=', false)
	if len(k) == len(kv) {
		t.Fatalf("line %q: %q is not key=value", line, kv)
	}
	return k, v
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// asName is what a tag or key becomes: valid UTF-8, control characters as
// spaces.
func asName(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func asString(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(strings.ToValidUTF8(s, "\uFFFD"))
}

// FuzzPointEscaping writes points with arbitrary names and texts and reads
// them back: whatever the input, a point is one well-formed line carrying
// the same tags and values.
func FuzzPointEscaping(f *testing.F) {
	f.Add("local", "eth0", "R_SYN", "", "id-1", 0.5)
	f.Add(`pi 1,a=b\`, "c:\\caps\\x y.pcap", "A=B,C D", "link \"down\"\n", `x"\`, math.NaN())
	f.Add("\xff\x00", "\t", "\\", "\\", "\\\"", 1e300)
	f.Fuzz(func(t *testing.T, agent, series, stat, captureErr, id string, value float64) {
		r := record(0, true)
		r.Stats[0].Name, r.Stats[0].Value = stat, value
		r.Alarms[0].Stat, r.Alarms[0].ID, r.Alarms[0].Value = stat, id, value
		r.CaptureErr = captureErr
		data, err := appendDataPoint(nil, r, agent, series)
		if err != nil {
			t.Fatal(err)
		}
		alarm, err := appendAlarmPoint(nil, &r.Alarms[0], agent, series)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range [][]byte{data, alarm} {
			if !utf8.Valid(line) {
				t.Fatalf("invalid UTF-8: %q", line)
			}
			if strings.Count(string(line), "\n") != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("not one line: %q", line)
			}
		}
		d := parseLine(t, strings.TrimSuffix(string(data), "\n"))
		if d.measurement != "netspot" || d.tags["agent"] != asName(agent) || d.tags["series"] != asName(series) {
			t.Fatalf("data point %q: %+v", data, d)
		}
		if captureErr != "" && d.fields["capture_error"] != asString(captureErr) {
			t.Fatalf("capture_error %q read back as %q", captureErr, d.fields["capture_error"])
		}
		defined := !math.IsNaN(value) && !math.IsInf(value, 0) && stat != ""
		if v, ok := d.fields[asName(stat)]; defined && (!ok || v != strconv.FormatFloat(value, 'g', -1, 64)) {
			t.Fatalf("field %q = %q, %v in %q", stat, v, ok, data)
		}
		a := parseLine(t, strings.TrimSuffix(string(alarm), "\n"))
		if a.tags["stat"] != asName(stat) || a.fields["id"] != asString(id) || a.time != d.time {
			t.Fatalf("alarm point %q: %+v", alarm, a)
		}
	})
}

func TestParseLineSelfCheck(t *testing.T) {
	p := parseLine(t, `m,a=x\ y,b=c\,d f="q\"\\",g=1i 5`)
	if p.measurement != "m" || p.tags["a"] != "x y" || p.tags["b"] != "c,d" || p.fields["f"] != `q"\` || p.fields["g"] != "1i" || p.time != 5 {
		t.Errorf("%+v", p)
	}
}

func TestIntegersSaturate(t *testing.T) {
	r := &event.Record{End: t0, Packets: math.MaxUint64}
	b, _ := appendDataPoint(nil, r, "", "")
	if !strings.Contains(string(b), "packets=9223372036854775807i") {
		t.Errorf("%s", b)
	}
}
