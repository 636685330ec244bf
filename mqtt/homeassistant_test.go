package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"netspot/core/event"
	"netspot/core/sink"
)

// Home Assistant's discovery schema of the MQTT event platform, transcribed
// from its sources (homeassistant/components/mqtt/event.py: DISCOVERY_SCHEMA
// = MQTT_RO_SCHEMA (config.py) + device_class, name, event_types +
// MQTT_ENTITY_COMMON_SCHEMA (schemas.py)), and the event page of its
// documentation (integrations/event.mqtt). Home Assistant drops keys it does
// not know (vol.REMOVE_EXTRA) without a word, so a key outside the schema is
// a mistake of ours that nobody would notice: the test refuses it.
type haKey struct {
	required bool
	check    func(v any) error
}

func haString(v any) error {
	if _, ok := v.(string); !ok {
		return fmt.Errorf("want a string, got %T", v)
	}
	return nil
}

func haBool(v any) error {
	if _, ok := v.(bool); !ok {
		return fmt.Errorf("want a boolean, got %T", v)
	}
	return nil
}

func haStringList(v any) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("want a list, got %T", v)
	}
	for _, e := range list {
		if err := haString(e); err != nil {
			return err
		}
	}
	return nil
}

// haSubscribeTopic is mqtt/util.py valid_subscribe_topic: a non-empty UTF-8
// topic without NUL, at most 65535 bytes, whose wildcards stand alone in
// their level ('#' last).
func haSubscribeTopic(v any) error {
	s, ok := v.(string)
	if !ok || s == "" || len(s) > 65535 || strings.ContainsRune(s, 0) {
		return fmt.Errorf("not a valid topic: %v", v)
	}
	levels := strings.Split(s, "/")
	for i, l := range levels {
		if strings.ContainsAny(l, "+#") && len(l) != 1 || l == "#" && i != len(levels)-1 {
			return fmt.Errorf("misplaced wildcard in %q", s)
		}
	}
	return nil
}

// haTemplate accepts what cv.template accepts for our purpose: a string
// with balanced Jinja delimiters.
func haTemplate(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf("want a template string, got %T", v)
	}
	if strings.Count(s, "{{") != strings.Count(s, "}}") || strings.Count(s, "{%") != strings.Count(s, "%}") {
		return fmt.Errorf("unbalanced template %q", s)
	}
	return nil
}

func haIcon(v any) error {
	s, _ := v.(string)
	if prefix, name, ok := strings.Cut(s, ":"); !ok || prefix == "" || name == "" {
		return fmt.Errorf("icon %q is not prefix:name", s)
	}
	return nil
}

func haQoS(v any) error {
	f, ok := v.(float64)
	if !ok || (f != 0 && f != 1 && f != 2) {
		return fmt.Errorf("qos %v is not 0, 1 or 2", v)
	}
	return nil
}

func haList(v any) error {
	if _, ok := v.([]any); !ok {
		return fmt.Errorf("want a list, got %T", v)
	}
	return nil
}

func haOneOf(values ...any) func(any) error {
	return func(v any) error {
		if !slices.Contains(values, v) {
			return fmt.Errorf("%v is not one of %v", v, values)
		}
		return nil
	}
}

func haObject(keys map[string]haKey, extra func(map[string]any) error) func(any) error {
	return func(v any) error {
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("want an object, got %T", v)
		}
		if err := checkKeys(m, keys); err != nil {
			return err
		}
		if extra != nil {
			return extra(m)
		}
		return nil
	}
}

func checkKeys(m map[string]any, keys map[string]haKey) error {
	var errs []error
	for k, v := range m {
		spec, ok := keys[k]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not a key of the schema (Home Assistant would drop it)", k))
			continue
		}
		if err := spec.check(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	for k, spec := range keys {
		if _, ok := m[k]; spec.required && !ok {
			errs = append(errs, fmt.Errorf("%s: required", k))
		}
	}
	return errors.Join(errs...)
}

var haDeviceSchema = haObject(map[string]haKey{
	"identifiers":       {check: haStringList},
	"connections":       {check: haList},
	"manufacturer":      {check: haString},
	"model":             {check: haString},
	"model_id":          {check: haString},
	"name":              {check: haString},
	"hw_version":        {check: haString},
	"serial_number":     {check: haString},
	"sw_version":        {check: haString},
	"via_device":        {check: haString},
	"suggested_area":    {check: haString},
	"configuration_url": {check: haString},
}, func(m map[string]any) error {
	if ids, _ := m["identifiers"].([]any); len(ids) == 0 && m["connections"] == nil {
		return errors.New("device must have at least one identifying value in 'identifiers' and/or 'connections'")
	}
	return nil
})

var haOriginSchema = haObject(map[string]haKey{
	"name":        {required: true, check: haString},
	"sw_version":  {check: haString},
	"support_url": {check: haString},
}, nil)

// haEventSchema is the event platform's discovery schema.
var haEventSchema = map[string]haKey{
	// MQTT_RO_SCHEMA
	"qos":            {check: haQoS},
	"encoding":       {check: haString},
	"group":          {check: haStringList},
	"state_topic":    {required: true, check: haSubscribeTopic},
	"value_template": {check: haTemplate},
	// event.py
	"device_class": {check: haOneOf("button", "doorbell", "motion")},
	"name": {check: func(v any) error {
		if v == nil {
			return nil
		}
		return haString(v)
	}},
	"event_types": {required: true, check: haStringList},
	// MQTT_ENTITY_COMMON_SCHEMA, availability included
	"availability_topic":       {check: haSubscribeTopic},
	"availability_template":    {check: haTemplate},
	"payload_available":        {check: haString},
	"payload_not_available":    {check: haString},
	"availability_mode":        {check: haOneOf("all", "any", "latest")},
	"availability":             {check: haList},
	"device":                   {check: haDeviceSchema},
	"entity_picture":           {check: haString},
	"origin":                   {check: haOriginSchema},
	"enabled_by_default":       {check: haBool},
	"entity_category":          {check: haOneOf("config", "diagnostic")},
	"icon":                     {check: haIcon},
	"json_attributes_topic":    {check: haSubscribeTopic},
	"json_attributes_template": {check: haTemplate},
	"default_entity_id":        {check: haString},
	"message_expiry_interval": {check: func(v any) error {
		if f, ok := v.(float64); !ok || f < 0 || f != math.Trunc(f) {
			return fmt.Errorf("%v is not a whole number of seconds", v)
		}
		return nil
	}},
	"unique_id":          {check: haString},
	"visible_by_default": {check: haBool},
}

// alarmEventConfig returns the event entity's discovery config of a box.
func alarmEventConfig(t *testing.T, tp *topics) (message, map[string]any) {
	t.Helper()
	var found []message
	for _, m := range discoveryMessages(tp, []sink.StatInfo{{Name: "R_SYN"}, {Name: "TRAFFIC", Unit: "pkt/s"}}, "1.2.3", 0, 1) {
		if strings.Contains(m.topic, "/event/") {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d event entities in the discovery configs, want 1", len(found))
	}
	var cfg map[string]any
	if err := json.Unmarshal(found[0].payload, &cfg); err != nil {
		t.Fatal(err)
	}
	return found[0], cfg
}

// The alarm event entity's discovery config is one that Home Assistant's
// event platform accepts whole, on the topic it listens to, tied to the
// box's device and availability like the other entities.
func TestAlarmEventDiscoverySchema(t *testing.T) {
	tp := newTopics("netspot", "Lab-Pi", "homeassistant")
	m, cfg := alarmEventConfig(t, &tp)
	if err := checkKeys(cfg, haEventSchema); err != nil {
		t.Errorf("event config refused by the schema:\n%v\nconfig: %s", err, m.payload)
	}
	// <discovery_prefix>/<component>/[<node_id>/]<object_id>/config, with
	// an object id of [a-zA-Z0-9_-].
	if !regexp.MustCompile(`^homeassistant/event/[a-zA-Z0-9_-]+/config$`).MatchString(m.topic) || !m.retain || m.qos != 1 {
		t.Errorf("event config on %s (retain %v, QoS %d), want homeassistant/event/<object_id>/config, retained, QoS 1", m.topic, m.retain, m.qos)
	}
	if cfg["state_topic"] != "netspot/Lab-Pi/alarm" || cfg["default_entity_id"] != "event.netspot_lab_pi_alarms" ||
		cfg["unique_id"] != "netspot_lab_pi_alarms" || cfg["qos"] != 1.0 || cfg["availability_topic"] != "netspot/Lab-Pi/status" {
		t.Errorf("event config %s", m.payload)
	}
	if dev, _ := cfg["device"].(map[string]any); !reflect.DeepEqual(dev["identifiers"], []any{"netspot_lab_pi"}) {
		t.Errorf("event entity not on the box's device: %v", cfg["device"])
	}
	// The schema check itself refuses what Home Assistant would drop or
	// refuse.
	for name, bad := range map[string]map[string]any{
		"unknown key":       {"state_topic": "a/b", "event_types": []any{"x"}, "event_type": "x"},
		"no event_types":    {"state_topic": "a/b"},
		"wildcard misplace": {"state_topic": "a/b#", "event_types": []any{"x"}},
		"device class":      {"state_topic": "a/b", "event_types": []any{"x"}, "device_class": "problem"},
	} {
		if checkKeys(bad, haEventSchema) == nil {
			t.Errorf("schema check accepts a config with %s", name)
		}
	}
}

// renderEventTemplate renders the value template the way Home Assistant's
// MQTT event does for the subset the template uses ({{ value_json.KEY |
// to_json }}), and refuses anything else.
func renderEventTemplate(t *testing.T, tmpl, payload string) string {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(payload), &doc); err != nil {
		t.Fatalf("alarm payload is not a JSON object: %v", err)
	}
	out := regexp.MustCompile(`\{\{ value_json\.([a-z_]+) \| to_json \}\}`).ReplaceAllStringFunc(tmpl, func(s string) string {
		key := regexp.MustCompile(`value_json\.([a-z_]+)`).FindStringSubmatch(s)[1]
		v, ok := doc[key]
		if !ok {
			t.Errorf("template reads value_json.%s, which the alarm payload does not have", key)
			return "null"
		}
		return string(v)
	})
	if strings.Contains(out, "{{") || strings.Contains(out, "{%") {
		t.Fatalf("template has constructs the test cannot render: %s", out)
	}
	return out
}

// renderWithJinja renders the template with Jinja2, Home Assistant's
// template engine, in its immutable sandbox with Home Assistant's to_json
// filter. It returns "" when python3 with jinja2 is missing (and fails
// when CI is set: .ci/run installs python3-jinja2).
func renderWithJinja(t *testing.T, tmpl, payload string) string {
	t.Helper()
	const script = `
import json, sys
from jinja2.sandbox import ImmutableSandboxedEnvironment
tmpl, payload = sys.argv[1], sys.stdin.read()
env = ImmutableSandboxedEnvironment()
env.filters["to_json"] = lambda v: json.dumps(v, ensure_ascii=False)
sys.stdout.write(env.from_string(tmpl).render(value_json=json.loads(payload), value=payload))
`
	cmd := exec.Command("python3", "-c", script, tmpl)
	cmd.Stdin = strings.NewReader(payload)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := fmt.Sprintf("python3 with jinja2 cannot render the template: %v\n%s", err, stderr.String())
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Log(msg + "(skipped: apt-get install python3-jinja2)")
		return ""
	}
	return string(out)
}

// Every alarm published on P/alarm becomes one Home Assistant event of a
// type the entity declares, with the alarm's statistic, side, value and
// threshold as attributes, rendered by the entity's value template (by
// Jinja2 itself when it is installed).
func TestAlarmEventPayload(t *testing.T) {
	tp := newTopics("netspot", "box1", "homeassistant")
	_, cfg := alarmEventConfig(t, &tp)
	tmpl, _ := cfg["value_template"].(string)
	types, _ := cfg["event_types"].([]any)
	start := time.Date(2026, 3, 1, 12, 0, 7, 0, time.UTC)
	for _, a := range []event.Alarm{
		{ID: "20260301T120007Z-R_SYN-up-1", Stat: "R_SYN", Side: event.Up, Value: 0.9, Threshold: 0.5, Probability: 1e-6, Start: start, End: start.Add(time.Second)},
		{ID: `odd "id" \`, Stat: "TRAFFIC", Side: event.Down, Value: 0, Threshold: 12.5, Probability: math.NaN(), Start: start, End: start.Add(time.Minute)},
	} {
		payload := string(alarmPayload(&a))
		rendered := []string{renderEventTemplate(t, tmpl, payload)}
		if j := renderWithJinja(t, tmpl, payload); j != "" {
			rendered = append(rendered, j)
		}
		for i, out := range rendered {
			var ev map[string]any
			if err := json.Unmarshal([]byte(out), &ev); err != nil {
				t.Fatalf("rendering %d of %s is not JSON: %v\n%s", i, payload, err, out)
			}
			if !slices.Contains(types, ev["event_type"]) {
				t.Errorf("event_type %v is not one of event_types %v", ev["event_type"], types)
			}
			var want map[string]any
			_ = json.Unmarshal([]byte(payload), &want)
			delete(want, "type")
			for _, k := range []string{"id", "stat", "side", "value", "threshold", "probability", "start", "end"} {
				if !reflect.DeepEqual(ev[k], want[k]) {
					t.Errorf("rendering %d: attribute %s = %v, want %v (payload %s)", i, k, ev[k], want[k], payload)
				}
			}
			if len(ev) != len(want)+1 {
				t.Errorf("rendering %d: attributes %v, want those of %v and event_type", i, ev, want)
			}
		}
	}
}

// On a broker: the event entity is announced with the other entities, and
// an alarm arrives on its state topic unretained (Home Assistant ignores a
// retained event), ready for the template.
func TestAlarmEventOnBroker(t *testing.T) {
	in := newInbox()
	b := startMochi(t, freeAddr(t), in)
	r := openRig(t, testConfig(t, b.addr), sink.Live)
	r.publish(record(1, "ev-1")) // the first window connects, announces the entities and sends its alarm
	in.waitUntil(t, "event discovery", func() bool { return b.retained("homeassistant/event/box1_alarms/config") != "" })
	var cfg map[string]any
	if err := json.Unmarshal([]byte(b.retained("homeassistant/event/box1_alarms/config")), &cfg); err != nil {
		t.Fatal(err)
	}
	if err := checkKeys(cfg, haEventSchema); err != nil {
		t.Errorf("published event config: %v", err)
	}
	in.waitUntil(t, "alarm", func() bool { return len(in.on(cfg["state_topic"].(string))) == 1 })
	for _, m := range in.prefixed(cfg["state_topic"].(string)) {
		if m.topic == cfg["state_topic"] && m.retain {
			t.Error("alarm published retained: Home Assistant would ignore it as an event")
		}
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(renderEventTemplate(t, cfg["value_template"].(string), in.on(cfg["state_topic"].(string))[0])), &ev); err != nil {
		t.Fatal(err)
	}
	if ev["event_type"] != "alarm" || ev["id"] != "ev-1" || ev["stat"] != "R_SYN" || ev["side"] != "up" || ev["value"] != 0.9 || ev["threshold"] != 0.5 {
		t.Errorf("event from the broker's alarm: %v", ev)
	}
}
