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

// Every additive counter must be summed by Add, including fields added
// later; the maxima (tagged merge:"max") keep the larger value, whichever
// side holds it.
func TestCountersAddSumsEveryField(t *testing.T) {
	for _, order := range []struct{ a, b uint64 }{{1, 2}, {5, 2}} {
		var a, b Counters
		va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()
		for i := range va.NumField() {
			switch va.Field(i).Kind() {
			case reflect.Uint64:
				va.Field(i).SetUint(order.a)
				vb.Field(i).SetUint(order.b)
			case reflect.Float64:
				va.Field(i).SetFloat(float64(order.a) + 0.5)
				vb.Field(i).SetFloat(float64(order.b) + 0.5)
			default:
				t.Fatalf("field %s of kind %s: neither a count nor a decayed count", va.Type().Field(i).Name, va.Field(i).Kind())
			}
		}
		a.Add(&b)
		for i := range va.NumField() {
			f := va.Type().Field(i)
			want := float64(order.a + order.b)
			switch {
			case strings.HasPrefix(f.Name, "Distinct"):
				want = float64(order.a)
			case f.Tag.Get("merge") == "max":
				want = float64(max(order.a, order.b))
			}
			var got float64
			if va.Field(i).Kind() == reflect.Float64 {
				got = va.Field(i).Float() - 0.5
				if f.Tag.Get("merge") != "max" {
					t.Errorf("%s is fractional but not a maximum: Add cannot sum it as a count", f.Name)
				}
			} else {
				got = float64(va.Field(i).Uint())
			}
			if got != want {
				t.Errorf("after Add of %d and %d, %s = %v, want %v", order.a, order.b, f.Name, got, want)
			}
		}
	}
}

func TestStringsAreValidJSON(t *testing.T) {
	for _, s := range []string{"plain", `quote " and \ backslash`, "ctrl \x1b[31m \a \x00 \x7f", "tab\tnew\nline\r",
		"bad utf8 \xff\xfe end", "héllo wörld ✓ 🙂", "\u2028 line separator"} {
		b := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Errorf("%q -> %s: invalid JSON: %v", s, b, err)
			continue
		}
		if string([]rune(s)) != back {
			t.Errorf("%q -> %s -> %q", s, b, back)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("link \"eth1\" down\x1b")
	f.Fuzz(func(t *testing.T, s string) {
		b := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q -> %s: %v", s, b, err)
		}
		if back != string([]rune(s)) {
			t.Fatalf("%q -> %q", s, back)
		}
	})
}
