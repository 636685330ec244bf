package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

type testParams struct {
	Q     float64 `toml:"q" comment:"risk"`
	Depth int     `toml:"depth"`
}

type testOverride struct {
	Q     *float64 `toml:"q"`
	Depth *int     `toml:"depth"`
}

type testSpot struct {
	testParams
	PerStat map[string]testOverride `toml:"-" config:"rest"`
}

func (s testSpot) Validate() error {
	var errs []error
	if s.Q <= 0 || s.Q >= 1 {
		errs = append(errs, Errorf("q", "must be strictly between 0 and 1, got %v", s.Q))
	}
	for name, o := range s.PerStat {
		if !strings.HasPrefix(name, "S_") {
			errs = append(errs, Errorf(name, "unknown statistic"))
		}
		if o.Q != nil && *o.Q <= 0 {
			errs = append(errs, Errorf(name+".q", "must be above 0"))
		}
	}
	return errors.Join(errs...)
}

type testMiner struct {
	Device string   `toml:"device" comment:"interface or file" api:"path"`
	Period Duration `toml:"period"`
	Snap   int      `toml:"snapshot_len"`
	Promis bool     `toml:"promiscuous"`
	Stats  []string `toml:"stats"`
	Ratio  uint8    `toml:"ratio"`
}

type testMQTT struct {
	Broker   string `toml:"broker" api:"endpoint"`
	Password string `toml:"password" api:"secret"`
	QoS      int    `toml:"qos"`
}

type testConfig struct {
	Miner testMiner
	Spot  testSpot
	MQTT  testMQTT
}

func defaults() *testConfig {
	return &testConfig{
		Miner: testMiner{Device: "any", Period: Duration(time.Second), Snap: 65535, Stats: []string{"A"}},
		Spot:  testSpot{testParams: testParams{Q: 1e-4, Depth: 300}},
		MQTT:  testMQTT{Broker: "tcp://localhost:1883", QoS: 1},
	}
}

func (c *testConfig) sections() []Section {
	return []Section{
		{Key: "miner", Value: &c.Miner, Comment: "Capture"},
		{Key: "spot", Value: &c.Spot},
		{Key: "exporter.mqtt", Value: &c.MQTT},
	}
}

func decodeTOML(t *testing.T, doc string) (*testConfig, error) {
	t.Helper()
	d, err := Parse("netspot.toml", []byte(doc))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	c := defaults()
	return c, d.Decode(c.sections()...)
}

func TestDecodeValues(t *testing.T) {
	c, err := decodeTOML(t, `
[miner]
device = "eth1"
period = "10s"
stats = ["B", "C"]
promiscuous = true

[spot]
q = 1e-5

[spot.S_SYN]
q = 1e-6

[exporter.mqtt]
qos = 2
`)
	if err != nil {
		t.Fatal(err)
	}
	q := 1e-6
	want := defaults()
	want.Miner.Device, want.Miner.Period, want.Miner.Stats, want.Miner.Promis = "eth1", Duration(10*time.Second), []string{"B", "C"}, true
	want.Spot.Q = 1e-5
	want.Spot.PerStat = map[string]testOverride{"S_SYN": {Q: &q}}
	want.MQTT.QoS = 2
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestDecodeReportsEveryProblemAtItsLine(t *testing.T) {
	_, err := decodeTOML(t, `[miner]
device = 5
period = 10
snapshot_len = "big"
promiscous = true
ratio = 300

[spot]
q = 2
dept = 10

[spot.NOPE]
q = 1

[spot.S_A]
q = -1
depth = "x"

[exporter.mqt]
qos = 1

[minr]
`)
	want := []string{
		`netspot.toml:2: miner.device: expected a string, got the integer 5`,
		`netspot.toml:3: miner.period: expected a duration string with a unit, such as "1s" or "500ms", got the integer 10`,
		`netspot.toml:4: miner.snapshot_len: expected an integer, got the string "big"`,
		`netspot.toml:5: miner.promiscous: unknown key (did you mean promiscuous?)`,
		`netspot.toml:6: miner.ratio: 300 is out of range`,
		`netspot.toml:9: spot.q: must be strictly between 0 and 1, got 2`,
		`netspot.toml:10: spot.dept: unknown key (did you mean depth?)`,
		`netspot.toml:12: spot.NOPE: unknown statistic`,
		`netspot.toml:17: spot.S_A.depth: expected an integer, got the string "x"`,
		`netspot.toml:19: exporter.mqt: unknown key (did you mean mqtt?)`,
		`netspot.toml:22: minr: unknown key (did you mean miner?)`,
	}
	ps := AsProblems(err)
	var got []string
	for _, p := range ps {
		got = append(got, p.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDecodeKeepsValuesOfAbsentKeysAndLayers(t *testing.T) {
	c := defaults()
	file, err := Parse("f", []byte("[miner]\ndevice = \"eth0\"\n[spot.S_X]\nq = 0.5\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := file.Decode(c.sections()...); err != nil {
		t.Fatal(err)
	}
	set, err := ParseAssignments("--set", []string{"miner.period=2s", "spot.S_X.depth=7", "miner.stats=X, Y", "spot.q=1e-3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Decode(c.sections()...); err != nil {
		t.Fatal(err)
	}
	o := c.Spot.PerStat["S_X"]
	if c.Miner.Device != "eth0" || c.Miner.Period.D() != 2*time.Second || c.Spot.Q != 1e-3 ||
		*o.Q != 0.5 || *o.Depth != 7 || !reflect.DeepEqual(c.Miner.Stats, []string{"X", "Y"}) || c.Miner.Snap != 65535 {
		t.Errorf("got %+v, override %v %v", c, *o.Q, *o.Depth)
	}
	if _, err := ParseAssignments("--set", []string{"miner.device"}); err == nil || !strings.Contains(err.Error(), "key=value") {
		t.Errorf("an assignment without value: %v", err)
	}
}

func TestDecodeJSON(t *testing.T) {
	c := defaults()
	d, err := ParseJSON("request", []byte(`{"miner": {"snapshot_len": 128}, "spot.q": 0.001, "spot.S_Y": {"depth": 3}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Decode(c.sections()...); err != nil {
		t.Fatal(err)
	}
	if c.Miner.Snap != 128 || c.Spot.Q != 0.001 || *c.Spot.PerStat["S_Y"].Depth != 3 {
		t.Errorf("got %+v", c)
	}
	for body, want := range map[string]string{
		`[1]`:                             "expected a JSON object",
		`{"spot": {"q": null}}`:           "spot.q: null is not a value",
		`{"spot.q": 1, "spot": {"q": 2}}`: "spot.q: given twice",
		`{"a..b": 1}`:                     "empty key name",
		`{} {}`:                           "more than one JSON value",
		`{"spot": {"q": "x"}}`:            `spot.q: expected a number, got the string "x"`,
	} {
		d, err := ParseJSON("request", []byte(body))
		if err == nil {
			err = d.Decode(defaults().sections()...)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

func TestRestrictedDocument(t *testing.T) {
	c := defaults()
	d, err := ParseJSON("request", []byte(`{"miner": {"device": "/etc/shadow", "snapshot_len": 100}, "exporter.mqtt": {"broker": "tcp://localhost:1883", "password": "x"}}`))
	if err != nil {
		t.Fatal(err)
	}
	d.Restricted = true
	err = d.Decode(c.sections()...)
	ps := AsProblems(err)
	if len(ps) != 2 {
		t.Fatalf("problems %v", err)
	}
	for _, p := range ps {
		if !p.Forbidden || !strings.Contains(p.Error(), "edit the config file over SSH") {
			t.Errorf("%v: forbidden %v", p, p.Forbidden)
		}
	}
	if ps[0].Key != "exporter.mqtt.password" || ps[1].Key != "miner.device" {
		t.Errorf("keys %s, %s", ps[0].Key, ps[1].Key)
	}
	if c.Miner.Device != "any" {
		t.Errorf("device changed to %q", c.Miner.Device)
	}
	// The broker was sent back unchanged: that is no change.
	if c.MQTT.Broker != "tcp://localhost:1883" {
		t.Error("broker changed")
	}
}

func TestRenderRoundTrips(t *testing.T) {
	c := defaults()
	q, depth := 1e-7, 12
	c.Spot.PerStat = map[string]testOverride{"S_B": {Q: &q}, "S_A": {Depth: &depth}}
	c.MQTT.Password = "secret"
	var b bytes.Buffer
	if err := Render(&b, c.sections()...); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Capture\n[miner]\n# interface or file\ndevice = \"any\"\n", "period = \"1s\"\n", "[spot.S_A]\ndepth = 12\n\n[spot.S_B]\nq = 1e-07\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
	d, err := Parse("rendered", b.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	back := &testConfig{}
	if err := d.Decode(back.sections()...); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", back, c)
	}
}

func TestToMapRedactsSecrets(t *testing.T) {
	c := defaults()
	c.MQTT.Password = "secret"
	m := ToMap(c.sections()...)
	mqtt := m["exporter"].(map[string]any)["mqtt"].(map[string]any)
	if _, ok := mqtt["password"]; ok || mqtt["password_set"] != true {
		t.Errorf("mqtt section %v", mqtt)
	}
	if m["miner"].(map[string]any)["period"] != "1s" {
		t.Errorf("period %v", m["miner"])
	}
}

func TestCloneIsDeep(t *testing.T) {
	c := defaults()
	q := 0.1
	c.Spot.PerStat = map[string]testOverride{"S_A": {Q: &q}}
	d := Clone(c)
	d.Miner.Stats[0] = "changed"
	*d.Spot.PerStat["S_A"].Q = 0.2
	if c.Miner.Stats[0] != "A" || q != 0.1 {
		t.Error("the clone shares memory with the original")
	}
}

// TestCloneKeepsUnexported: a section's unexported fields (the board's
// hook that loads the GPIO drivers) survive a clone, as serve and a reload
// clone the configuration before the sinks are made.
func TestCloneKeepsUnexported(t *testing.T) {
	type section struct {
		Enable bool `toml:"enable"`
		hook   func() int
	}
	type doc struct{ S *section }
	d := Clone(doc{S: &section{Enable: true, hook: func() int { return 7 }}})
	if d.S.hook == nil || d.S.hook() != 7 || !d.S.Enable {
		t.Fatalf("clone %+v: the unexported hook is lost", d.S)
	}
}

type testScenario struct {
	Duration Duration `toml:"duration"`
	Attack   []struct {
		File string   `toml:"file"`
		At   Duration `toml:"at"`
	} `toml:"attack"`
}

func TestDecodeArraysOfTables(t *testing.T) {
	d, err := Parse("s.toml", []byte("duration = \"1h\"\n[[attack]]\nfile = \"a\"\nat = \"1m\"\n[[attack]]\nfile = \"b\"\nat = 5\n[[attack]]\nfiel = \"c\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var s testScenario
	err = d.Decode(Section{Value: &s})
	want := "s.toml:7: attack[1].at: expected a duration string with a unit, such as \"1s\" or \"500ms\", got the integer 5\n" +
		"s.toml:9: attack[2].fiel: unknown key (did you mean file?)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

func TestSyntaxErrorHasItsLine(t *testing.T) {
	_, err := Parse("bad.toml", []byte("[miner]\ndevice = \"eth0\nperiod = 1\n"))
	var p *Problem
	if !errors.As(err, &p) || p.Line != 2 || !strings.HasPrefix(err.Error(), "bad.toml:2: ") {
		t.Errorf("got %v", err)
	}
}

func TestSectionThatIsNotATable(t *testing.T) {
	_, err := decodeTOML(t, "spot = 5\n")
	if err == nil || err.Error() != "netspot.toml:1: spot: expected a table, got the integer 5" {
		t.Errorf("got %v", err)
	}
}

func TestTooManyProblemsAreCut(t *testing.T) {
	var doc strings.Builder
	doc.WriteString("[miner]\n")
	for i := range 30 {
		doc.WriteString("unknown_" + strings.Repeat("x", i) + " = 1\n")
	}
	_, err := decodeTOML(t, doc.String())
	ps := AsProblems(err)
	if len(ps) != maxProblems+1 || !strings.Contains(ps[maxProblems].Error(), "and 10 more problems") {
		t.Errorf("%d problems, last %v", len(ps), ps[len(ps)-1])
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("[miner]\ndevice = \"x\"\n[spot.S_A]\nq = 0.1\n[[x]]\n")
	f.Add(`{"spot.q": 1}`)
	f.Fuzz(func(t *testing.T, doc string) {
		c := defaults()
		if d, err := Parse("f", []byte(doc)); err == nil {
			_ = d.Decode(c.sections()...)
		}
		if d, err := ParseJSON("j", []byte(doc)); err == nil {
			d.Restricted = true
			_ = d.Decode(c.sections()...)
		}
	})
}

// What ToMap shows, sent back as JSON, decodes to the same values.
func TestToMapRoundTripsThroughJSON(t *testing.T) {
	c := defaults()
	c.MQTT.Password = "secret"
	b, err := json.Marshal(ToMap(c.sections()...))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseJSON("request", b)
	if err != nil {
		t.Fatal(err)
	}
	d.Restricted = true
	back := defaults()
	back.MQTT.Password = "secret"
	if err := d.Decode(back.sections()...); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(back, c) {
		t.Errorf("got %+v, want %+v", back, c)
	}
}
