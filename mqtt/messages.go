package mqtt

import (
	"encoding/json"
	"strings"
	"time"

	"netspot/core/event"
	"netspot/core/sink"
)

// message is one MQTT publication.
type message struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
}

// Payloads of P/status and P/alarm/state.
const (
	statusOnline  = "online"
	statusOffline = "offline"
	alarmOn       = "ON"
	alarmOff      = "OFF"
	haOnline      = "online" // Home Assistant's birth message
)

// topics are the names under P = <topic_prefix>/<node_id>.
type topics struct {
	base       string // P
	status     string // P/status
	version    string // P/version
	stats      string // P/stats
	alarm      string // P/alarm
	alarmState string // P/alarm/state
	haStatus   string // <discovery_prefix>/status
	discovery  string // <discovery_prefix>
	nodeID     string
}

func newTopics(prefix, nodeID, discoveryPrefix string) topics {
	base := prefix + "/" + nodeID
	return topics{
		base:       base,
		status:     base + "/status",
		version:    base + "/version",
		stats:      base + "/stats",
		alarm:      base + "/alarm",
		alarmState: base + "/alarm/state",
		haStatus:   discoveryPrefix + "/status",
		discovery:  discoveryPrefix,
		nodeID:     nodeID,
	}
}

func (t *topics) stat(name string) string { return t.base + "/stat/" + name }

// batch is what one Record gives to publish: P/stats and one P/stat/<STAT>
// per published statistic. All payloads share one buffer.
type batch struct {
	msgs []message
}

// buildBatch encodes the published statistics of r. keep says which
// statistics are published (nil: all). scratch is reused between calls to
// filter r's statistics without allocating.
func buildBatch(r *event.Record, keep map[string]bool, t *topics, statTopics map[string]string, qos byte, scratch []event.Stat) (*batch, []event.Stat) {
	fr := *r
	if keep != nil {
		scratch = scratch[:0]
		for i := range r.Stats {
			if keep[r.Stats[i].Name] {
				scratch = append(scratch, r.Stats[i])
			}
		}
		fr.Stats = scratch
	}
	// Offsets first, slices at the end: the buffer may move while it grows.
	ends := make([]int, 0, 1+len(fr.Stats))
	buf := make([]byte, 0, 256+200*len(fr.Stats))
	buf = event.AppendDataJSON(buf, &fr)
	ends = append(ends, len(buf))
	for i := range fr.Stats {
		buf = appendStatState(buf, &fr.Stats[i], r.End)
		ends = append(ends, len(buf))
	}
	b := &batch{msgs: make([]message, 0, len(ends))}
	b.msgs = append(b.msgs, message{topic: t.stats, payload: buf[:ends[0]:ends[0]], qos: qos})
	for i := range fr.Stats {
		name := fr.Stats[i].Name
		topic, ok := statTopics[name]
		if !ok {
			topic = t.stat(name)
			statTopics[name] = topic
		}
		b.msgs = append(b.msgs, message{topic: topic, payload: buf[ends[i]:ends[i+1]:ends[i+1]], qos: qos})
	}
	return b, scratch
}

// appendStatState appends the state of one statistic's sensor:
// AppendStatJSON's object with the end of the window added.
func appendStatState(b []byte, s *event.Stat, end time.Time) []byte {
	b = event.AppendStatJSON(b, s)
	b = b[:len(b)-1] // reopen the object
	b = append(b, `,"end":`...)
	b = event.AppendTime(b, end)
	return append(b, '}')
}

// alarmPayload encodes an alarm as published on P/alarm and stored.
func alarmPayload(a *event.Alarm) []byte {
	return event.AppendAlarmJSON(make([]byte, 0, 256), a)
}

// haDevice is the device block shared by every entity of one box.
type haDevice struct {
	Identifiers  []string `json:"identifiers"`
	Name         string   `json:"name"`
	Manufacturer string   `json:"manufacturer"`
	Model        string   `json:"model"`
	SWVersion    string   `json:"sw_version,omitempty"`
}

// haOrigin says which software published the discovery config.
type haOrigin struct {
	Name       string `json:"name"`
	SWVersion  string `json:"sw_version,omitempty"`
	SupportURL string `json:"support_url,omitempty"`
}

// haEntity holds the keys of a discovery config that netspot uses.
type haEntity struct {
	Name                string   `json:"name"`
	UniqueID            string   `json:"unique_id"`
	DefaultEntityID     string   `json:"default_entity_id"`
	StateTopic          string   `json:"state_topic"`
	ValueTemplate       string   `json:"value_template,omitempty"`
	JSONAttributesTopic string   `json:"json_attributes_topic,omitempty"`
	UnitOfMeasurement   string   `json:"unit_of_measurement,omitempty"`
	StateClass          string   `json:"state_class,omitempty"`
	DeviceClass         string   `json:"device_class,omitempty"`
	PayloadOn           string   `json:"payload_on,omitempty"`
	PayloadOff          string   `json:"payload_off,omitempty"`
	Icon                string   `json:"icon,omitempty"`
	EventTypes          []string `json:"event_types,omitempty"`
	AvailabilityTopic   string   `json:"availability_topic"`
	PayloadAvailable    string   `json:"payload_available"`
	PayloadNotAvailable string   `json:"payload_not_available"`
	QoS                 int      `json:"qos"`
	Device              haDevice `json:"device"`
	Origin              haOrigin `json:"origin"`
}

// alarmEventType is the one event type of the alarm event entity.
const alarmEventType = "alarm"

// alarmEventTemplate turns an alarm as published on P/alarm into the
// payload of a Home Assistant MQTT event: a JSON object with event_type and
// the alarm's fields as the event's attributes. The alarm's own payload is
// left as every other output writes it; undefined numbers stay null.
const alarmEventTemplate = `{"event_type":"` + alarmEventType + `"` +
	`,"id":{{ value_json.id | to_json }}` +
	`,"stat":{{ value_json.stat | to_json }}` +
	`,"side":{{ value_json.side | to_json }}` +
	`,"value":{{ value_json.value | to_json }}` +
	`,"threshold":{{ value_json.threshold | to_json }}` +
	`,"probability":{{ value_json.probability | to_json }}` +
	`,"start":{{ value_json.start | to_json }}` +
	`,"end":{{ value_json.end | to_json }}}`

// discoveryMessages returns the retained Home Assistant configs: one sensor
// per published statistic, the alarm binary sensor (ON while any alarm is
// active) and the alarm event entity (one event per alarm raised, for
// automations).
func discoveryMessages(t *topics, stats []sink.StatInfo, version string, qosStats, qosAlarms byte) []message {
	slug := "netspot_" + entitySlug(t.nodeID)
	dev := haDevice{
		Identifiers:  []string{slug},
		Name:         "netspot " + t.nodeID,
		Manufacturer: "netspot",
		Model:        "netspot network anomaly detector",
		SWVersion:    version,
	}
	origin := haOrigin{Name: "netspot", SWVersion: version}
	base := func(e *haEntity) {
		e.AvailabilityTopic = t.status
		e.PayloadAvailable = statusOnline
		e.PayloadNotAvailable = statusOffline
		e.Device = dev
		e.Origin = origin
	}
	out := make([]message, 0, len(stats)+2)
	for _, s := range stats {
		obj := t.nodeID + "_" + s.Name
		e := haEntity{
			Name:                s.Name,
			UniqueID:            slug + "_" + entitySlug(s.Name),
			DefaultEntityID:     "sensor." + slug + "_" + entitySlug(s.Name),
			StateTopic:          t.stat(s.Name),
			ValueTemplate:       "{{ value_json.value }}",
			JSONAttributesTopic: t.stat(s.Name),
			UnitOfMeasurement:   s.Unit,
			StateClass:          "measurement",
			Icon:                "mdi:chart-bell-curve",
			QoS:                 int(qosStats),
		}
		base(&e)
		out = append(out, message{topic: t.discovery + "/sensor/" + obj + "/config", payload: mustJSON(&e), qos: 1, retain: true})
	}
	e := haEntity{
		Name:            "Alarm",
		UniqueID:        slug + "_alarm",
		DefaultEntityID: "binary_sensor." + slug + "_alarm",
		StateTopic:      t.alarmState,
		DeviceClass:     "problem",
		PayloadOn:       alarmOn,
		PayloadOff:      alarmOff,
		QoS:             int(qosAlarms),
	}
	base(&e)
	out = append(out, message{topic: t.discovery + "/binary_sensor/" + t.nodeID + "_alarm/config", payload: mustJSON(&e), qos: 1, retain: true})
	// Home Assistant ignores retained messages on an event's topic; P/alarm
	// is never retained.
	ev := haEntity{
		Name:            "Alarms",
		UniqueID:        slug + "_alarms",
		DefaultEntityID: "event." + slug + "_alarms",
		StateTopic:      t.alarm,
		ValueTemplate:   alarmEventTemplate,
		EventTypes:      []string{alarmEventType},
		Icon:            "mdi:shield-alert",
		QoS:             int(qosAlarms),
	}
	base(&ev)
	out = append(out, message{topic: t.discovery + "/event/" + t.nodeID + "_alarms/config", payload: mustJSON(&ev), qos: 1, retain: true})
	return out
}

// entitySlug makes s usable in a Home Assistant entity id, which allows
// only lower-case letters, digits and underscores.
func entitySlug(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '_'
	}, s)
}

// mustJSON marshals values whose types cannot fail to marshal.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("mqtt: marshal discovery config: " + err.Error()) // only strings and ints: cannot happen
	}
	return b
}
