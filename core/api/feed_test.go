package api

import (
	"bufio"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"netspot/core/event"
)

func TestRing(t *testing.T) {
	r := newRing[int](3)
	for i := 1; i <= 3; i++ {
		if _, dropped := r.push(i); dropped {
			t.Fatalf("push %d dropped a value of a ring not full", i)
		}
	}
	if old, dropped := r.push(4); !dropped || old != 1 {
		t.Fatalf("push into a full ring dropped %d, %v; want 1", old, dropped)
	}
	if r.len() != 3 || r.at(0) != 2 || r.at(2) != 4 {
		t.Fatalf("ring holds %d values, first %d last %d", r.len(), r.at(0), r.at(r.len()-1))
	}
	r.reset()
	if r.len() != 0 {
		t.Fatal("reset left values")
	}
	r.push(9)
	if r.at(0) != 9 {
		t.Fatal("ring unusable after reset")
	}
}

func testFeed(cfg Config) *feed {
	return newFeed(cfg, "e1", newClock().Now, nil)
}

// The feed follows an alarm from the record that raises it to the one that
// clears it: windows, peak and clearing time.
func TestFeedFollowsAlarms(t *testing.T) {
	f := testFeed(DefaultConfig())
	s := f.beginRun(1)
	recs := scenario()
	for i, r := range recs[:5] {
		if err := s.Write(r); err != nil {
			t.Fatal(err)
		}
		active, _ := f.alarmList(10)
		if want := i >= 3; (len(active) == 1) != want {
			t.Fatalf("after window %d: %d active alarms", i, len(active))
		}
	}
	active, history := f.alarmList(10)
	a := active[0]
	if a.ID != "a-1" || !a.Active || a.Windows != 2 || a.Peak != 0.9 || a.Value != 0.8 || !a.Cleared.IsZero() || a.Run != 1 {
		t.Errorf("active alarm %+v", a)
	}
	if len(history) != 1 || history[0].ID != "a-1" {
		t.Errorf("history %+v", history)
	}
	_ = s.Write(recs[5])
	active, history = f.alarmList(10)
	if len(active) != 0 || history[0].Active || !history[0].Cleared.Equal(recs[5].End) {
		t.Errorf("after clearing: active %+v, history %+v", active, history)
	}
	c, nActive, _ := f.snapshot()
	if c.windows != 6 || c.packets != 600 || c.dropped != 6 || c.malformed != 12 || c.learningLeft != 0 || c.learningTotal != 4 || nActive != 0 {
		t.Errorf("counters %+v", c)
	}
}

// An alarm still active when the run stops is not cleared: it is marked
// inactive without a clearing time, and the next run starts without it.
func TestRunEndInterruptsAlarms(t *testing.T) {
	f := testFeed(DefaultConfig())
	s := f.beginRun(1)
	for _, r := range scenario()[:4] {
		_ = s.Write(r)
	}
	f.endRun(1)
	active, history := f.alarmList(10)
	if len(active) != 0 || history[0].Active || !history[0].Cleared.IsZero() {
		t.Errorf("after the run: active %+v, history %+v", active, history)
	}
	s2 := f.beginRun(2)
	_ = s.Write(record(9, 0.1, "")) // a late write of the old run is ignored
	if recs, _, _ := f.recent(0, 10); len(recs) != 0 {
		t.Errorf("new run shows %d records", len(recs))
	}
	_ = s2.Write(record(0, 0.1, ""))
	if recs, _, _ := f.recent(0, 10); len(recs) != 1 || recs[0].run != 2 {
		t.Errorf("new run records %+v", recs)
	}
	if _, history := f.alarmList(10); len(history) != 1 {
		t.Errorf("the alarm history must outlive runs: %d alarms", len(history))
	}
}

// A lower alarm hidden by an upper one of the same statistic stays active
// until the statistic shows no alarm.
func TestHiddenLowerAlarm(t *testing.T) {
	f := testFeed(DefaultConfig())
	s := f.beginRun(1)
	down := synAlarm("d-1", 1, 0.01)
	down.Side = event.Down
	_ = s.Write(record(0, 0.9, "u-1", synAlarm("u-1", 0, 0.9)))
	_ = s.Write(record(1, 0.01, "u-1", down)) // upper still clearing: shown first
	if active, _ := f.alarmList(10); len(active) != 2 {
		t.Fatalf("want both alarms active, got %+v", active)
	}
	_ = s.Write(record(2, 0.01, "d-1"))
	active, _ := f.alarmList(10)
	if len(active) != 1 || active[0].ID != "d-1" || active[0].Peak != 0.01 {
		t.Fatalf("want the lower alarm alone, got %+v", active)
	}
	_ = s.Write(record(3, 0.2, ""))
	if active, _ := f.alarmList(10); len(active) != 0 {
		t.Fatalf("alarms left active: %+v", active)
	}
}

func TestRecentAndHistoryAreBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.History, cfg.AlarmHistory = 4, 2
	f := testFeed(cfg)
	s := f.beginRun(1)
	for i := range 10 {
		id := "a-" + string(rune('0'+i))
		_ = s.Write(record(i, 0.9, id, synAlarm(id, i, 0.9)))
	}
	recs, truncated, last := f.recent(0, 100)
	if len(recs) != 4 || truncated || recs[0].rec.Start != t0.Add(6*time.Second) || last != "e1-20" {
		t.Errorf("recent: %d records from %v, truncated %v, last %s", len(recs), recs[0].rec.Start, truncated, last)
	}
	recs, truncated, _ = f.recent(0, 2)
	if len(recs) != 2 || !truncated || recs[1].seq != 20 {
		t.Errorf("limit 2: %d records, truncated %v", len(recs), truncated)
	}
	if recs, _, _ := f.recent(18, 100); len(recs) != 1 || recs[0].seq != 20 {
		t.Errorf("since 18: %+v", recs)
	}
	active, history := f.alarmList(100)
	if len(history) != 2 || history[0].ID != "a-9" || len(active) != 1 {
		t.Errorf("history %d (first %s), active %d", len(history), history[0].ID, len(active))
	}
	if len(f.byID) != 2 {
		t.Errorf("alarm index holds %d entries for a history of 2", len(f.byID))
	}
}

// frames parses Server-Sent Events into (event, id, data) triples.
func frames(t *testing.T, text string) [][3]string {
	t.Helper()
	var out [][3]string
	var cur [3]string
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur[0] != "" {
				out = append(out, cur)
			}
			cur = [3]string{}
		case strings.HasPrefix(line, "event: "):
			cur[0] = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			cur[1] = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			cur[2] = line[len("data: "):]
			if !json.Valid([]byte(cur[2])) {
				t.Errorf("invalid JSON in event: %s", cur[2])
			}
		}
	}
	return out
}

// A client reconnecting with the id of the last event it saw gets the rest,
// alarms before their record; a position that is lost asks for a reset.
func TestSubscribeReplaysMissedEvents(t *testing.T) {
	cfg := DefaultConfig()
	cfg.History = 3
	f := testFeed(cfg)
	s := f.beginRun(1)
	for _, r := range scenario()[:4] { // seqs 1, 2, 3, then the alarm 4 and its record 5
		_ = s.Write(r)
	}
	sub, rp, err := f.subscribe("e1-3", allKinds)
	if err != nil || rp.reset != "" {
		t.Fatalf("subscribe: %v %q", err, rp.reset)
	}
	got := frames(t, string(f.replayFrames(nil, rp, allKinds)))
	if len(got) != 2 || got[0][0] != "alarm" || got[0][1] != "e1-4" || got[1][0] != "record" || got[1][1] != "e1-5" {
		t.Fatalf("replay %v", got)
	}
	var a Alarm
	if err := json.Unmarshal([]byte(got[0][2]), &a); err != nil || a.ID != "a-1" || !a.Active || a.Seq != 4 {
		t.Errorf("replayed alarm %+v %v", a, err)
	}
	f.unsubscribe(sub)

	// Only records: the alarm is skipped, the ids stay positions.
	_, rp, _ = f.subscribe("e1-3", kindRecord)
	if got := frames(t, string(f.replayFrames(nil, rp, kindRecord))); len(got) != 1 || got[0][1] != "e1-5" {
		t.Errorf("records only: %v", got)
	}
	for _, c := range []struct{ id, reason string }{
		{"e0-3", "restarted"},      // another epoch
		{"e1-99", "unknown"},       // ahead of the server
		{"e1-x", "unknown"},        // not a position
		{"garbage", "restarted"},   // not an id
		{"e1-0", "no longer kept"}, // before the oldest record kept (2)
		{"e1-1", ""},               // just before it: nothing is lost
		{"e1-5", ""},               // up to date
	} {
		_, rp, _ := f.subscribe(c.id, allKinds)
		if !strings.Contains(rp.reset, c.reason) || (c.reason == "") != (rp.reset == "") {
			t.Errorf("%s: reset %q, want %q", c.id, rp.reset, c.reason)
		}
	}
}

// A client that does not read is dropped when its queue is full: writing
// records never waits for it, and a client that keeps up gets everything.
func TestSlowClientIsDropped(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StreamBuffer = 16
	f := testFeed(cfg)
	slow, _, _ := f.subscribe("", allKinds)
	fast, _, _ := f.subscribe("", kindRecord)
	s := f.beginRun(1)
	for i := range 100 {
		_ = s.Write(record(i, 0.1, ""))
		select {
		case fr := <-fast.ch:
			if !strings.Contains(string(fr), "id: e1-"+strconv.Itoa(i+1)+"\n") {
				t.Fatalf("record %d: frame %q", i, fr)
			}
		default:
			t.Fatalf("record %d did not reach the client that keeps up", i)
		}
	}
	select {
	case <-slow.gone:
	default:
		t.Fatal("slow client not dropped")
	}
	if len(slow.ch) != cfg.StreamBuffer {
		t.Errorf("slow client queue holds %d frames, want it full (%d)", len(slow.ch), cfg.StreamBuffer)
	}
	_, _, st := f.snapshot()
	if st.Clients != 1 || st.Dropped != 1 {
		t.Errorf("stream stats %+v, want 1 client left and 1 dropped", st)
	}
}

func TestTooManyClients(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxClients = 2
	f := testFeed(cfg)
	a, _, _ := f.subscribe("", allKinds)
	if _, _, err := f.subscribe("", allKinds); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.subscribe("", allKinds); err != errTooManyClients {
		t.Fatalf("third client: %v", err)
	}
	f.unsubscribe(a)
	if _, _, err := f.subscribe("", allKinds); err != nil {
		t.Fatalf("after one left: %v", err)
	}
}

func TestParseKinds(t *testing.T) {
	for in, want := range map[string]eventKinds{"": allKinds, "record": kindRecord, "alarm, status": kindAlarm | kindStatus} {
		if got, err := parseKinds(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := parseKinds("record,data"); err == nil || !strings.Contains(err.Error(), `"data"`) {
		t.Errorf("unknown event: %v", err)
	}
}

func TestRecordAndAlarmJSONRoundTrip(t *testing.T) {
	r := scenario()[3]
	r.CaptureErr = "link \"eth0\" down\nreally"
	r.Stats[0].Learning = true
	b := appendRecordJSON(nil, 42, 7, r)
	if !json.Valid(b) || strings.Contains(string(b), "\n") {
		t.Fatalf("invalid record JSON: %s", b)
	}
	var back Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Seq != 42 || back.Run != 7 || !back.Start.Equal(r.Start) || back.CaptureErr != r.CaptureErr || len(back.Stats) != 2 ||
		back.Stats[1].Name != "R_SYN" || back.Stats[1].AlarmID != "a-1" || !math.IsNaN(back.Stats[1].Down) || back.Stats[0].Up != 200 ||
		!back.Stats[0].Learning || back.Stats[1].Learning || back.Packets != 100 || back.LearningLeft != 0 {
		t.Errorf("round trip gave %+v", back)
	}
	if again, _ := json.Marshal(back); string(again) != string(b) {
		t.Errorf("re-encoding differs:\n%s\n%s", again, b)
	}

	a := Alarm{Seq: 3, Run: 1, Active: false, Cleared: t0, Peak: 0.95, Windows: 4, Alarm: r.Alarms[0]}
	a.Probability = math.NaN()
	b = appendAlarmJSON(nil, &a)
	var ab Alarm
	if err := json.Unmarshal(b, &ab); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if ab.ID != "a-1" || ab.Side != event.Up || !ab.Cleared.Equal(t0) || ab.Peak != 0.95 || ab.Windows != 4 || !math.IsNaN(ab.Probability) {
		t.Errorf("alarm round trip %+v from %s", ab, b)
	}
	for _, bad := range []string{`{"type":"alarm","side":"left"}`, `{"type":"data"}`, `[]`, `{"type":"alarm","value":"x"}`} {
		if err := json.Unmarshal([]byte(bad), &ab); err == nil {
			t.Errorf("alarm %s accepted", bad)
		}
	}
	for _, bad := range []string{`{"type":"alarm"}`, `{"type":"data","stats":[]}`, `{"type":"data","stats":{"X":{"value":true}}}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("record %s accepted", bad)
		}
	}
}
