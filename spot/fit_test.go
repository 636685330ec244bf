package spot

import (
	"math"
	"testing"
)

// TestWarmFitFindsTheColdMaximum: the refit from the previous maximum
// (Newton steps) lands on the maximum that a full scan of the domain finds.
func TestWarmFitFindsTheColdMaximum(t *testing.T) {
	draws := map[string]func(u float64) float64{
		"uniform":     func(u float64) float64 { return u },                       // γ = −1
		"beta-like":   func(u float64) float64 { return 1 - math.Sqrt(1-u) },      // γ = −0.5
		"exponential": func(u float64) float64 { return -math.Log1p(-u) },         // γ = 0
		"pareto":      func(u float64) float64 { return math.Pow(1-u, -0.5) - 1 }, // γ = 0.5
	}
	for name, draw := range draws {
		r := splitMix64{42}
		e := newExcesses(200, false)
		warm := math.NaN()
		compared := 0
		for i := range 3000 {
			e.push(draw(r.float()) + 1e-12)
			if e.size < 20 {
				continue
			}
			gw, sw := fitGPD(&e, 3, 2, penalizedFit, &warm)
			cold := math.NaN()
			gc, sc := fitGPD(&e, 3, 2, penalizedFit, &cold)
			if math.Abs(gw-gc) > 1e-6 || math.Abs(sw-sc) > 1e-6*sc {
				t.Fatalf("%s, fit %d: warm γ=%v σ=%v, cold γ=%v σ=%v", name, i, gw, sw, gc, sc)
			}
			compared++
		}
		if compared < 2900 {
			t.Fatalf("%s: %d fits compared", name, compared)
		}
	}
}

// TestFitRecoversShape: on large samples of known GPDs, the fit finds
// the shape (the maximum likelihood estimate has a standard error of
// about (1+γ)/√n).
func TestFitRecoversShape(t *testing.T) {
	for _, gamma := range []float64{-0.4, -0.2, 0, 0.2, 0.5} {
		r := splitMix64{7}
		e := newExcesses(4000, false)
		for range 4000 {
			u := r.float() + 0x1p-54
			y := -math.Log(u) // exponential
			if gamma != 0 {
				y = (math.Pow(u, -gamma) - 1) / gamma
			}
			e.push(2 * y)
		}
		root := math.NaN()
		g, s := fitGPD(&e, 0, 0, penalizedFit, &root)
		if se := (1 + gamma) / math.Sqrt(4000); math.Abs(g-gamma) > 4*se || math.Abs(s-2) > 0.15 {
			t.Errorf("γ=%v σ=2: fitted γ=%.3f σ=%.3f", gamma, g, s)
		}
	}
}

// TestCalibratedAlarmRate: on independent exponential values, discarding
// alarms must not drive the alarm rate up (it does in reference mode).
func TestCalibratedAlarmRate(t *testing.T) {
	const n, q = 200_000, 1e-3
	count := func(reference bool) int {
		d := mustNew(t, Config{Q: q, Level: 0.98, NInit: 2000, MaxExcess: 200, Up: true, Reference: reference})
		r := splitMix64{99}
		alarms := 0
		for range n {
			if d.Step(-math.Log(r.float()+0x1p-54)).Up == Alarm {
				alarms++
			}
		}
		return alarms
	}
	nominal := q * (n - 2000)
	def, ref := count(false), count(true)
	t.Logf("alarms: default %d, reference %d, nominal %.0f", def, ref, nominal)
	// Poisson noise on 198 is about ±14: 1.5 times nominal is 7 sd away.
	if float64(def) > 1.5*nominal || float64(def) < 0.6*nominal {
		t.Errorf("default mode: %d alarms, nominal %.0f", def, nominal)
	}
	if float64(ref) < 3*nominal {
		t.Errorf("reference mode: %d alarms; the reference is known to raise several times nominal", ref)
	}
}

// TestKeepAnomaliesLearns: with KeepAnomalies, a lasting rise is reported
// as alarms at first and then learnt, so the threshold follows it.
func TestKeepAnomaliesLearns(t *testing.T) {
	for _, keep := range []bool{false, true} {
		d := mustNew(t, Config{Q: 1e-3, Level: 0.98, NInit: 1000, MaxExcess: 100, Up: true, KeepAnomalies: keep})
		xs := gaussian(12, 1000)
		for _, x := range xs {
			d.Step(x)
		}
		before, _ := d.Thresholds()
		alarms := 0
		r := splitMix64{5}
		for range 2000 {
			// Every 20th value now lands between 4 and 8.
			x := r.float()
			if r.next()%20 == 0 {
				x = 4 + 4*x
			}
			if d.Step(x).Up == Alarm {
				alarms++
			}
		}
		after, _ := d.Thresholds()
		if keep && !(after > before+2 && alarms < 100) {
			t.Errorf("keep: threshold %v → %v, %d alarms of 100 high values", before, after, alarms)
		}
		if !keep && !(after < before+1 && alarms > 90) {
			t.Errorf("discard: threshold %v → %v, %d alarms of 100 high values", before, after, alarms)
		}
	}
}

// penalizedFit is the default mode's fit with every shape the search
// accepts, so that tests of the search see all of it.
var penalizedFit = fitOptions{penalized: true, minShape: gammaFloor}
