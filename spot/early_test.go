package spot

import (
	"errors"
	"math"
	"testing"
)

// TestWatchAfterValidation: watch_after between twice the provisional
// excesses and depth + n_init, confidence in [0, 1), reference mode only
// once calibrated.
func TestWatchAfterValidation(t *testing.T) {
	base := Config{Q: 1e-5, Level: 0.99, NInit: 2000, MaxExcess: 1000, Depth: 300, Up: true, WatchAfter: 300, Confidence: 0.95}
	if err := base.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		param string
		edit  func(*Config)
	}{
		{"watch_after", func(c *Config) { c.WatchAfter = -1 }},
		{"watch_after", func(c *Config) { c.WatchAfter = 2301 }},
		{"watch_after", func(c *Config) { c.WatchAfter = 39 }}, // 20 excesses need 40 values
		{"watch_after", func(c *Config) { c.Reference, c.Resolution = true, 0 }},
		{"confidence", func(c *Config) { c.Confidence = 1 }},
		{"confidence", func(c *Config) { c.Confidence = -0.1 }},
		{"confidence", func(c *Config) { c.Confidence = math.NaN() }},
		{"confidence", func(c *Config) { c.Confidence = 0.2 }}, // the bound of 0.8, mirrored
	} {
		c := base
		tc.edit(&c)
		var pe *ParamError
		if err := c.Validate(); !errors.As(err, &pe) || pe.Param != tc.param {
			t.Errorf("%+v: error %v, want one for %s", c, err, tc.param)
		}
	}
	for _, ok := range []func(*Config){
		func(c *Config) { c.WatchAfter = 40 },
		func(c *Config) { c.WatchAfter = 2300 },
		func(c *Config) { c.WatchAfter = 0 },
		func(c *Config) { c.WatchAfter, c.Reference, c.Resolution = 2300, true, 0 },
	} {
		c := base
		ok(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestJudgesEarly: a detector with WatchAfter learns that many values,
// judges from the next one with provisional tails while Provisional counts
// down to its complete model, and from then on is exactly the detector
// that waited for Depth+NInit values (no provisional alarm here).
func TestJudgesEarly(t *testing.T) {
	c := Config{Q: 1e-4, Level: 0.99, NInit: 2000, MaxExcess: 1000, Depth: 300, Up: true, Down: true, Resolution: 1, MinShape: 0, Confidence: 0.95}
	late := mustNew(t, c)
	c.WatchAfter = 300
	early := mustNew(t, c)
	if got := c.JudgesAfter(); got != 300 {
		t.Fatalf("JudgesAfter = %d", got)
	}
	r := splitMix64{12}
	full := c.Depth + c.NInit
	for i := range full + 3000 {
		x := poisson(&r, 20)
		if got, want := early.Remaining(), max(300-i, 0); got != want {
			t.Fatalf("value %d: Remaining %d, want %d", i, got, want)
		}
		if got, want := early.Provisional(), max(full-i, 0); got != want {
			t.Fatalf("value %d: Provisional %d, want %d", i, got, want)
		}
		re, rl := early.Step(x), late.Step(x)
		switch {
		case i < 300:
			if re.Up != Learning || re.Down != Learning {
				t.Fatalf("value %d: %+v while learning", i, re)
			}
		case i < full:
			if re.IsAlarm() || re.Up == Learning {
				t.Fatalf("value %d: %+v on benign counts", i, re)
			}
			pu, pl := early.Thresholds()
			if !(pu > early.Drift()) || !(pl < early.Drift()) {
				t.Fatalf("value %d: provisional thresholds %v %v around %v", i, pl, pu, early.Drift())
			}
		default:
			ue, le := early.Thresholds()
			ul, ll := late.Thresholds()
			if re != rl || ue != ul || le != ll {
				t.Fatalf("value %d: %+v (%v, %v), the detector that waited %+v (%v, %v)", i, re, le, ue, rl, ll, ul)
			}
		}
	}
	for _, s := range []Side{Upper, Lower} {
		a, _ := early.Tail(s)
		b, _ := late.Tail(s)
		if a != b {
			t.Fatalf("tail %v: %+v, the detector that waited %+v", s, a, b)
		}
	}
}

// TestProvisionalBound: the provisional threshold is the point estimate
// at confidence 0 and higher at a higher confidence, by about 1 + z/√k
// over t for an exponential tail of k excesses; the bound narrows as
// excesses accumulate.
func TestProvisionalBound(t *testing.T) {
	base := Config{Q: 1e-5, Level: 0.99, NInit: 2000, MaxExcess: 1000, Depth: 0, Up: true, WatchAfter: 200, MinShape: 0}
	xs := make([]float64, 2000)
	r := splitMix64{33}
	for i := range xs {
		xs[i] = -math.Log(1 - r.float()) // exponential: a tail of shape 0
	}
	height := func(n int, conf float64) float64 {
		c := base
		c.Confidence = conf
		d := mustNew(t, c)
		for _, x := range xs[:n] {
			d.Step(x)
		}
		ts, err := d.Tail(Upper)
		if err != nil {
			t.Fatal(err)
		}
		z, _ := d.Thresholds()
		return z - ts.Excess
	}
	for _, n := range []int{200, 1000, 1999} {
		h0, h90, h99 := height(n, 0), height(n, 0.9), height(n, 0.99)
		if !(h90 > h0) || !(h99 > h90) || h99 > 3*h0 {
			t.Errorf("%d values: height over t %v at 0, %v at 0.9, %v at 0.99", n, h0, h90, h99)
		}
	}
	// The margin of the scale's bound on an exponential tail of k
	// excesses: the r > 1 with k·(log r + 1/r − 1) = z²/2, about
	// 1 + z/√k, narrowing as k grows.
	z95 := math.Sqrt2 * math.Erfinv(0.9)
	prev := math.Inf(1)
	for _, k := range []int{20, 80, 320} {
		e := newExcesses(k, false)
		for _, x := range xs[:k] {
			e.push(x)
		}
		ratio := scaleBound(&e, 0, e.mean(), z95*z95/2)
		lo, hi := 1.0, 10.0
		for range 100 {
			mid := (lo + hi) / 2
			if float64(k)*(math.Log(mid)+1/mid-1) < z95*z95/2 {
				lo = mid
			} else {
				hi = mid
			}
		}
		if math.Abs(ratio-lo) > 1e-6 || !(ratio < prev) || math.Abs(ratio-1-z95/math.Sqrt(float64(k))) > 0.5*z95/math.Sqrt(float64(k)) {
			t.Errorf("%d excesses: bound %v× the scale, want %v", k, ratio, lo)
		}
		prev = ratio
	}
}

// TestProvisionalAlarmsNotLearnt: an attack while provisional raises an
// alarm, and neither it nor the rest of its excursion enters the batch of
// the complete model.
func TestProvisionalAlarmsNotLearnt(t *testing.T) {
	c := Config{Q: 1e-4, Level: 0.99, NInit: 1000, MaxExcess: 1000, Depth: 100, Up: true, Resolution: 1, MinShape: 0, WatchAfter: 150, Confidence: 0.95}
	clean, attacked := mustNew(t, c), mustNew(t, c)
	r := splitMix64{8}
	alarms := 0
	for i := range c.Depth + c.NInit + 50 {
		x := poisson(&r, 10)
		clean.Step(x)
		if i >= 400 && i < 420 { // a flood: 20 values far above
			alarms += btoi(attacked.Step(x + 500).IsAlarm())
			continue
		}
		attacked.Step(x)
	}
	if alarms == 0 {
		t.Fatal("no alarm on the flood")
	}
	// The attacked detector learnt 20 values fewer: its complete model
	// comes 20 values later, without the flood in it.
	if clean.Provisional() != 0 || attacked.Provisional() != 0 {
		t.Fatalf("provisional left: clean %d, attacked %d", clean.Provisional(), attacked.Provisional())
	}
	a, _ := attacked.Tail(Upper)
	if a.Anomaly > 100 {
		t.Fatalf("the flood was learnt: %+v", a)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestExcursionEnds: the demo's shortened calibration (n_init 300, depth
// 30, level 0.95) on a sparse count of SYNs left the excess threshold
// below the drift (t = −0.9): every silent window was "beyond t" and
// continued the excursion of an alarm for thousands of windows, frozen,
// since its values entered neither the tail nor the drift window. A value
// at or below the drift ends any excursion.
func TestExcursionEnds(t *testing.T) {
	// Silence, and a burst of 20 SYNs every minute: the bursts are too
	// few to be the tail, and for half a minute after each the drift is
	// up, so that the silent windows fall in two groups, −0.67 and 0. The
	// level quantile falls in the upper group, and t between the two.
	burst := func(i int) float64 {
		if i%60 == 0 {
			return 20
		}
		return 0
	}
	for _, watchAfter := range []int{0, 100} {
		c := Config{Q: 1e-4, Level: 0.95, NInit: 300, MaxExcess: 1000, Depth: 30, Up: true, Resolution: 1, MinShape: 0, WatchAfter: watchAfter, Confidence: 0.95}
		d := mustNew(t, c)
		i := 0
		for ; i < c.Depth+c.NInit+25; i++ {
			d.Step(burst(i))
		}
		ts, _ := d.Tail(Upper)
		if !(ts.Excess < 0) {
			t.Fatalf("watch_after %d: t = %v, the case needs it below the drift", watchAfter, ts.Excess)
		}
		if res := d.Step(500); res.Up != Alarm {
			t.Fatalf("watch_after %d: a flood gives %+v", watchAfter, res)
		}
		if res := d.Step(0); res.Up == Continued {
			t.Fatalf("watch_after %d: a silent window after the alarm continues it (t %v, drift %v)", watchAfter, ts.Excess, d.Drift())
		}
		for k := range 600 {
			if res := d.Step(burst(i + k)); res.Up == Continued && burst(i+k) == 0 {
				t.Fatalf("watch_after %d: a silent window %d values after the alarm continues it", watchAfter, k)
			}
		}
	}
}

// TestExcursionBounded: values that stay between t and z after an alarm
// (a lasting change of level, not beyond the alarm threshold) continue its
// excursion for at most Depth values; then they are learnt again, and the
// drift follows them.
func TestExcursionBounded(t *testing.T) {
	c := Config{Q: 1e-4, Level: 0.98, NInit: 1000, MaxExcess: 1000, Depth: 50, Up: true, MinShape: 0}
	d := mustNew(t, c)
	for _, x := range gaussian(9, c.Depth+c.NInit) {
		d.Step(x)
	}
	ts, _ := d.Tail(Upper)
	m := d.Drift()
	level := m + (ts.Excess+ts.Anomaly)/2
	if res := d.Step(m + ts.Anomaly + 10); res.Up != Alarm {
		t.Fatalf("spike: %+v", res)
	}
	continued := 0
	for range 3 * c.Depth {
		if d.Step(level).Up == Continued {
			continued++
		}
	}
	if continued != c.Depth-1 {
		t.Fatalf("%d values continued the excursion, want %d (depth − the alarm)", continued, c.Depth-1)
	}
	if !(d.Drift() > m+1) {
		t.Fatalf("drift %v after the excursion ended, was %v: the new level was not learnt", d.Drift(), m)
	}
}

// TestLowConfidenceNoExcess: a provisional tail without excesses (a
// constant statistic) at the lowest confidence allowed keeps its threshold
// at or above the point estimate, and its snapshot is read back.
func TestLowConfidenceNoExcess(t *testing.T) {
	c := Config{Q: 1e-4, Level: 0.98, NInit: 2000, MaxExcess: 1000, Depth: 100, Up: true, Resolution: 1, MinShape: 0, WatchAfter: 300, Confidence: 0.5}
	d := mustNew(t, c)
	for range 400 {
		d.Step(3)
	}
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var r Detector
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatalf("a constant statistic judged at confidence 0.5: its snapshot is refused: %v", err)
	}
}

// TestLongAlarmRun: a run of alarms longer than the drift window (a flood
// that lasts) is saved and restored, and the first value after it that is
// below the alarm threshold but beyond t is not Continued: the excursion
// already lasted the longest an excursion may.
func TestLongAlarmRun(t *testing.T) {
	c := Config{Q: 1e-4, Level: 0.98, NInit: 1000, MaxExcess: 1000, Depth: 20, Up: true, MinShape: 0}
	d := mustNew(t, c)
	for _, x := range gaussian(9, c.Depth+c.NInit) {
		d.Step(x)
	}
	ts, _ := d.Tail(Upper)
	m := d.Drift()
	for i := range 3 * c.Depth {
		if res := d.Step(m + ts.Anomaly + 10); res.Up != Alarm {
			t.Fatalf("flood value %d: %+v", i, res)
		}
	}
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var r Detector
	if err := r.UnmarshalBinary(b); err != nil {
		t.Fatalf("a detector after %d alarms in a row: its snapshot is refused: %v", 3*c.Depth, err)
	}
	for _, det := range []*Detector{d, &r} {
		if res := det.Step(m + (ts.Excess+ts.Anomaly)/2); res.Up == Continued {
			t.Fatalf("the value after a run of %d alarms continues it (at most %d may)", 3*c.Depth, c.Depth)
		}
	}
}

// TestProvisionalHoldsTheBand: a value in the cautious band of a
// provisional tail (beyond the point estimate of its quantile, not beyond
// the bound) is held: learnt when the run ends below the band, dropped
// when the run raises an alarm, as the start of its excursion. It survives
// a snapshot.
func TestProvisionalHoldsTheBand(t *testing.T) {
	c := Config{Q: 1e-4, Level: 0.99, NInit: 2000, MaxExcess: 1000, Depth: 100, Up: true, MinShape: 0, WatchAfter: 300, Confidence: 0.95}
	xs := gaussian(14, 600)
	feed := func(conf float64) *Detector {
		cc := c
		cc.Confidence = conf
		d := mustNew(t, cc)
		for _, x := range xs {
			d.Step(x)
		}
		return d
	}
	point, _ := feed(0).Thresholds()
	bound, _ := feed(c.Confidence).Thresholds()
	if !(bound > point) {
		t.Fatalf("bound %v, point estimate %v", bound, point)
	}
	band := (point + bound) / 2

	d := feed(c.Confidence)
	left := d.Provisional()
	if r := d.Step(band); r.Up != Excess || d.Provisional() != left {
		t.Fatalf("a value in the band: %+v, provisional %d (was %d): learnt at once", r, d.Provisional(), left)
	}
	snap, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var restored Detector
	if err := restored.UnmarshalBinary(snap); err != nil {
		t.Fatal(err)
	}
	for _, dd := range []*Detector{d, &restored} {
		if r := dd.Step(0); r.Up != Normal || dd.Provisional() != left-2 {
			t.Fatalf("back below the band: %+v, provisional %d, want %d (both learnt)", r, dd.Provisional(), left-2)
		}
	}

	d = feed(c.Confidence)
	d.Step(band)
	if r := d.Step(bound + 100); r.Up != Alarm {
		t.Fatalf("flood: %+v", r)
	}
	d.Step(0)
	if d.Provisional() != left-1 {
		t.Fatalf("provisional %d after a band value, an alarm and a normal value: want %d (only the normal one learnt)", d.Provisional(), left-1)
	}
}
