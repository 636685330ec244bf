package mqtt

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mochi-mqtt/server/v2/listeners"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/core/sink"
)

func TestPublishesEveryTopic(t *testing.T) {
	in := newInbox()
	b := startMochi(t, freeAddr(t), in)
	s := newTestSink(t, testConfig(t, b.addr), nil)
	eventually(t, "connection", func() bool { ok, _ := s.Connected(); return ok })

	a := alarm("a-001", 1)
	r := record(1, a)
	if err := s.Write(r); err != nil {
		t.Fatal(err)
	}
	in.waitUntil(t, "stats", func() bool { return len(in.on("netspot/box1/stat/TRAFFIC")) == 1 })
	in.waitUntil(t, "alarm state", func() bool { return b.retained("netspot/box1/alarm/state") == "ON" })

	if got, want := in.on("netspot/box1/stats")[0], string(event.AppendDataJSON(nil, r)); got != want {
		t.Errorf("P/stats:\n got %s\nwant %s", got, want)
	}
	if got, want := in.on("netspot/box1/alarm"), []string{string(event.AppendAlarmJSON(nil, &a))}; !slices.Equal(got, want) {
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
		if !json.Valid([]byte(p.payload)) && p.payload != "online" && p.payload != "ON" && p.payload != "OFF" {
			t.Errorf("%s: payload is neither JSON nor a state: %q", p.topic, p.payload)
		}
	}
	if got := b.retained("netspot/box1/status"); got != "online" {
		t.Errorf("retained status = %q, want online", got)
	}
	if b.retained("netspot/box1/stats") != "" || b.retained("netspot/box1/alarm") != "" {
		t.Error("stats or alarm messages are retained; only status, alarm state and discovery should be")
	}

	// The alarm ends: the state goes back to OFF.
	if err := s.Write(record(2)); err != nil {
		t.Fatal(err)
	}
	in.waitUntil(t, "alarm state OFF", func() bool { return b.retained("netspot/box1/alarm/state") == "OFF" })
	if n := s.PendingAlarms(); n != 0 {
		t.Errorf("%d alarms still pending after delivery", n)
	}
	entries, _ := os.ReadDir(s.cfg.StoreDir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), alarmExt) {
			t.Errorf("delivered alarm file %s still in store_dir", e.Name())
		}
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := b.retained("netspot/box1/status"); got != "offline" {
		t.Errorf("retained status after Close = %q, want offline", got)
	}
	if ok, _ := s.Connected(); ok {
		t.Error("Connected() true after Close")
	}
	if err := s.Write(record(3)); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

// TestQoS2: with qos_alarms = 2 the alarms go out at QoS 2, in order, and
// leave the store once the broker has completed the exchange; statistics go
// at qos_stats, the status at 1.
func TestQoS2(t *testing.T) {
	in := newInbox()
	b := startMochi(t, freeAddr(t), in)
	cfg := testConfig(t, b.addr)
	cfg.QoSAlarms, cfg.QoSStats = 2, 1
	s := newTestSink(t, cfg, nil)
	for k := 1; k <= 5; k++ {
		if err := s.Write(record(k, alarm(seqIDs("q-", k, k)[0], k))); err != nil {
			t.Fatal(err)
		}
	}
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
	eventually(t, "empty store", func() bool { return s.PendingAlarms() == 0 })
	if files, _ := filepath.Glob(filepath.Join(cfg.StoreDir, "*"+alarmExt)); len(files) != 0 {
		t.Errorf("alarm files left after delivery: %v", files)
	}
}

func TestHomeAssistantDiscovery(t *testing.T) {
	in := newInbox()
	b := startMochi(t, freeAddr(t), in)
	s := newTestSink(t, testConfig(t, b.addr), nil)
	in.waitUntil(t, "discovery", func() bool {
		return b.retained("homeassistant/binary_sensor/box1_alarm/config") != ""
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

	// Home Assistant restarts: its birth message brings the configs and the
	// latest states again.
	if err := s.Write(record(1)); err != nil {
		t.Fatal(err)
	}
	in.waitUntil(t, "first state", func() bool { return len(in.on("netspot/box1/stat/R_SYN")) == 1 })
	configs := len(in.on("homeassistant/sensor/box1_R_SYN/config"))
	b.publish(t, "homeassistant/status", "online", false)
	in.waitUntil(t, "configs and states re-sent", func() bool {
		return len(in.on("homeassistant/sensor/box1_R_SYN/config")) == configs+1 &&
			len(in.on("netspot/box1/stat/R_SYN")) == 2 && len(in.on("netspot/box1/stat/TRAFFIC")) == 2
	})
	if n := len(in.on("netspot/box1/stats")); n != 1 {
		t.Errorf("P/stats published %d times, want 1 (birth re-sends sensor states only)", n)
	}
	// "offline" from Home Assistant changes nothing.
	b.publish(t, "homeassistant/status", "offline", false)
	if err := s.Write(record(2)); err != nil {
		t.Fatal(err)
	}
	in.waitUntil(t, "next state", func() bool { return len(in.on("netspot/box1/stat/R_SYN")) == 3 })
	if n := len(in.on("homeassistant/sensor/box1_R_SYN/config")); n != configs+1 {
		t.Errorf("configs sent %d times, want %d", n, configs+1)
	}
}

// Entity ids allow only [a-z0-9_]: a node id with '-' or capitals is
// turned into a valid one, while topics keep it as it is.
func TestDiscoveryEntityIDsAreValid(t *testing.T) {
	tp := newTopics("netspot", "Lab-Pi", "homeassistant")
	msgs := discoveryMessages(&tp, []StatInfo{{Name: "R_SYN"}, {Name: "DST-PORTS"}}, "1", 0, 1)
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
	b := startMochi(t, freeAddr(t), in)
	cfg := testConfig(t, b.addr)
	cfg.HomeAssistant = false
	cfg.Stats = []string{"TRAFFIC"}
	cfg.TopicPrefix = "site/a"
	s := newTestSink(t, cfg, nil)
	if err := s.Write(record(1)); err != nil {
		t.Fatal(err)
	}
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
	_, err := newSink(cfg, testInfo(), nil, testOptions())
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Key != "stats" {
		t.Errorf("unknown statistic: err = %v, want a FieldError on stats", err)
	}
}

// TestBrokerDownAtStart: New returns at once, alarms wait on disk,
// statistics are dropped beyond the queue and counted, and once the broker
// comes up every alarm arrives once, in order.
func TestBrokerDownAtStart(t *testing.T) {
	addr := freeAddr(t)
	cfg := testConfig(t, addr)
	cfg.StatsQueue = 3
	ls := &logSink{}
	s := newTestSink(t, cfg, ls)
	eventually(t, "a failed attempt", func() bool { return ls.count("broker unreachable, retrying") > 0 })
	if ok, _ := s.Connected(); ok {
		t.Fatal("connected without a broker")
	}
	var want []string
	for k := 1; k <= 10; k++ {
		id := seqIDs("down-", k, k)[0]
		want = append(want, id)
		if err := s.Write(record(k, alarm(id, k))); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Dropped(); got != 7 {
		t.Errorf("Dropped() = %d, want 7 (10 periods, queue of 3)", got)
	}
	if ls.count("statistics are being dropped") != 1 {
		t.Errorf("drop warnings: %d, want exactly 1 per outage", ls.count("statistics are being dropped"))
	}
	if n := s.PendingAlarms(); n != 10 {
		t.Errorf("PendingAlarms() = %d, want 10", n)
	}
	if n := ls.count("broker unreachable, retrying"); n != 1 {
		t.Errorf("unreachable logged %d times, want once: %q", n, ls.all())
	}

	in := newInbox()
	b := startMochi(t, addr, in)
	in.waitUntil(t, "all alarms", func() bool { return len(in.on("netspot/box1/alarm")) >= 10 })
	if got := alarmIDs(in.on("netspot/box1/alarm")); !slices.Equal(got, want) {
		t.Errorf("alarms received %v, want %v", got, want)
	}
	in.waitUntil(t, "queued stats", func() bool { return len(in.on("netspot/box1/stats")) == 3 })
	if got := in.on("netspot/box1/stats"); !strings.Contains(got[0], `"start":"2026-03-01T12:00:08Z"`) {
		t.Errorf("first queued stats should be period 8 (the oldest kept): %s", got[0])
	}
	_ = b
	if ok, since := s.Connected(); !ok || since.IsZero() {
		t.Errorf("Connected() = %v, %v after delivery", ok, since)
	}
}

// TestBrokerRestart: the broker goes away mid-run and comes back on the
// same port; alarms raised meanwhile arrive once, in order.
func TestBrokerRestart(t *testing.T) {
	addr := freeAddr(t)
	in := newInbox()
	b := startMochi(t, addr, in)
	s := newTestSink(t, testConfig(t, addr), nil)
	for k := 1; k <= 3; k++ {
		if err := s.Write(record(k, alarm(seqIDs("r-", k, k)[0], k))); err != nil {
			t.Fatal(err)
		}
	}
	in.waitUntil(t, "first alarms", func() bool { return len(in.on("netspot/box1/alarm")) == 3 })
	eventually(t, "store empty", func() bool { return s.PendingAlarms() == 0 })

	b.stop()
	eventually(t, "disconnection noticed", func() bool { ok, _ := s.Connected(); return !ok })
	for k := 4; k <= 8; k++ {
		if err := s.Write(record(k, alarm(seqIDs("r-", k, k)[0], k))); err != nil {
			t.Fatal(err)
		}
	}
	in2 := newInbox()
	startMochi(t, addr, in2)
	in2.waitUntil(t, "alarms after restart", func() bool { return len(in2.on("netspot/box1/alarm")) >= 5 })
	got := append(alarmIDs(in.on("netspot/box1/alarm")), alarmIDs(in2.on("netspot/box1/alarm"))...)
	if want := seqIDs("r-", 1, 8); !slices.Equal(got, want) {
		t.Errorf("alarms %v, want %v", got, want)
	}
	in2.waitUntil(t, "online again", func() bool { return slices.Contains(in2.on("netspot/box1/status"), "online") })
}

// TestRestartWithUndeliveredAlarms: netspot stops while alarms wait; the
// next run delivers them once, in order, and a third run sends nothing again.
func TestRestartWithUndeliveredAlarms(t *testing.T) {
	addr := freeAddr(t)
	cfg := testConfig(t, addr)
	cfg.CloseTimeout = 0
	s1, err := newSink(cfg, testInfo(), nil, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= 6; k++ {
		if err := s1.Write(record(k, alarm(seqIDs("u-", k, k)[0], k))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	in := newInbox()
	startMochi(t, addr, in)
	s2 := newTestSink(t, cfg, nil)
	if n := s2.PendingAlarms(); n != 6 && len(in.on("netspot/box1/alarm")) == 0 {
		t.Errorf("second run found %d stored alarms, want 6", n)
	}
	// A new alarm in the second run comes after the stored ones.
	if err := s2.Write(record(7, alarm("u-007", 7))); err != nil {
		t.Fatal(err)
	}
	in.waitUntil(t, "stored alarms", func() bool { return len(in.on("netspot/box1/alarm")) >= 7 })
	eventually(t, "store empty", func() bool { return s2.PendingAlarms() == 0 })
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := alarmIDs(in.on("netspot/box1/alarm")), seqIDs("u-", 1, 7); !slices.Equal(got, want) {
		t.Errorf("alarms %v, want %v", got, want)
	}

	s3 := newTestSink(t, cfg, nil)
	if n := s3.PendingAlarms(); n != 0 {
		t.Errorf("third run found %d stored alarms; acknowledged alarms must not come back", n)
	}
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(in.on("netspot/box1/alarm")); n != 7 {
		t.Errorf("%d alarms received in all, want 7", n)
	}
}

func TestStoreFullDropsOldestAlarm(t *testing.T) {
	addr := freeAddr(t)
	cfg := testConfig(t, addr)
	cfg.StoreMax = 3
	ls := &logSink{}
	s := newTestSink(t, cfg, ls)
	for k := 1; k <= 5; k++ {
		if err := s.Write(record(k, alarm(seqIDs("f-", k, k)[0], k))); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.DroppedAlarms(); got != 2 {
		t.Errorf("DroppedAlarms() = %d, want 2", got)
	}
	if n := ls.count("oldest undelivered alarm dropped"); n != 2 {
		t.Errorf("%d drop errors logged, want 2", n)
	}
	in := newInbox()
	startMochi(t, addr, in)
	in.waitUntil(t, "alarms", func() bool { return len(in.on("netspot/box1/alarm")) >= 3 })
	if got, want := alarmIDs(in.on("netspot/box1/alarm")), seqIDs("f-", 3, 5); !slices.Equal(got, want) {
		t.Errorf("alarms %v, want %v", got, want)
	}
}

// TestWillOnAbruptLoss: when the connection dies without a DISCONNECT the
// broker publishes the retained "offline" will; the sink reconnects and says
// "online" again.
func TestWillOnAbruptLoss(t *testing.T) {
	in := newInbox()
	b := startMochi(t, freeAddr(t), in)
	ls := &logSink{}
	s := newTestSink(t, testConfig(t, b.addr), ls)
	in.waitUntil(t, "online", func() bool { return b.retained("netspot/box1/status") == "online" })
	s.sessMu.Lock()
	s.sess.closeConn() // the network goes away under paho's feet
	s.sessMu.Unlock()
	in.waitUntil(t, "will, then online again", func() bool {
		return slices.Equal(in.on("netspot/box1/status"), []string{"online", "offline", "online"})
	})
	eventually(t, "reconnection", func() bool { ok, _ := s.Connected(); return ok })
	if n := ls.count("connection to broker lost"); n != 1 {
		t.Errorf("loss logged %d times, want once: %q", n, ls.all())
	}
}

func TestCloseWithoutBrokerReturns(t *testing.T) {
	cfg := testConfig(t, freeAddr(t))
	s, err := newSink(cfg, testInfo(), nil, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(record(1, alarm("c-001", 1))); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(cfg.StoreDir, "*"+alarmExt))
	if len(files) != 1 {
		t.Errorf("%d alarm files kept after Close, want 1", len(files))
	}
}

func TestStoreDirLockedAgainstSecondInstance(t *testing.T) {
	cfg := testConfig(t, freeAddr(t))
	newTestSink(t, cfg, nil)
	_, err := newSink(cfg, testInfo(), nil, testOptions())
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
	_, err := newSink(cfg, testInfo(), nil, testOptions())
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
	b := startMochi(t, freeAddr(t), in)
	cfg := testConfig(t, b.addr)
	cfg.NodeID = ""
	s := newTestSink(t, cfg, nil)
	if s.NodeID() != "testhost" {
		t.Errorf("NodeID() = %q", s.NodeID())
	}
	in.waitUntil(t, "status", func() bool { return b.retained("netspot/testhost/status") == "online" })
}

// TestBehindTheFanOut plugs the sink into the fan-out as cmd/netspot does:
// every Record published reaches the broker, and closing the fan-out
// closes the sink, which says offline.
func TestBehindTheFanOut(t *testing.T) {
	in := newInbox()
	b := startMochi(t, freeAddr(t), in)
	s := newTestSink(t, testConfig(t, b.addr), nil)
	f := sink.NewFanOut(nil)
	f.Add("mqtt", s, 0)
	for k := 1; k <= 50; k++ {
		var alarms []event.Alarm
		if k%10 == 0 {
			alarms = append(alarms, alarm(seqIDs("fo-", k, k)[0], k))
		}
		f.Publish(record(k, alarms...))
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := alarmIDs(in.on("netspot/box1/alarm")), []string{"fo-010", "fo-020", "fo-030", "fo-040", "fo-050"}; !slices.Equal(got, want) {
		t.Errorf("alarms %v, want %v", got, want)
	}
	if n := len(in.on("netspot/box1/stats")); n != 50 {
		t.Errorf("%d periods published, want 50", n)
	}
	if got := b.retained("netspot/box1/status"); got != "offline" {
		t.Errorf("status after the fan-out closed: %q", got)
	}
	if st := f.Stats()[0]; st.Delivered != 50 || st.Failed != 0 {
		t.Errorf("fan-out stats %+v", st)
	}
}

// TestWebSocket publishes through a ws:// listener, as to a broker behind a
// reverse proxy.
func TestWebSocket(t *testing.T) {
	in := newInbox()
	addr := freeAddr(t)
	b := startMochiOn(t, listeners.NewWebsocket(listeners.Config{ID: "ws", Address: addr}), addr, in)
	s := newTestSink(t, testConfig(t, "ws://"+addr+"/mqtt"), nil)
	if err := s.Write(record(1, alarm("ws-001", 1))); err != nil {
		t.Fatal(err)
	}
	in.waitUntil(t, "alarm over WebSocket", func() bool { return len(in.on("netspot/box1/alarm")) == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := b.retained("netspot/box1/status"); got != "offline" {
		t.Errorf("status %q after Close", got)
	}
}
