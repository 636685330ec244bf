package spot

import (
	"math"
	"testing"
)

// The tests of this file hold the default mode to sane thresholds on the
// series that network window statistics are made of: constant ones, 0/1
// ones, small integer counts, mostly-zero ratios.

// TestConstantCalibration: a series constant during calibration (a
// statistic of a quiet LAN) has no excess to fit. With a resolution its
// thresholds are finite and strictly beyond the constant, one step beyond
// it is not an alarm (it is learnt), far beyond is, and Probability gives
// the exponential tail of one step from 1/(N+1).
func TestConstantCalibration(t *testing.T) {
	for _, level := range []float64{0, 5, -3} {
		c := Config{Q: 1e-5, Level: 0.99, NInit: 2000, MaxExcess: 1000, Up: true, Down: true, Resolution: 1}
		d := mustNew(t, c)
		for range c.NInit {
			d.Step(level)
		}
		up, down := d.Thresholds()
		// t is half a step out, z a further ln((1/(N+1))/q) steps.
		want := 0.5 + math.Log(1/(2001*1e-5))
		if math.Abs(up-(level+want)) > 1e-9 || math.Abs(down-(level-want)) > 1e-9 {
			t.Fatalf("constant %v: thresholds %v %v, want ±%.4f around it", level, up, down, want)
		}
		pUp, pDown := d.Probability(level + 1)
		if wantP := math.Exp(-0.5) / 2001; math.Abs(pUp-wantP) > 1e-12 || !math.IsNaN(pDown) {
			t.Errorf("constant %v: P(one step above) = %v (down %v), want %v (and NaN)", level, pUp, pDown, wantP)
		}
		if pUp, _ := d.Probability(up); math.Abs(pUp-c.Q) > 1e-12 {
			t.Errorf("constant %v: P(threshold) = %v, want q", level, pUp)
		}
		if r := d.Step(level); r.Up != Normal || r.Down != Normal {
			t.Errorf("constant %v: the constant itself gives %+v", level, r)
		}
		// One step up (a single ICMP message on a silent LAN): an excess,
		// learnt, not an alarm.
		if r := d.Step(level + 1); r.Up != Excess {
			t.Errorf("constant %v: one step above gives %+v, want an excess", level, r)
		}
		if ts, _ := d.Tail(Upper); ts.Nt != 1 || ts.Stored != 1 || !(ts.Anomaly > 0.5) {
			t.Errorf("constant %v: after one excess: %+v", level, ts)
		}
		if r := d.Step(level + 20); r.Up != Alarm {
			t.Errorf("constant %v: 20 steps above gives %+v, want an alarm", level, r)
		}
		if r := d.Step(level - 20); r.Down != Alarm {
			t.Errorf("constant %v: 20 steps below gives %+v, want an alarm", level, r)
		}
	}

	// Without a resolution there is no scale at all: any value beyond
	// the constant is beyond the threshold, and its probability is what
	// N values that never went there can tell, 1/(N+1).
	d := mustNew(t, Config{Q: 1e-5, Level: 0.99, NInit: 2000, MaxExcess: 1000, Up: true, MinShape: -0.5})
	for range 2000 {
		d.Step(0)
	}
	if up, _ := d.Thresholds(); up != 0 {
		t.Fatalf("no resolution: threshold %v, want the constant", up)
	}
	if p, _ := d.Probability(0.3); p != 1.0/2001 {
		t.Errorf("no resolution: P(0.3) = %v, want 1/2001", p)
	}
}

// TestZeroOneSeries: a 0/1 series, sparse or dense, has nothing but ties.
// The excess threshold must fall between 0 and 1, the alarm threshold
// above 1 and finite, and the series itself must raise no alarm.
func TestZeroOneSeries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every uint64 // one 1 in every
	}{{"sparse", 300}, {"one in 20", 20}, {"dense", 2}} {
		for _, depth := range []int{0, 100} {
			c := Config{Q: 1e-5, Level: 0.99, NInit: 2000, MaxExcess: 1000, Depth: depth, Up: true, Resolution: 1}
			d := mustNew(t, c)
			r := splitMix64{uint64(depth) + tc.every}
			alarms := 0
			for i := range 50000 {
				x := 0.0
				if r.next()%tc.every == 0 {
					x = 1
				}
				if d.Step(x).Up == Alarm {
					alarms++
				}
				if i == c.NInit+depth {
					ts, _ := d.Tail(Upper)
					if !(ts.Excess > -1 && ts.Excess < 1) {
						t.Errorf("%s, depth %d: excess threshold %v not between the values", tc.name, depth, ts.Excess)
					}
				}
			}
			up, _ := d.Thresholds()
			ts, _ := d.Tail(Upper)
			if alarms != 0 || !(up > 1) || up > 30 || !(ts.Gamma < 1) {
				t.Errorf("%s, depth %d: %d alarms, threshold %v, tail %+v", tc.name, depth, alarms, up, ts)
			}
			if st := d.Step(up + 1).Up; st != Alarm {
				t.Errorf("%s, depth %d: a value beyond the threshold gives %v", tc.name, depth, st)
			}
		}
	}
}

// poisson draws from a Poisson distribution of mean m (inversion).
func poisson(r *splitMix64, m float64) float64 {
	u, k := r.float(), 0.0
	p := math.Exp(-m)
	for s := p; u > s && k < 1000; s += p {
		k++
		p = float64(p * (m / k)) // rounded: the same draws on every processor
	}
	return k
}

// TestIntegerCounts: a count per window (Poisson, mean 3) with its
// resolution: the thresholds stay within reach (no explosion from ties at
// t), and the alarm rate stays near q although the values are a lattice.
func TestIntegerCounts(t *testing.T) {
	const n, q = 300_000, 1e-3
	for _, depth := range []int{0, 100} {
		d := mustNew(t, Config{Q: q, Level: 0.98, NInit: 2000, MaxExcess: 1000, Depth: depth, Up: true, Resolution: 1, MinShape: -0.5})
		r := splitMix64{31 + uint64(depth)}
		alarms, steps := 0, 0
		maxUp := math.Inf(-1)
		for range n {
			st := d.Step(poisson(&r, 3)).Up
			switch st {
			case Alarm:
				alarms++
				steps++
			case Normal, Excess, Continued:
				steps++
			}
			if st != Learning {
				up, _ := d.Thresholds()
				maxUp = max(maxUp, up)
			}
		}
		// P(X ≥ 9) = 3.8e-3 and P(X ≥ 10) = 1.1e-3 for a mean of 3: the
		// threshold belongs around 9; P(X ≥ 17) is 2e-8.
		rate := float64(alarms) / (q * float64(steps))
		if rate > 2 || rate < 0.2 || maxUp > 17 {
			t.Errorf("depth %d: alarm rate %.2f q, highest threshold %v", depth, rate, maxUp)
		}
	}
}

// TestSparseRatio: a mostly-zero ratio (ICMP messages among the IP packets
// of a 1 s window of a small office), watched with drift. Its tail used
// to be fitted with a shape of 25 and a threshold of 1e35, beyond which
// nothing ever alarmed again. Its threshold must stay within reach of the
// ratio's range (the exponential tail of a few tens of excesses may
// exceed 1 at first, and comes below it as the excesses accumulate), and
// an ICMP flood must alarm.
func TestSparseRatio(t *testing.T) {
	c := Config{Q: 1e-5, Level: 0.99, NInit: 2000, MaxExcess: 1000, Depth: 100, Up: true, Resolution: 0.01, MinShape: 0}
	d := mustNew(t, c)
	r := splitMix64{77}
	worst, gamma := 0.0, 0.0
	for i := range 40000 {
		packets := 1 + poisson(&r, 30)
		icmp := 0.0
		switch u := r.float(); {
		case u < 0.01: // a ping and its reply
			icmp = 2
		case u < 0.015: // a burst of neighbour discovery
			icmp = 2 + poisson(&r, 4)
		}
		st := d.Step(math.Min(icmp, packets) / packets)
		if i < c.Depth+c.NInit {
			continue
		}
		if st.Up == Alarm {
			t.Errorf("step %d: alarm on benign traffic (%v)", i, st)
		}
		up, _ := d.Thresholds()
		ts, _ := d.Tail(Upper)
		worst, gamma = max(worst, up), max(gamma, ts.Gamma)
	}
	last, _ := d.Thresholds()
	if !(worst < 1.5) || !(last < 1) || !(gamma < 1) {
		t.Errorf("highest threshold %v, last %v, largest shape %v", worst, last, gamma)
	}
	if st := d.Step(1); st.Up != Alarm {
		t.Errorf("an ICMP flood (every packet) gives %v", st)
	}
}

// TestExcursionIsNotLearnt: after an alarm, the values beyond t that
// follow (the rest of an attack) continue it: not learnt, not in the drift
// window. The first value back at or below t ends the excursion.
func TestExcursionIsNotLearnt(t *testing.T) {
	c := DefaultConfig()
	c.Depth = 50
	d := mustNew(t, c)
	for _, x := range gaussian(4, c.Depth+c.NInit) {
		d.Step(x)
	}
	before, _ := d.Tail(Upper)
	drift := d.Drift()
	between := (before.Excess + before.Anomaly) / 2 // beyond t, below z
	if r := d.Step(drift + before.Anomaly + 5); r.Up != Alarm {
		t.Fatalf("spike: %+v", r)
	}
	for range 20 {
		if r := d.Step(drift + between); r.Up != Continued || !r.Abnormal() || r.IsAlarm() {
			t.Fatalf("after the alarm, a value between t and z gives %+v", r)
		}
	}
	after, _ := d.Tail(Upper)
	if after != before || d.Drift() != drift { // (the tail has a model: no NaN in it)
		t.Fatalf("the excursion was learnt:\nbefore %+v drift %v\nafter  %+v drift %v", before, drift, after, d.Drift())
	}
	if r := d.Step(drift); r.Up != Normal {
		t.Fatalf("back to the mean: %+v", r)
	}
	if r := d.Step(d.Drift() + between); r.Up != Excess {
		t.Fatalf("a new excursion below z: %+v", r)
	}
	if got, _ := d.Tail(Upper); got.Nt != before.Nt+1 {
		t.Fatalf("the new excess was not learnt: %+v", got)
	}
	// Learning alarms, there is no excursion to hold back.
	c.KeepAnomalies = true
	d = mustNew(t, c)
	for _, x := range gaussian(4, c.Depth+c.NInit) {
		d.Step(x)
	}
	d.Step(d.Drift() + 50)
	if r := d.Step(d.Drift() + between); r.Up == Continued {
		t.Fatalf("with KeepAnomalies: %+v", r)
	}
}

// TestPenaltyBoundsShape: on a few excesses with two far outliers the
// plain likelihood finds a tail without a mean (γ > 1) and a threshold
// out of reach; the penalized one stays below 1.
func TestPenaltyBoundsShape(t *testing.T) {
	e := newExcesses(100, false)
	for i := range 18 {
		e.push(0.01 * float64(1+i%3))
	}
	e.push(3)
	e.push(40)
	root := math.NaN()
	plain, _ := fitGPD(&e, 0, 0, fitOptions{minShape: gammaFloor}, &root)
	root = math.NaN()
	pen, sigma := fitGPD(&e, 0, 0, penalizedFit, &root)
	if !(plain > 1) || !(pen < 1) || !(pen > 0) || !(sigma > 0) {
		t.Fatalf("plain γ = %v, penalized γ = %v σ = %v", plain, pen, sigma)
	}
	// On a thousand excesses the penalty is negligible.
	r := splitMix64{3}
	e = newExcesses(1000, false)
	for range 1000 {
		e.push(math.Pow(r.float()+0x1p-54, -0.3) - 1) // GPD γ = 0.3
	}
	root = math.NaN()
	plain, _ = fitGPD(&e, 0, 0, fitOptions{minShape: gammaFloor}, &root)
	root = math.NaN()
	pen, _ = fitGPD(&e, 0, 0, penalizedFit, &root)
	if math.Abs(plain-pen) > 0.01 {
		t.Fatalf("1000 excesses: plain γ = %v, penalized %v", plain, pen)
	}
}

// TestMinShape: uniform excesses (γ = −1) fitted with each floor give the
// floor, on the boundary with the best σ for it.
func TestMinShape(t *testing.T) {
	r := splitMix64{9}
	e := newExcesses(2000, false)
	for range 2000 {
		e.push(float64(2 * (r.float() + 0x1p-54)))
	}
	for _, floor := range []float64{0, -0.25, -0.5, gammaFloor} {
		root := math.NaN()
		g, s := fitGPD(&e, 0, 0, fitOptions{penalized: true, minShape: floor}, &root)
		if floor == gammaFloor {
			if !(g < -0.9) || math.Abs(s-2) > 0.15 {
				t.Errorf("floor −1: γ=%v σ=%v, want about −1 and 2", g, s)
			}
			continue
		}
		if g != floor {
			t.Errorf("floor %v: γ=%v", floor, g)
			continue
		}
		// σ maximizes the likelihood at γ = floor: a little off is worse.
		p := newProfile(&e, 0, 0, false)
		ll := func(s float64) float64 { return p.logLikelihood(g, s*p.scale) }
		if best := ll(s); !(best >= ll(s*1.001) && best >= ll(s*0.999)) {
			t.Errorf("floor %v: σ=%v is not the best scale", floor, s)
		}
	}
}

// TestExcessThreshold: t falls halfway between two distinct values near
// the level quantile, never on a tie.
func TestExcessThreshold(t *testing.T) {
	seq := func(parts ...[2]float64) []float64 { // (value, count) pairs, sorted
		var s []float64
		for _, p := range parts {
			for range int(p[1]) {
				s = append(s, p[0])
			}
		}
		return s
	}
	clusters := seq([2]float64{0, 900}) // 0 ×900, 90 near 1, 10 near 3
	for k := range 90 {
		clusters = append(clusters, 1+float64(0.001*float64(k)))
	}
	for k := range 10 {
		clusters = append(clusters, 3+float64(0.001*float64(k)))
	}
	for _, tc := range []struct {
		name  string
		s     []float64
		level float64
		tol   float64
		want  float64
	}{
		{"distinct values", []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.8, 0, 8.5},
		// The 0.98 quantile among 2s: 12 excesses above them, 40 above
		// the 1s; 12 is nearer the nominal 20.
		{"tie, gap above", seq([2]float64{0, 900}, [2]float64{1, 60}, [2]float64{2, 28}, [2]float64{3, 12}), 0.98, 0, 2.5},
		{"tie, too few above the gap above", seq([2]float64{0, 900}, [2]float64{1, 95}, [2]float64{2, 5}), 0.98, 0, 0.5},
		{"tie up to the largest value", seq([2]float64{0, 900}, [2]float64{1, 70}, [2]float64{2, 30}), 0.98, 0, 1.5},
		{"0/1, dense", seq([2]float64{0, 500}, [2]float64{1, 500}), 0.99, 0, 0.5},
		{"constant", seq([2]float64{4, 100}), 0.99, 0.5, 4.5},
		{"clusters, no tolerance", clusters, 0.98, 0, 1.0795},
		{"clusters within the tolerance", clusters, 0.98, 0.5, (1.089 + 3) / 2},
	} {
		if got := excessThreshold(tc.s, tc.level, tc.tol); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: t = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestTinyResolution: a resolution far below the precision of the values
// (1e-300 on values around 1e90, or the smallest float64) is harmless:
// the excesses stay finite, the thresholds are the continuous ones (the
// steps are below what a float64 of that size can tell apart), and the
// detector's own snapshot restores.
func TestTinyResolution(t *testing.T) {
	xs := gaussian(3, 5000)
	continuous := mustNew(t, Config{Q: 1e-4, Level: 0.98, NInit: 2000, MaxExcess: 1000, Up: true, Down: true, MinShape: -0.5})
	for _, x := range xs {
		continuous.Step(x * 1e90)
	}
	wantUp, wantDown := continuous.Thresholds()
	for _, res := range []float64{1e-300, 5e-324} {
		c := Config{Q: 1e-4, Level: 0.98, NInit: 2000, MaxExcess: 1000, Up: true, Down: true, MinShape: -0.5, Resolution: res}
		d := mustNew(t, c)
		for _, x := range xs {
			d.Step(x * 1e90)
		}
		for _, side := range []Side{Upper, Lower} {
			ts, err := d.Tail(side)
			if err != nil || math.IsInf(ts.Sigma, 0) || !(ts.Sigma > 0) || math.Abs(ts.Anomaly) <= math.Abs(ts.Excess) {
				t.Errorf("resolution %g, side %v: tail %+v (%v)", res, side, ts, err)
			}
		}
		if up, down := d.Thresholds(); up != wantUp || down != wantDown {
			t.Errorf("resolution %g: thresholds %g %g, want the continuous %g %g", res, up, down, wantUp, wantDown)
		}
		b, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var r Detector
		if err := r.UnmarshalBinary(b); err != nil {
			t.Errorf("resolution %g: own snapshot refused: %v", res, err)
		}
	}
}
