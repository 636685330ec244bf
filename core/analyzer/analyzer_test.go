package analyzer

import (
	"bytes"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"netspot/core/config"
	"netspot/core/event"
	"netspot/spot"
)

var t0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

// testAnalyzer watches TRAFFIC (IP packets per second) only, with a short
// calibration.
func testAnalyzer(t *testing.T, edit func(*Config, *SpotConfig)) *Analyzer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Stats = []string{"TRAFFIC"}
	sp := DefaultSpotConfig()
	sp.NInit, sp.Depth, sp.MaxExcess = 1000, 20, 200
	if edit != nil {
		edit(&cfg, &sp)
	}
	a, err := New(cfg, sp, Options{RunID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// window builds the i-th one-second window with n IP packets.
func window(i int, n uint64) *event.Snapshot {
	start := t0.Add(time.Duration(i) * time.Second)
	return &event.Snapshot{Start: start, End: start.Add(time.Second),
		Counters: event.Counters{Packets: n, IP: n}}
}

// normal returns a packet count around 1000 per second.
func normal(r *rand.Rand) uint64 { return uint64(1000 + 30*r.NormFloat64()) }

func TestLearningThenWatching(t *testing.T) {
	var logs bytes.Buffer
	cfg := DefaultConfig()
	cfg.Stats = []string{"TRAFFIC", "PERF"}
	sp := DefaultSpotConfig()
	sp.NInit, sp.Depth, sp.MaxExcess = 1000, 20, 200
	a, err := New(cfg, sp, Options{RunID: "test", Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	if got := a.LearningLeft(); got != 300 {
		t.Fatalf("LearningLeft before any window = %d, want watch_after = 300", got)
	}
	want := []StatLearning{{Stat: "TRAFFIC", Stage: Learning, Left: 300, Windows: 300, Provisional: 1020}, {Stat: "PERF", Stage: Informational}}
	if got := a.Learning(); !slices.Equal(got, want) {
		t.Fatalf("Learning() = %+v, want %+v", got, want)
	}
	var rec *event.Record
	for i := range 1020 {
		rec = a.Process(window(i, normal(r)))
		s := rec.Stats[0]
		switch {
		case i < 299:
			if !s.Learning || !math.IsNaN(s.Up) || rec.LearningLeft != 299-i {
				t.Fatalf("window %d: %+v learning_left %d", i, s, rec.LearningLeft)
			}
		case i < 1019:
			// Judging with a provisional tail.
			if s.Learning || rec.LearningLeft != 0 || !(s.Up > 1050) {
				t.Fatalf("window %d: %+v learning_left %d", i, s, rec.LearningLeft)
			}
			if l := a.Learning()[0]; l.Stage != Provisional || l.Provisional != 1019-i {
				t.Fatalf("window %d: %+v", i, l)
			}
		}
	}
	s := rec.Stats[0]
	if s.Learning || rec.LearningLeft != 0 || a.Learning()[0].Stage != Complete {
		t.Fatalf("not complete after depth + n_init windows: %+v %+v", rec, a.Learning())
	}
	if !(s.Up > 1050 && s.Up < 1300) || !math.IsNaN(s.Down) {
		t.Errorf("threshold after calibration = %v / %v, want an upper threshold a few sigma above 1000 and no lower one", s.Up, s.Down)
	}
	// The log says when the statistic is judged, and when its model is
	// complete, once each.
	out := logs.String()
	for _, line := range []string{`msg="statistic judging, provisional" stat=TRAFFIC provisional_values=720 at=2026-05-01T00:05:00.000Z`,
		`msg="every detector judges" stats=2 at=2026-05-01T00:05:00.000Z`,
		`msg="statistic calibrated: complete model" stat=TRAFFIC at=2026-05-01T00:17:00.000Z`} {
		if strings.Count(out, line) != 1 {
			t.Errorf("log line %q not once in:\n%s", line, out)
		}
	}
}

func calibrated(t *testing.T, edit func(*Config, *SpotConfig)) (*Analyzer, *rand.Rand, int) {
	a := testAnalyzer(t, edit)
	r := rand.New(rand.NewPCG(3, 4))
	i := 0
	for ; a.LearningLeft() > 0; i++ {
		a.Process(window(i, normal(r)))
	}
	// Some normal traffic while watching.
	for range 200 {
		rec := a.Process(window(i, normal(r)))
		if len(rec.Alarms) > 0 {
			t.Fatalf("false alarm on normal traffic at %d: %+v", i, rec.Alarms)
		}
		i++
	}
	return a, r, i
}

// A burst lasting several windows is one alarm, active while it lasts and
// cleared after clear_after normal windows; the next burst is a new alarm.
func TestOneAlarmPerExcursion(t *testing.T) {
	a, r, i := calibrated(t, nil)
	var alarms []event.Alarm
	var active []bool
	step := func(n uint64) {
		rec := a.Process(window(i, n))
		i++
		alarms = append(alarms, rec.Alarms...)
		active = append(active, rec.Stats[0].AlarmID != "")
	}
	for range 5 {
		step(5000)
	}
	step(normal(r)) // a dip back to normal does not end the excursion
	step(5000)
	for range 3 {
		step(normal(r))
	}
	if len(alarms) != 1 {
		t.Fatalf("got %d alarms for one excursion: %+v", len(alarms), alarms)
	}
	al := alarms[0]
	if al.ID != "test-1" || al.Stat != "TRAFFIC" || al.Side != event.Up || al.Value != 5000 ||
		!(al.Threshold > 1000 && al.Threshold < 5000) || !(al.Probability >= 0 && al.Probability < 1e-4) {
		t.Errorf("alarm %+v", al)
	}
	if al.Start != t0.Add(time.Duration(i-10)*time.Second) || al.End != al.Start.Add(time.Second) {
		t.Errorf("alarm window %v – %v", al.Start, al.End)
	}
	want := []bool{true, true, true, true, true, true, true, true, true, false}
	for k := range want {
		if active[k] != want[k] {
			t.Fatalf("active per window = %v, want %v", active, want)
		}
	}
	step(6000)
	if len(alarms) != 2 || alarms[1].ID != "test-2" {
		t.Fatalf("second excursion: %+v", alarms)
	}
}

// An alarm never enters the drift window: after a long attack, normal
// traffic raises no alarm and the threshold is where it was.
func TestAttackIsNotLearned(t *testing.T) {
	a, r, i := calibrated(t, nil)
	before := a.Process(window(i, normal(r))).Stats[0].Up
	i++
	for range 300 {
		a.Process(window(i, 20000))
		i++
	}
	for range 3 {
		a.Process(window(i, normal(r)))
		i++
	}
	for range 300 {
		rec := a.Process(window(i, normal(r)))
		i++
		if len(rec.Alarms) > 0 {
			t.Fatalf("false alarm after the attack: %+v", rec.Alarms)
		}
	}
	after := a.Process(window(i, normal(r))).Stats[0].Up
	if math.Abs(after-before) > 0.2*before {
		t.Errorf("threshold moved from %v to %v: the attack was learned", before, after)
	}
}

func TestLowerSide(t *testing.T) {
	a, _, i := calibrated(t, func(_ *Config, sp *SpotConfig) { sp.Down = true })
	rec := a.Process(window(i, 10))
	if len(rec.Alarms) != 1 || rec.Alarms[0].Side != event.Down || !(rec.Alarms[0].Threshold > 10) {
		t.Fatalf("drop to 10 packets/s: %+v", rec.Alarms)
	}
	if math.IsNaN(rec.Stats[0].Down) || math.IsNaN(rec.Stats[0].Up) {
		t.Errorf("both thresholds expected: %+v", rec.Stats[0])
	}
}

func TestAlertOffGivesThresholdsOnly(t *testing.T) {
	a, _, i := calibrated(t, func(_ *Config, sp *SpotConfig) { sp.Alert = false })
	rec := a.Process(window(i, 50000))
	if len(rec.Alarms) != 0 || rec.Stats[0].AlarmID != "" || math.IsNaN(rec.Stats[0].Up) {
		t.Errorf("alert=false: %+v", rec)
	}
}

// Undefined values and partial windows are reported but never judged.
func TestUndefinedAndPartialWindows(t *testing.T) {
	a := testAnalyzer(t, func(c *Config, _ *SpotConfig) { c.Stats = []string{"R_SYN", "TRAFFIC", "PERF"} })
	left := a.LearningLeft()
	rec := a.Process(window(0, 0)) // no IP: R_SYN undefined, TRAFFIC 0
	if !math.IsNaN(rec.Stats[0].Value) || rec.Stats[1].Value != 0 {
		t.Fatalf("values %+v", rec.Stats)
	}
	p := window(1, 500)
	p.Partial = true
	p.End = p.Start.Add(100 * time.Millisecond)
	rec = a.Process(p)
	if rec.Stats[1].Value != 5000 || !rec.Partial {
		t.Fatalf("partial window: %+v", rec)
	}
	// Only TRAFFIC's defined value of the complete window was learned.
	if syn, traffic := a.watch[0].det.Remaining(), a.watch[1].det.Remaining(); syn != left || traffic != left-1 {
		t.Errorf("remaining R_SYN %d, TRAFFIC %d; want %d and %d", syn, traffic, left, left-1)
	}
	if perf := rec.Stats[2]; perf.Learning || !math.IsNaN(perf.Up) {
		t.Errorf("PERF is informational, never judged: %+v", perf)
	}
}

// The analyzer publishes what capture says about itself.
func TestCaptureHealthIsCopied(t *testing.T) {
	a := testAnalyzer(t, nil)
	s := window(0, 10)
	s.Dropped, s.Malformed, s.CaptureErr = 3, 2, "eth1: link down"
	rec := a.Process(s)
	if rec.Packets != 10 || rec.Dropped != 3 || rec.Malformed != 2 || rec.CaptureErr != "eth1: link down" {
		t.Errorf("record %+v", rec)
	}
}

func TestRandomRunIDsDiffer(t *testing.T) {
	cfg, sp := DefaultConfig(), DefaultSpotConfig()
	a1, err1 := New(cfg, sp, Options{})
	a2, err2 := New(cfg, sp, Options{})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if a1.runID == a2.runID || len(a1.runID) != 12 {
		t.Errorf("run ids %q and %q", a1.runID, a2.runID)
	}
}

func TestStateRoundTrip(t *testing.T) {
	a, r, i := calibrated(t, nil)
	var buf bytes.Buffer
	if err := a.SaveState(&buf, t0); err != nil {
		t.Fatal(err)
	}
	saved := buf.Bytes()

	b := testAnalyzer(t, nil)
	rep, err := b.LoadState(bytes.NewReader(saved))
	if err != nil || len(rep.Restored) != 1 || len(rep.Skipped) != 0 || !rep.Saved.Equal(t0) {
		t.Fatalf("LoadState: %+v, %v", rep, err)
	}
	if b.LearningLeft() != 0 {
		t.Fatal("restored analyzer is learning again")
	}
	for range 100 {
		w := window(i, normal(r))
		i++
		ra, rb := a.Process(w), b.Process(w)
		if ra.Stats[0].Up != rb.Stats[0].Up {
			t.Fatalf("restored detector diverges: %v vs %v", ra.Stats[0].Up, rb.Stats[0].Up)
		}
	}

	// Changed parameters: that detector learns from scratch.
	c := testAnalyzer(t, func(_ *Config, sp *SpotConfig) { sp.Q /= 10 })
	rep, err = c.LoadState(bytes.NewReader(saved))
	if err != nil || len(rep.Restored) != 0 || !strings.Contains(rep.Skipped["TRAFFIC"], "parameters changed") {
		t.Errorf("changed params: %+v, %v", rep, err)
	}

	// A corrupt detector snapshot: learns from scratch, says why.
	corrupt := bytes.Replace(saved, []byte(`"state":"`), []byte(`"state":"AAAA`), 1)
	d := testAnalyzer(t, nil)
	rep, err = d.LoadState(bytes.NewReader(corrupt))
	if err != nil || !strings.Contains(rep.Skipped["TRAFFIC"], "corrupt") || d.LearningLeft() == 0 {
		t.Errorf("corrupt state: %+v, %v", rep, err)
	}

	// Not a state file at all.
	if _, err := d.LoadState(strings.NewReader("hello")); err == nil {
		t.Error("garbage accepted")
	}
	if _, err := d.LoadState(strings.NewReader(`{"version":99}`)); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("future version: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config, *SpotConfig)
		key  string
	}{
		{func(c *Config, _ *SpotConfig) { c.Period = config.Duration(0) }, "period"},
		{func(c *Config, _ *SpotConfig) { c.Stats = []string{"NOPE"} }, "stats"},
		{func(c *Config, _ *SpotConfig) { c.ClearAfter = 0 }, "clear_after"},
		{func(_ *Config, sp *SpotConfig) { sp.Q = 0 }, "q"},
		{func(_ *Config, sp *SpotConfig) { sp.Level = 1 }, "level"},
		{func(_ *Config, sp *SpotConfig) { sp.NInit = 10 }, "n_init"},
		{func(_ *Config, sp *SpotConfig) { sp.MaxExcess = 0 }, "max_excess"},
		{func(_ *Config, sp *SpotConfig) { sp.Depth = -1 }, "depth"},
		{func(_ *Config, sp *SpotConfig) { sp.Up, sp.Down = false, false }, "up"},
		{func(_ *Config, sp *SpotConfig) { sp.MinShape = 0.5 }, "min_shape"},
		{func(_ *Config, sp *SpotConfig) { sp.MinShape = math.NaN() }, "min_shape"},
		{func(_ *Config, sp *SpotConfig) {
			q := 2.0
			sp.PerStat = map[string]SpotOverride{"R_SYN": {Q: &q}}
		}, "R_SYN.q"},
		{func(_ *Config, sp *SpotConfig) { sp.PerStat = map[string]SpotOverride{"NOPE": {}} }, "NOPE"},
	} {
		cfg, sp := DefaultConfig(), DefaultSpotConfig()
		c.edit(&cfg, &sp)
		err := cfg.Validate()
		if err == nil {
			err = sp.Validate()
		}
		var fe *config.FieldError
		if err == nil || !asField(err, &fe) || fe.Key != c.key {
			t.Errorf("want an error on %s, got %v", c.key, err)
		}
	}
}

func asField(err error, fe **config.FieldError) bool {
	for err != nil {
		if f, ok := err.(*config.FieldError); ok {
			*fe = f
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func BenchmarkProcess(b *testing.B) {
	cfg, sp := DefaultConfig(), DefaultSpotConfig()
	sp.NInit, sp.Depth = 1000, 20
	a, err := New(cfg, sp, Options{RunID: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	snaps := make([]*event.Snapshot, 4096)
	for i := range snaps {
		n := normal(r)
		snaps[i] = &event.Snapshot{Start: t0.Add(time.Duration(i) * time.Second), End: t0.Add(time.Duration(i+1) * time.Second),
			Counters: event.Counters{Packets: n + 20, IP: n, ACK: n / 2, SYN: n / 50, ARP: 20, ICMP: 3, IPBytes: n * 500,
				DistinctSrcAddr: 20, DistinctDstAddr: 40, DistinctSrcPort: 300, DistinctDstPort: 80}, Busy: time.Millisecond}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a.Process(snaps[i%len(snaps)])
		i++
	}
}

// Each detector gets its statistic's resolution at the period: one packet
// per window for a rate, one for a count, a percent for a ratio.
func TestDetectorResolution(t *testing.T) {
	a := testAnalyzer(t, func(c *Config, _ *SpotConfig) {
		c.Period = config.Duration(10 * time.Second)
		c.Stats = []string{"TRAFFIC", "NB_DST_PORT", "R_SYN", "AVG_PKT_SIZE", "PERF"}
	})
	want := map[string]float64{"TRAFFIC": 0.1, "NB_DST_PORT": 1, "R_SYN": 0.01, "AVG_PKT_SIZE": 1}
	for _, w := range a.watch {
		if w.det == nil {
			if w.stat.Name != "PERF" {
				t.Errorf("%s has no detector", w.stat.Name)
			}
			continue
		}
		if got := w.det.Config().Resolution; got != want[w.stat.Name] {
			t.Errorf("%s: resolution %v, want %v", w.stat.Name, got, want[w.stat.Name])
		}
	}
}

// A statistic that was zero for the whole calibration (ICMP on a quiet
// LAN) does not alarm on a single message, and does on a sweep, with a
// threshold above zero and a probability that means something.
func TestQuietStatistic(t *testing.T) {
	a := testAnalyzer(t, func(c *Config, _ *SpotConfig) { c.Stats = []string{"ICMP_RATE"} })
	i := 0
	quiet := func(icmp uint64) *event.Record {
		s := window(i, 30)
		s.ICMP = icmp
		i++
		return a.Process(s)
	}
	for a.LearningLeft() > 0 {
		quiet(0)
	}
	rec := quiet(0)
	if up := rec.Stats[0].Up; !(up > 1) || up > 10 {
		t.Fatalf("threshold after a silent calibration: %v", up)
	}
	if rec := quiet(1); len(rec.Alarms) != 0 {
		t.Fatalf("one ICMP message raised %+v", rec.Alarms)
	}
	quiet(0)
	rec = quiet(50)
	if len(rec.Alarms) != 1 {
		t.Fatalf("a sweep of 50 messages a second: %+v", rec.Alarms)
	}
	if p := rec.Alarms[0].Probability; !(p > 0 && p < DefaultSpotConfig().Q) {
		t.Errorf("alarm probability %v", p)
	}
}

// The windows of an attack after its alarm, below the threshold but above
// the excess threshold, keep the alarm active and are not learnt; an
// alarm cleared by undefined windows is not raised again by them.
func TestExcursionAfterAlarm(t *testing.T) {
	a := testAnalyzer(t, func(c *Config, _ *SpotConfig) { c.Stats = []string{"R_SYN"} })
	r := rand.New(rand.NewPCG(7, 8))
	i := 0
	syn := func(ip, syn uint64) *event.Record {
		s := window(i, ip)
		s.SYN = syn
		i++
		return a.Process(s)
	}
	noisy := func() *event.Record { return syn(100, uint64(r.IntN(4))) } // R_SYN 0 to 0.03
	for a.LearningLeft() > 0 {
		noisy()
	}
	for range 100 {
		if rec := noisy(); len(rec.Alarms) > 0 {
			t.Fatalf("false alarm: %+v", rec.Alarms)
		}
	}
	det := a.watch[0].det
	before, _ := det.Tail(spot.Upper)
	drift := det.Drift()
	between := uint64(100 * (drift + (before.Excess+before.Anomaly)/2))
	if between <= uint64(100*(drift+before.Excess)) {
		t.Fatalf("no room between t and z: %+v", before)
	}
	if rec := syn(100, 90); len(rec.Alarms) != 1 {
		t.Fatalf("SYN scan: %+v", rec.Alarms)
	}
	for range 5 {
		if rec := syn(100, between); len(rec.Alarms) != 0 || rec.Stats[0].AlarmID == "" {
			t.Fatalf("the rest of the scan: %+v, alarm id %q", rec.Alarms, rec.Stats[0].AlarmID)
		}
	}
	if after, _ := det.Tail(spot.Upper); after.N != before.N || after.Nt != before.Nt || after.Anomaly != before.Anomaly || det.Drift() != drift {
		t.Fatalf("the rest of the scan was learnt: %+v → %+v, drift %v → %v", before, after, drift, det.Drift())
	}
	// Three windows without IP (R_SYN undefined) clear the alarm; the
	// excursion goes on in the detector, and raises nothing new.
	for range 3 {
		syn(0, 0)
	}
	if rec := syn(100, between); len(rec.Alarms) != 0 || rec.Stats[0].AlarmID != "" {
		t.Fatalf("after the clear: %+v, alarm id %q", rec.Alarms, rec.Stats[0].AlarmID)
	}
	if after, _ := det.Tail(spot.Upper); after.N != before.N {
		t.Fatalf("the excursion ended in the detector: %+v", after)
	}
}

// A state saved at another period holds detectors of another resolution:
// they learn again, and the report says why.
func TestStateOfAnotherPeriod(t *testing.T) {
	a, _, _ := calibrated(t, nil)
	var buf bytes.Buffer
	if err := a.SaveState(&buf, t0); err != nil {
		t.Fatal(err)
	}
	b := testAnalyzer(t, func(c *Config, _ *SpotConfig) { c.Period = config.Duration(10 * time.Second) })
	rep, err := b.LoadState(&buf)
	if err != nil || len(rep.Restored) != 0 || !strings.Contains(rep.Skipped["TRAFFIC"], "resolution 1, now 0.1") || b.LearningLeft() == 0 {
		t.Errorf("LoadState: %+v, %v", rep, err)
	}
}

// A capture outage (interface down) gives windows without packets that say
// so: they are reported but neither judged nor learned, so that traffic
// coming back raises no alarm.
func TestCaptureOutageNotLearned(t *testing.T) {
	a, r, i := calibrated(t, nil)
	before := a.Process(window(i, normal(r))).Stats[0].Up
	i++
	for range 100 {
		s := window(i, 0)
		s.CaptureErr = "capture: eth0: network is down"
		rec := a.Process(s)
		i++
		if len(rec.Alarms) > 0 || rec.Stats[0].Value != 0 || rec.CaptureErr == "" {
			t.Fatalf("window of the outage: %+v", rec)
		}
	}
	for range 50 {
		rec := a.Process(window(i, normal(r)))
		i++
		if len(rec.Alarms) > 0 {
			t.Fatalf("alarm when traffic came back after the outage: %+v", rec.Alarms)
		}
	}
	if after := a.Process(window(i, normal(r))).Stats[0].Up; math.Abs(after-before) > 0.2*before {
		t.Errorf("threshold moved from %v to %v: the outage was learned", before, after)
	}
}

// TestStateFromBeforeJudgingEarly: a state saved before watch_after and
// confidence existed (zero in its parameters and its detectors) resumes a
// detector that has its complete model, which they do not change; one
// still learning learns again, now judging early.
func TestStateFromBeforeJudgingEarly(t *testing.T) {
	old := func(sp *SpotConfig) { sp.WatchAfter, sp.Confidence = 0, 0 }
	a, r, i := calibrated(t, func(_ *Config, sp *SpotConfig) { old(sp) })
	var buf bytes.Buffer
	if err := a.SaveState(&buf, t0); err != nil {
		t.Fatal(err)
	}
	b := testAnalyzer(t, nil)
	rep, err := b.LoadState(bytes.NewReader(buf.Bytes()))
	if err != nil || len(rep.Restored) != 1 {
		t.Fatalf("complete detector: %+v, %v", rep, err)
	}
	if l := b.Learning()[0]; l.Stage != Complete {
		t.Fatalf("restored as %+v", l)
	}
	for range 50 {
		w := window(i, normal(r))
		i++
		if ra, rb := a.Process(w), b.Process(w); ra.Stats[0].Up != rb.Stats[0].Up {
			t.Fatalf("restored detector diverges: %v vs %v", ra.Stats[0].Up, rb.Stats[0].Up)
		}
	}
	// Saved again and restored: still resumes.
	buf.Reset()
	if err := b.SaveState(&buf, t0); err != nil {
		t.Fatal(err)
	}
	if rep, err := testAnalyzer(t, nil).LoadState(bytes.NewReader(buf.Bytes())); err != nil || len(rep.Restored) != 1 {
		t.Fatalf("saved again: %+v, %v", rep, err)
	}

	learning := testAnalyzer(t, func(_ *Config, sp *SpotConfig) { old(sp) })
	for k := range 100 {
		learning.Process(window(k, normal(r)))
	}
	buf.Reset()
	if err := learning.SaveState(&buf, t0); err != nil {
		t.Fatal(err)
	}
	c := testAnalyzer(t, nil)
	rep, err = c.LoadState(bytes.NewReader(buf.Bytes()))
	if err != nil || len(rep.Restored) != 0 || !strings.Contains(rep.Skipped["TRAFFIC"], "parameters changed") || c.LearningLeft() != 300 {
		t.Fatalf("learning detector: %+v, %v, learning left %d", rep, err, c.LearningLeft())
	}
}

// TestLearningLeftInWindows: a statistic undefined in every other window
// (a ratio to IP packets, in windows without any) learns a value every
// two windows, and Learning says so; learning_left counts values.
func TestLearningLeftInWindows(t *testing.T) {
	a := testAnalyzer(t, func(cfg *Config, _ *SpotConfig) { cfg.Stats = []string{"R_TCP_NOACK", "TRAFFIC"} })
	var rec *event.Record
	for i := range 100 {
		n := uint64(0)
		if i%2 == 0 {
			n = 1000
		}
		rec = a.Process(window(i, n))
	}
	l := a.Learning()
	if l[0].Left != 250 || l[0].Windows != 500 || l[1].Left != 200 || l[1].Windows != 200 || rec.LearningLeft != 250 {
		t.Fatalf("learning %+v, learning_left %d; want 250 values in 500 windows for the ratio, 200 for TRAFFIC", l, rec.LearningLeft)
	}
}
