package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/sink"
	"netspot/core/sink/sinktest"
)

func TestPublishesEveryTopic(t *testing.T) {
	in := newInbox()
	b := startMochi(t, "", in)
	rg := openRig(t, testConfig(t, b.addr), sink.Live)
	s := rg.s

	r := record(1, "a-001")
	rg.publish(r)
	in.waitUntil(t, "stats", func() bool { return len(in.on("netspot/box1/stat/TRAFFIC")) == 1 })
	in.waitUntil(t, "alarm state", func() bool { return b.retained("netspot/box1/alarm/state") == "ON" })
	if ok, since := s.Connected(); !ok || since.IsZero() {
		t.Errorf("Connected() = %v, %v after a delivery", ok, since)
	}

	if got, want := in.on("netspot/box1/stats")[0], string(event.AppendDataJSON(nil, r)); got != want {
		t.Errorf("P/stats:\n got %s\nwant %s", got, want)
	}
	if got, want := in.on("netspot/box1/alarm"), []string{string(event.AppendAlarmJSON(nil, &r.Alarms[0]))}; !slices.Equal(got, want) {
		t.Errorf("P/alarm:\n got %q\nwant %q", got, want)
	}
	wantSyn := `{"value":0.25,"up":0.5,"down":null,"alarm":true,"alarm_id":"a-001","end":"2026-03-01T12:00:02Z"}`
	if got := in.on("netspot/box1/stat/R_SYN"); !slices.Equal(got, []string{wantSyn}) {
		t.Errorf("P/stat/R_SYN = %q, want %q", got, wantSyn)
	}
	wantTraffic := `{"value":1,"up":null,"down":null,"alarm":false,"learning":true,"end":"2026-03-01T12:00:02Z"}`
	if got := in.on("netspot/box1/stat/TRAFFIC"); !slices.Equal(got, []string{wantTraffic}) {
		t.Errorf("P/stat/TRAFFIC = %q, want %q", got, wantTraffic)
	}
	for _, p := range in.prefixed("netspot/") {
		if !json.Valid([]byte(p.payload)) && p.payload != "online" && p.payload != "ON" && p.payload != "OFF" && p.topic != "netspot/box1/version" {
			t.Errorf("%s: payload is neither JSON nor a state: %q", p.topic, p.payload)
		}
	}
	if got := b.retained("netspot/box1/version"); got != "1.2.3" {
		t.Errorf("retained version = %q, want the version of the Env", got)
	}
	if got := b.retained("netspot/box1/status"); got != "online" {
		t.Errorf("retained status = %q, want online", got)
	}
	if b.retained("netspot/box1/stats") != "" || b.retained("netspot/box1/alarm") != "" {
		t.Error("stats or alarm messages are retained; only status, version, alarm state and discovery should be")
	}

	// The alarm ends: the state goes back to OFF.
	rg.publish(record(2))
	in.waitUntil(t, "alarm state OFF", func() bool { return b.retained("netspot/box1/alarm/state") == "OFF" })
	if n := s.PendingAlarms(); n != 0 {
		t.Errorf("%d alarms still pending after delivery", n)
	}
	if files, _ := filepath.Glob(filepath.Join(rg.cfg.StoreDir, "*"+alarmExt)); len(files) != 0 {
		t.Errorf("delivered alarm files still in store_dir: %v", files)
	}

	if err := rg.close(); err != nil {
		t.Fatal(err)
	}
	if got := b.retained("netspot/box1/status"); got != "offline" {
		t.Errorf("retained status after Close = %q, want offline", got)
	}
	if ok, _ := s.Connected(); ok {
		t.Error("Connected() true after Close")
	}
	if st := rg.stats(); st.Delivered != 2 || st.Retries != 0 || st.DroppedRecords != 0 {
		t.Errorf("fan-out counters %+v", st)
	}
	if err := s.Write(record(3)); !errors.Is(err, ErrClosed) || sink.IsUnreachable(err) {
		t.Errorf("Write after Close = %v, want ErrClosed (not to be retried)", err)
	}
	if err := s.Persist(record(3, "late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Persist after Close = %v, want ErrClosed", err)
	}
}

// TestQoS2: with qos_alarms = 2 the alarms go out at QoS 2, in order, and
// leave the store once the broker has completed the exchange; statistics go
// at qos_stats, the status at 1.
func TestQoS2(t *testing.T) {
	in := newInbox()
	b := startMochi(t, "", in)
	cfg := testConfig(t, b.addr)
	cfg.QoSAlarms, cfg.QoSStats = 2, 1
	rg := openRig(t, cfg, sink.Live)
	rg.publish(alarmRecords("q-", 1, 5)...)
	in.waitUntil(t, "alarms and stats", func() bool {
		return len(in.on("netspot/box1/alarm")) == 5 && len(in.on("netspot/box1/stats")) == 5
	})
	if got, want := alarmIDs(in.on("netspot/box1/alarm")), seqIDs("q-", 1, 5); !slices.Equal(got, want) {
		t.Errorf("alarms %v, want %v", got, want)
	}
	for _, m := range in.prefixed("netspot/box1/") {
		want := byte(1)
		if m.topic == "netspot/box1/alarm" || m.topic == "netspot/box1/alarm/state" {
			want = 2
		}
		if m.qos != want {
			t.Errorf("%s: QoS %d, want %d", m.topic, m.qos, want)
		}
	}
	eventually(t, "empty store", func() bool { return rg.s.PendingAlarms() == 0 })
	if files, _ := filepath.Glob(filepath.Join(cfg.StoreDir, "*"+alarmExt)); len(files) != 0 {
		t.Errorf("alarm files left after delivery: %v", files)
	}
}

// birthSeen reports whether the sink took note of Home Assistant's birth.
func birthSeen(s *Sink) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.birth
}

func TestHomeAssistantDiscovery(t *testing.T) {
	in := newInbox()
	b := startMochi(t, "", in)
	rg := openRig(t, testConfig(t, b.addr), sink.Live)
	rg.publish(record(1))
	in.waitUntil(t, "discovery and first states", func() bool {
		return b.retained("homeassistant/binary_sensor/box1_alarm/config") != "" && len(in.on("netspot/box1/stat/R_SYN")) == 1
	})

	var cfg map[string]any
	if err := json.Unmarshal([]byte(b.retained("homeassistant/sensor/box1_TRAFFIC/config")), &cfg); err != nil {
		t.Fatalf("TRAFFIC config: %v", err)
	}
	want := map[string]any{
		"name":                  "TRAFFIC",
		"unique_id":             "netspot_box1_traffic",
		"default_entity_id":     "sensor.netspot_box1_traffic",
		"state_topic":           "netspot/box1/stat/TRAFFIC",
		"json_attributes_topic": "netspot/box1/stat/TRAFFIC",
		"value_template":        "{{ value_json.value }}",
		"unit_of_measurement":   "pkt/s",
		"state_class":           "measurement",
		"availability_topic":    "netspot/box1/status",
		"payload_available":     "online",
		"payload_not_available": "offline",
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("TRAFFIC config %s = %v, want %v", k, cfg[k], v)
		}
	}
	if _, ok := cfg["object_id"]; ok {
		t.Error("config uses object_id, which Home Assistant no longer honours")
	}
	dev, _ := cfg["device"].(map[string]any)
	if ids, _ := dev["identifiers"].([]any); len(ids) != 1 || ids[0] != "netspot_box1" || dev["name"] != "netspot box1" || dev["sw_version"] != "1.2.3" || dev["model"] == "" {
		t.Errorf("device block = %v", dev)
	}
	if o, _ := cfg["origin"].(map[string]any); o["name"] != "netspot" {
		t.Errorf("origin block = %v", cfg["origin"])
	}
	var syn map[string]any
	if err := json.Unmarshal([]byte(b.retained("homeassistant/sensor/box1_R_SYN/config")), &syn); err != nil {
		t.Fatal(err)
	}
	if _, ok := syn["unit_of_measurement"]; ok {
		t.Error("R_SYN (a ratio) has a unit")
	}
	var al map[string]any
	if err := json.Unmarshal([]byte(b.retained("homeassistant/binary_sensor/box1_alarm/config")), &al); err != nil {
		t.Fatal(err)
	}
	if al["state_topic"] != "netspot/box1/alarm/state" || al["payload_on"] != "ON" || al["payload_off"] != "OFF" ||
		al["default_entity_id"] != "binary_sensor.netspot_box1_alarm" || al["device_class"] != "problem" {
		t.Errorf("alarm binary sensor config = %v", al)
	}

	// Home Assistant restarts: its birth message brings the configs, the
	// alarm state and the states again with the next period.
	configs := len(in.on("homeassistant/sensor/box1_R_SYN/config"))
	states := len(in.on("netspot/box1/alarm/state"))
	b.publish(t, "homeassistant/status", "online", false)
	eventually(t, "birth noticed", func() bool { return birthSeen(rg.s) })
	rg.publish(record(2))
	in.waitUntil(t, "configs and states re-sent", func() bool {
		return len(in.on("homeassistant/sensor/box1_R_SYN/config")) == configs+1 &&
			len(in.on("homeassistant/binary_sensor/box1_alarm/config")) == configs+1 &&
			len(in.on("netspot/box1/stat/R_SYN")) == 2 && len(in.on("netspot/box1/stat/TRAFFIC")) == 2
	})
	if n := len(in.on("netspot/box1/alarm/state")); n != states+1 {
		t.Errorf("alarm state sent %d times, want %d (again after the birth)", n, states+1)
	}
	if n := len(in.on("netspot/box1/stats")); n != 2 {
		t.Errorf("P/stats published %d times, want 2 (one per period)", n)
	}
	// "offline" from Home Assistant changes nothing.
	b.publish(t, "homeassistant/status", "offline", false)
	rg.publish(record(3))
	in.waitUntil(t, "next state", func() bool { return len(in.on("netspot/box1/stat/R_SYN")) == 3 })
	if n := len(in.on("homeassistant/sensor/box1_R_SYN/config")); n != configs+1 {
		t.Errorf("configs sent %d times, want %d", n, configs+1)
	}
}

// Entity ids allow only [a-z0-9_]: a node id with '-' or capitals is
// turned into a valid one, while topics keep it as it is.
func TestDiscoveryEntityIDsAreValid(t *testing.T) {
	tp := newTopics("netspot", "Lab-Pi", "homeassistant")
	msgs := discoveryMessages(&tp, []sink.StatInfo{{Name: "R_SYN"}, {Name: "DST-PORTS"}}, "1", 0, 1)
	want := map[string]string{
		"homeassistant/sensor/Lab-Pi_R_SYN/config":        "sensor.netspot_lab_pi_r_syn",
		"homeassistant/sensor/Lab-Pi_DST-PORTS/config":    "sensor.netspot_lab_pi_dst_ports",
		"homeassistant/binary_sensor/Lab-Pi_alarm/config": "binary_sensor.netspot_lab_pi_alarm",
		"homeassistant/event/Lab-Pi_alarms/config":        "event.netspot_lab_pi_alarms",
	}
	if len(msgs) != len(want) {
		t.Fatalf("%d configs, want %d", len(msgs), len(want))
	}
	for _, m := range msgs {
		var cfg struct {
			DefaultEntityID string `json:"default_entity_id"`
			StateTopic      string `json:"state_topic"`
		}
		if err := json.Unmarshal(m.payload, &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.DefaultEntityID != want[m.topic] {
			t.Errorf("%s: default_entity_id %q, want %q", m.topic, cfg.DefaultEntityID, want[m.topic])
		}
		if !strings.HasPrefix(cfg.StateTopic, "netspot/Lab-Pi/") {
			t.Errorf("%s: state_topic %q", m.topic, cfg.StateTopic)
		}
		if !m.retain || m.qos != 1 {
			t.Errorf("%s: retain %v qos %d, want retained QoS 1", m.topic, m.retain, m.qos)
		}
	}
}

func TestDiscoveryDisabledAndStatFilter(t *testing.T) {
	in := newInbox()
	b := startMochi(t, "", in)
	cfg := testConfig(t, b.addr)
	cfg.HomeAssistant = false
	cfg.Stats = []string{"TRAFFIC"}
	cfg.TopicPrefix = "site/a"
	rg := openRig(t, cfg, sink.Live)
	rg.publish(record(1))
	in.waitUntil(t, "stats", func() bool { return len(in.on("site/a/box1/stats")) == 1 })
	if got := in.on("site/a/box1/stat/R_SYN"); len(got) != 0 {
		t.Errorf("R_SYN published although not in stats: %q", got)
	}
	if got := in.on("site/a/box1/stats")[0]; strings.Contains(got, "R_SYN") || !strings.Contains(got, `"TRAFFIC":`) {
		t.Errorf("P/stats = %s, want TRAFFIC only", got)
	}
	if got := in.prefixed("homeassistant/"); len(got) != 0 {
		t.Errorf("discovery published although disabled: %v", got)
	}

	cfg.Stats = []string{"NOPE"}
	cfg.StoreDir = t.TempDir()
	_, err := (&cfg).New(testEnv(slogDiscard()))
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Key != "stats" {
		t.Errorf("unknown statistic: err = %v, want a FieldError on stats", err)
	}
}

// TestPersistedBeforePublishReturns: once Publish has returned, the alarms
// of its Record are on disk, where a restart finds them, and no sink has
// seen a later window before they were: a second sink, behind the MQTT
// sink in the fan-out, finds every alarm up to the window it is given
// already stored.
func TestPersistedBeforePublishReturns(t *testing.T) {
	addr, _ := downAddr(t)
	cfg := testConfig(t, addr)
	log, _ := testLog()
	s := newTestSink(t, cfg, log)
	f := sink.NewFanOut(log, sink.Replay)
	f.Add("mqtt", s, retryFast(cfg))
	var mu sync.Mutex
	var late []string
	other := &sinktest.Recorder{Fail: func(n int) error {
		// The other sink is given window n+1; every alarm up to it
		// must be on disk (later ones may be too).
		got, err := snapshotStore(cfg.StoreDir)
		if want := seqIDs("p-", 1, n+1); err != nil || len(got) < len(want) || !slices.Equal(got[:len(want)], want) {
			mu.Lock()
			late = append(late, fmt.Sprintf("window %d: %v %v", n+1, got, err))
			mu.Unlock()
		}
		return nil
	}}
	f.Add("other", other, sink.QueueOptions{})
	for k := 1; k <= 5; k++ {
		f.Publish(t.Context(), record(k, seqIDs("p-", k, k)...))
		if got, want := storedOnDisk(t, cfg.StoreDir), seqIDs("p-", 1, k); !slices.Equal(got, want) {
			t.Fatalf("after Publish of window %d, a restart finds %v, want %v", k, got, want)
		}
	}
	eventually(t, "the other sink's records", func() bool { return len(other.Records()) == 5 })
	mu.Lock()
	if late != nil {
		t.Errorf("the other sink got windows before their alarms were stored: %v", late)
	}
	mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = f.Close(ctx)
	if got := storedOnDisk(t, cfg.StoreDir); !slices.Equal(got, seqIDs("p-", 1, 5)) {
		t.Errorf("after Close without a broker, store_dir holds %v", got)
	}
}

// TestBrokerDownAtStart: alarms wait on disk while the broker is away, and
// the fan-out's short queue drops periods of statistics but no alarm; once
// the broker comes up every alarm arrives once, in order, and statistics
// resume.
func TestBrokerDownAtStart(t *testing.T) {
	addr, up := downAddr(t)
	cfg := testConfig(t, addr)
	cfg.StatsQueue = 3
	rg := openRig(t, cfg, sink.Live)
	rg.publish(alarmRecords("down-", 1, 10)...)
	if n := rg.s.PendingAlarms(); n != 10 {
		t.Errorf("PendingAlarms() = %d, want 10", n)
	}
	eventually(t, "a failed attempt", func() bool { return rg.stats().Retries > 0 })
	if ok, _ := rg.s.Connected(); ok {
		t.Fatal("connected without a broker")
	}
	st := rg.stats()
	if st.DroppedRecords != 7 || st.DroppedAlarms != 0 || st.Queued != 3 {
		t.Errorf("while the broker is down: %+v; want 3 periods queued, 7 dropped, no alarm lost", st)
	}

	in := newInbox()
	up()
	startMochi(t, addr, in)
	in.waitUntil(t, "all alarms", func() bool { return len(in.on("netspot/box1/alarm")) >= 10 })
	rg.publish(record(11))
	in.waitUntil(t, "statistics again", func() bool {
		return slices.Contains(windows(in.on("netspot/box1/stats")), windowStart(11))
	})
	if got, want := alarmIDs(in.on("netspot/box1/alarm")), seqIDs("down-", 1, 10); !slices.Equal(got, want) {
		t.Errorf("alarms received %v, want %v", got, want)
	}
	if ok, since := rg.s.Connected(); !ok || since.IsZero() {
		t.Errorf("Connected() = %v, %v after delivery", ok, since)
	}
	if err := rg.close(); err != nil {
		t.Fatal(err)
	}
	if n := count(rg.log, "sink unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, rg.log)
	}
	if n := count(rg.log, "sink reachable again"); n != 1 {
		t.Errorf("the end of the outage was logged %d times, want once:\n%s", n, rg.log)
	}
}

// TestBrokerRestart: the broker goes away mid-run and comes back on the
// same port; alarms raised meanwhile arrive once, in order.
func TestBrokerRestart(t *testing.T) {
	in := newInbox()
	b := startMochi(t, "", in)
	addr := b.addr
	rg := openRig(t, testConfig(t, addr), sink.Live)
	rg.publish(alarmRecords("r-", 1, 3)...)
	in.waitUntil(t, "first alarms", func() bool { return len(in.on("netspot/box1/alarm")) == 3 })
	eventually(t, "store empty", func() bool { return rg.s.PendingAlarms() == 0 })

	b.stop()
	_, up := reserve(t, addr)
	eventually(t, "disconnection noticed", func() bool { ok, _ := rg.s.Connected(); return !ok })
	rg.publish(alarmRecords("r-", 4, 8)...)
	in2 := newInbox()
	up()
	startMochi(t, addr, in2)
	in2.waitUntil(t, "alarms after restart", func() bool { return len(in2.on("netspot/box1/alarm")) >= 5 })
	got := append(alarmIDs(in.on("netspot/box1/alarm")), alarmIDs(in2.on("netspot/box1/alarm"))...)
	if want := seqIDs("r-", 1, 8); !slices.Equal(got, want) {
		t.Errorf("alarms %v, want %v", got, want)
	}
	in2.waitUntil(t, "online again", func() bool { return slices.Contains(in2.on("netspot/box1/status"), "online") })
	if err := rg.close(); err != nil { // before the broker stops
		t.Fatal(err)
	}
}

// TestRestartWithUndeliveredAlarms: netspot stops while alarms wait; the
// next run delivers them once, in order, before its own, and a third run
// sends nothing again.
func TestRestartWithUndeliveredAlarms(t *testing.T) {
	addr, up := downAddr(t)
	cfg := testConfig(t, addr)
	rg1 := openRig(t, cfg, sink.Live)
	rg1.publish(alarmRecords("u-", 1, 6)...)
	if err := rg1.closeWithin(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}

	in := newInbox()
	up()
	startMochi(t, addr, in)
	rg2 := openRig(t, cfg, sink.Live)
	if n := rg2.s.PendingAlarms(); n != 6 {
		t.Errorf("second run found %d stored alarms, want 6", n)
	}
	rg2.publish(record(7, "u-007"))
	in.waitUntil(t, "stored alarms", func() bool { return len(in.on("netspot/box1/alarm")) >= 7 })
	eventually(t, "store empty", func() bool { return rg2.s.PendingAlarms() == 0 })
	if err := rg2.close(); err != nil {
		t.Fatal(err)
	}
	if got, want := alarmIDs(in.on("netspot/box1/alarm")), seqIDs("u-", 1, 7); !slices.Equal(got, want) {
		t.Errorf("alarms %v, want %v", got, want)
	}

	rg3 := openRig(t, cfg, sink.Live)
	if n := rg3.s.PendingAlarms(); n != 0 {
		t.Errorf("third run found %d stored alarms; acknowledged alarms must not come back", n)
	}
	rg3.publish(record(8))
	in.waitUntil(t, "third run's stats", func() bool { return len(in.on("netspot/box1/stats")) == 2 })
	if err := rg3.close(); err != nil {
		t.Fatal(err)
	}
	if n := len(in.on("netspot/box1/alarm")); n != 7 {
		t.Errorf("%d alarms received in all, want 7", n)
	}
}

func TestStoreFullDropsOldestAlarm(t *testing.T) {
	addr, up := downAddr(t)
	cfg := testConfig(t, addr)
	cfg.StoreMax = 3
	rg := openRig(t, cfg, sink.Live)
	rg.publish(alarmRecords("f-", 1, 5)...)
	if got := rg.s.DroppedAlarms(); got != 2 {
		t.Errorf("DroppedAlarms() = %d, want 2", got)
	}
	for _, id := range []string{"f-001", "f-002"} {
		if n := count(rg.log, "level=ERROR msg=\"alarm store full: oldest undelivered alarm dropped\" sink=mqtt reason=\"store_max reached\" alarm_id="+id); n != 1 {
			t.Errorf("drop of %s logged %d times as an error, want once:\n%s", id, n, rg.log)
		}
	}
	in := newInbox()
	up()
	startMochi(t, addr, in)
	in.waitUntil(t, "alarms", func() bool { return len(in.on("netspot/box1/alarm")) >= 3 })
	if got, want := alarmIDs(in.on("netspot/box1/alarm")), seqIDs("f-", 3, 5); !slices.Equal(got, want) {
		t.Errorf("alarms %v, want %v", got, want)
	}
	// Closed before the broker stops: the three are delivered, and the
	// two the full store gave up are reported with the sink's losses.
	if err := rg.close(); err == nil || !strings.Contains(err.Error(), "sink mqtt: 2 alarms were not delivered") {
		t.Fatalf("close: %v, want the 2 alarms the store dropped reported", err)
	}
	if st := rg.f.Stats()[0]; st.DroppedAlarms != 2 {
		t.Errorf("stats %+v: want the store's 2 dropped alarms", st)
	}
}

// TestWillOnAbruptLoss: when the connection dies without a DISCONNECT the
// broker publishes the retained "offline" will; the next period reconnects
// and says "online" again.
func TestWillOnAbruptLoss(t *testing.T) {
	in := newInbox()
	b := startMochi(t, "", in)
	cfg := testConfig(t, b.addr)
	cfg.KeepAlive = config.Duration(time.Second) // paho notices the loss within 2s
	rg := openRig(t, cfg, sink.Live)
	rg.publish(record(1))
	eventually(t, "first period delivered", func() bool { return rg.stats().Delivered == 1 })
	rg.s.mu.Lock()
	rg.s.sess.closeConn() // the network goes away under paho's feet
	rg.s.mu.Unlock()
	in.waitUntil(t, "will", func() bool { return slices.Equal(in.on("netspot/box1/status"), []string{"online", "offline"}) })
	eventually(t, "loss noticed", func() bool { ok, _ := rg.s.Connected(); return !ok })
	rg.publish(record(2))
	in.waitUntil(t, "online again", func() bool {
		return slices.Equal(in.on("netspot/box1/status"), []string{"online", "offline", "online"})
	})
	in.waitUntil(t, "second period", func() bool { return len(in.on("netspot/box1/stats")) == 2 })
	if got := b.retained("netspot/box1/status"); got != "online" {
		t.Errorf("retained status %q, want online", got)
	}
	if n := count(rg.log, "connection to broker lost"); n != 1 {
		t.Errorf("loss logged %d times, want once:\n%s", n, rg.log)
	}
}

// TestCloseWithoutBroker: closing with alarms waiting and no broker returns
// (the fan-out gives up what is queued when its context ends), and the
// alarms stay in store_dir for the next start.
func TestCloseWithoutBroker(t *testing.T) {
	addr, _ := downAddr(t)
	cfg := testConfig(t, addr)
	rg := openRig(t, cfg, sink.Live)
	rg.publish(record(1, "c-001"))
	if err := rg.closeWithin(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := rg.s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := storedOnDisk(t, cfg.StoreDir); !slices.Equal(got, []string{"c-001"}) {
		t.Errorf("store_dir holds %v after Close, want c-001", got)
	}
	if n := count(rg.log, "kept for the next start"); n != 1 {
		t.Errorf("waiting alarms not reported at Close:\n%s", rg.log)
	}
}

// TestReplayWaitsForSlowBroker: a replay through a broker that takes its
// time (it holds the first period until the queue is full, then
// acknowledges each period after a pause) loses nothing: every window's
// statistics arrive, in order, and the alarm state goes ON and OFF as the
// windows say.
func TestReplayWaitsForSlowBroker(t *testing.T) {
	in := newInbox()
	b := startMochi(t, "", in)
	gate := make(chan struct{})
	if err := b.srv.AddHook(&slowHook{topic: "netspot/box1/stats", gate: gate}, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, b.addr)
	cfg.QoSStats = 1 // each period waits for its acknowledgement
	cfg.StatsQueue = 2
	cfg.KeepAlive = config.Duration(30 * time.Second)
	rg := openRig(t, cfg, sink.Replay)

	const n = 40
	var recs []*event.Record
	for k := range n {
		r := record(k)
		switch {
		case k == 10 || k == 30:
			r = record(k, seqIDs("s-", k, k)...)
		case k > 10 && k < 15, k == 31:
			r.Stats[0].AlarmID = seqIDs("s-", k-k%10, k-k%10)[0] // still active
		}
		recs = append(recs, r)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		rg.publish(recs...)
	}()
	eventually(t, "the queue full behind the held period", func() bool { return rg.stats().Queued == cfg.StatsQueue })
	close(gate)
	<-done
	if err := rg.close(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for k := range n {
		want = append(want, windowStart(k))
	}
	if got := windows(in.on("netspot/box1/stats")); !slices.Equal(got, want) {
		t.Errorf("windows received:\n%v\nwant\n%v", got, want)
	}
	if got, want := alarmIDs(in.on("netspot/box1/alarm")), []string{"s-010", "s-030"}; !slices.Equal(got, want) {
		t.Errorf("alarms %v, want %v", got, want)
	}
	if got, want := in.on("netspot/box1/alarm/state"), []string{"OFF", "ON", "OFF", "ON", "OFF"}; !slices.Equal(got, want) {
		t.Errorf("alarm states %v, want %v", got, want)
	}
	if st := rg.stats(); st.DroppedRecords != 0 || st.Delivered != n {
		t.Errorf("fan-out counters %+v", st)
	}
}

// slowHook holds the first message on topic until gate is closed, then
// takes a millisecond over each.
type slowHook struct {
	mochi.HookBase
	topic string
	gate  chan struct{}
}

func (h *slowHook) ID() string { return "slow" }

func (h *slowHook) Provides(b byte) bool { return b == mochi.OnPublish }

func (h *slowHook) OnPublish(_ *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.TopicName == h.topic {
		select {
		case <-h.gate:
		case <-time.After(waitFor):
		}
		time.Sleep(time.Millisecond)
	}
	return pk, nil
}

func TestStoreDirLockedAgainstSecondInstance(t *testing.T) {
	cfg := testConfig(t, freeAddr(t))
	s := newTestSink(t, cfg, slogDiscard())
	defer s.Close()
	_, err := newSink(cfg, testEnv(slogDiscard()), testOptions())
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Key != "store_dir" || !strings.Contains(err.Error(), "another netspot") {
		t.Errorf("second sink on one store_dir: err = %v", err)
	}
}

// TestStoreDirErrorNamesTheKeyOnce: a store_dir that cannot be created is
// a FieldError for store_dir whose message gives the path and the cause
// without repeating the key, and keeps the cause for errors.Is.
func TestStoreDirErrorNamesTheKeyOnce(t *testing.T) {
	cfg := testConfig(t, freeAddr(t))
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.StoreDir = filepath.Join(file, "mqtt")
	_, err := newSink(cfg, testEnv(slogDiscard()), testOptions())
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Key != "store_dir" {
		t.Fatalf("err = %v, want a FieldError for store_dir", err)
	}
	if msg := err.Error(); strings.Count(msg, "store_dir") != 1 || !strings.Contains(msg, file) {
		t.Errorf("message %q: want the key once and the path", msg)
	}
	if !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("err = %v: the cause (ENOTDIR) is lost", err)
	}
}

func TestNodeIDFromHostnameUsedByDefault(t *testing.T) {
	in := newInbox()
	b := startMochi(t, "", in)
	cfg := testConfig(t, b.addr)
	cfg.NodeID = ""
	rg := openRig(t, cfg, sink.Live)
	if rg.s.NodeID() != "testhost" {
		t.Errorf("NodeID() = %q", rg.s.NodeID())
	}
	rg.publish(record(1))
	in.waitUntil(t, "status", func() bool { return b.retained("netspot/testhost/status") == "online" })
}

// TestFactory: the factory makes the sink from its section, and the
// section shapes the sink's queue.
func TestFactory(t *testing.T) {
	f := Factory()
	if f.Name != "mqtt" || f.Section != "exporter.mqtt" || f.Comment == "" {
		t.Errorf("factory %+v", f)
	}
	c := f.Config()
	cfg, ok := c.(*Config)
	if !ok {
		t.Fatalf("Config() gives %T", c)
	}
	if c.Enabled() {
		t.Error("enabled by default")
	}
	cfg.Enable = true
	cfg.StoreDir = t.TempDir()
	cfg.NodeID = "box1"
	cfg.StatsQueue = 42
	cfg.ReconnectMax = config.Duration(7 * time.Second)
	if !c.Enabled() {
		t.Error("enabled = true not reported")
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if q := c.(sink.Queued).Queue(); q != (sink.QueueOptions{Len: 42, RetryMin: time.Second, RetryMax: 7 * time.Second}) {
		t.Errorf("Queue() = %+v", q)
	}
	s, err := c.New(testEnv(slogDiscard()))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(sink.Persister); !ok {
		t.Error("the sink does not store alarms before publishing (not a Persister)")
	}
	if _, ok := s.(sink.Uplink); !ok {
		t.Error("the sink does not tell the board about the broker (not an Uplink)")
	}
}

// TestWebSocket publishes through a ws:// listener, as to a broker behind a
// reverse proxy.
func TestWebSocket(t *testing.T) {
	in := newInbox()
	addr := freeAddr(t)
	b := startMochiOn(t, listeners.NewWebsocket(listeners.Config{ID: "ws", Address: addr}), addr, in)
	rg := openRig(t, testConfig(t, "ws://"+addr+"/mqtt"), sink.Live)
	rg.publish(record(1, "ws-001"))
	in.waitUntil(t, "alarm over WebSocket", func() bool { return len(in.on("netspot/box1/alarm")) == 1 })
	if err := rg.close(); err != nil {
		t.Fatal(err)
	}
	if got := b.retained("netspot/box1/status"); got != "offline" {
		t.Errorf("status %q after Close", got)
	}
}

// A broker that accepts the client and ends the session soon after (a
// duplicate client id, an ACL) is not called again every period: the wait
// before the next connection doubles per short session, up to
// reconnect_max, and a session that lasted resets it.
func TestShortSessionsSpaceReconnections(t *testing.T) {
	cfg := testConfig(t, "127.0.0.1:1")
	cfg.ReconnectMax = config.Duration(time.Minute)
	log, _ := testLog()
	s := newTestSink(t, cfg, log)
	defer s.Close()
	now := time.Now()
	fake := func(start time.Time) *session {
		sess := &session{lost: make(chan struct{}), start: start}
		sess.client = paho.NewClient(s.clientOptions(sess))
		return sess
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		s.mu.Lock()
		s.sess = fake(now.Add(-time.Second))
		s.connected = true
		s.mu.Unlock()
		s.dropSession()
		if got := s.reconnectWait(); got > want || got < want-100*time.Millisecond {
			t.Errorf("after %d short sessions, wait %v, want %v", i+1, got, want)
		}
	}
	s.mu.Lock()
	s.sess = fake(now.Add(-time.Minute))
	s.connected = true
	s.mu.Unlock()
	s.dropSession()
	if got := s.reconnectWait(); got > 0 {
		t.Errorf("after a stable session, wait %v", got)
	}
}
