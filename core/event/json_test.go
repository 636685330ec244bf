package event

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func sampleRecord() *Record {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	return &Record{
		Start: start, End: start.Add(time.Second), Partial: true, LearningLeft: 3,
		Packets: 10, Dropped: 1, Malformed: 2, CaptureErr: `link "eth1" down`,
		Stats: []Stat{
			{Name: "R_SYN", Value: 0.25, Up: 0.5, Down: math.NaN(), AlarmID: "ab-1"},
			{Name: "TRAFFIC", Value: math.NaN(), Up: math.Inf(1), Down: math.Inf(-1), Learning: true},
		},
		Alarms: []Alarm{{ID: "ab-1", Stat: "R_SYN", Side: Up, Value: 0.9, Threshold: 0.5,
			Probability: 1e-6, Start: start, End: start.Add(time.Second)}},
	}
}

func TestDataJSONIsValidAndComplete(t *testing.T) {
	b := AppendDataJSON(nil, sampleRecord())
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	want := `{"type":"data","start":"2026-03-01T11:00:00Z","end":"2026-03-01T11:00:01Z","partial":true,` +
		`"learning_left":3,"packets":10,"dropped":1,"malformed":2,"capture_error":"link \"eth1\" down",` +
		`"stats":{"R_SYN":{"value":0.25,"up":0.5,"down":null,"alarm":true,"alarm_id":"ab-1"},` +
		`"TRAFFIC":{"value":null,"up":null,"down":null,"alarm":false,"learning":true}}}`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
}

func TestAlarmJSON(t *testing.T) {
	r := sampleRecord()
	b := AppendAlarmJSON(nil, &r.Alarms[0])
	want := `{"type":"alarm","id":"ab-1","stat":"R_SYN","side":"up","value":0.9,"threshold":0.5,` +
		`"probability":1e-06,"start":"2026-03-01T11:00:00Z","end":"2026-03-01T11:00:01Z"}`
	if string(b) != want {
		t.Errorf("got\n%s\nwant\n%s", b, want)
	}
	if !json.Valid(b) {
		t.Error("invalid JSON")
	}
}

func TestTimeKeepsNanoseconds(t *testing.T) {
	ts := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	if got := string(AppendTime(nil, ts)); got != `"2026-03-01T12:00:00.123456789Z"` {
		t.Errorf("got %s", got)
	}
}

func TestFloatRoundTrips(t *testing.T) {
	for _, f := range []float64{0, -0.5, 1e-300, 123456789.123456789, math.MaxFloat64, 5e-324} {
		var back float64
		if err := json.Unmarshal(AppendFloat(nil, f), &back); err != nil || back != f {
			t.Errorf("%v -> %s -> %v (%v)", f, AppendFloat(nil, f), back, err)
		}
	}
}

func TestSideText(t *testing.T) {
	for _, s := range []Side{Up, Down} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Side
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v round trip gave %v, %v", s, back, err)
		}
	}
	var s Side
	if err := s.UnmarshalText([]byte("sideways")); err == nil {
		t.Error("invalid side accepted")
	}
	if _, err := Side(7).MarshalText(); err == nil {
		t.Error("invalid side marshalled")
	}
}

func TestCountersAddKeepsDistinct(t *testing.T) {
	a := Counters{Packets: 1, SYN: 2, DistinctDstAddr: 5}
	a.Add(&Counters{Packets: 3, SYN: 1, Malformed: 4, DistinctDstAddr: 7})
	if a.Packets != 4 || a.SYN != 3 || a.Malformed != 4 || a.DistinctDstAddr != 5 {
		t.Errorf("Add gave %+v", a)
	}
}

func BenchmarkAppendDataJSON(b *testing.B) {
	r := sampleRecord()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendDataJSON(buf[:0], r)
	}
}

// Every additive counter must be summed by Add, including fields added later.
func TestCountersAddSumsEveryField(t *testing.T) {
	var a, b Counters
	va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()
	for i := range va.NumField() {
		va.Field(i).SetUint(1)
		vb.Field(i).SetUint(2)
	}
	a.Add(&b)
	for i := range va.NumField() {
		name := va.Type().Field(i).Name
		want := uint64(3)
		if strings.HasPrefix(name, "Distinct") {
			want = 1
		}
		if got := va.Field(i).Uint(); got != want {
			t.Errorf("after Add, %s = %d, want %d", name, got, want)
		}
	}
}

// Strings are JSON strings, not Go ones: control characters, invalid UTF-8
// and line separators in a capture error or a name keep the output valid.
func TestStringsAreJSON(t *testing.T) {
	for in, want := range map[string]string{
		"plain":             `"plain"`,
		"a\"b\\c":           `"a\"b\\c"`,
		"l1\nl2\r\t":        `"l1\nl2\r\t"`,
		"\x06\x7f\a\v":      `"\u0006` + "\x7f" + `\u0007\u000b"`,
		"bad \xff byte":     `"bad \ufffd byte"`,
		"é 😀":               `"é 😀"`,
		"sep\u2028\u2029":   `"sep\u2028\u2029"`,
		"\U0001F600\x00end": `"😀\u0000end"`,
	} {
		got := string(appendString(nil, in))
		if got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != strings.ToValidUTF8(in, "\uFFFD") {
			t.Errorf("%q: %s reads back as %q (%v)", in, got, back, err)
		}
	}
	r := sampleRecord()
	r.CaptureErr = "eth\x01 \xfe"
	if b := AppendDataJSON(nil, r); !json.Valid(b) {
		t.Errorf("invalid JSON: %s", b)
	}
}
