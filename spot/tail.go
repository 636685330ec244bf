package spot

import (
	"math"
	"slices"
)

// tail is SPOT on one side of a series. It works in oriented units,
// y = sign·(x − M) with sign +1 for the upper tail and −1 for the lower one,
// so that the lower tail is exactly the upper tail of the negated series.
type tail struct {
	sign float64
	t    float64 // excess threshold (oriented)
	z    float64 // anomaly threshold (oriented): y > z is an alarm

	gamma, sigma float64 // fitted GPD; NaN while the tail holds no excess
	n, nt        uint64  // values counted and excesses ever seen: P(y > t) ≈ nt/n

	peaks excesses
	// fromCalibration counts the stored excesses that come from the
	// calibration batch (the oldest ones): they were not cut at z.
	fromCalibration int
	// root is the last maximum of the profile likelihood found by the
	// default fit (φ = γ/σ scaled), the warm start of the next fit; NaN
	// when there is none.
	root float64
}

func newTail(sign float64, maxExcess int, reference bool) tail {
	return tail{
		sign:  sign,
		t:     math.NaN(),
		z:     math.NaN(),
		gamma: math.NaN(),
		sigma: math.NaN(),
		peaks: newExcesses(maxExcess, reference),
		root:  math.NaN(),
	}
}

// calibrate sets t from the calibration batch (values relative to the
// drift, data units), stores its excesses and fits the first model.
// scratch has room for a copy of the batch.
func (tl *tail) calibrate(c *Config, batch, scratch []float64) {
	tl.peaks.reset()
	tl.n, tl.nt = uint64(len(batch)), 0
	if c.Reference {
		// The reference takes the low quantile of the raw values for
		// the lower tail, not the high quantile of the negated ones.
		p := c.Level
		if tl.sign < 0 {
			p = 1 - c.Level
		}
		tl.t = tl.sign * p2Quantile(p, batch)
	} else {
		s := scratch[:len(batch)]
		for i, x := range batch {
			s[i] = tl.sign * x
		}
		slices.Sort(s)
		tl.t = sortedQuantile(s, c.Level)
	}
	for _, x := range batch {
		if y := float64(tl.sign*x) - tl.t; y > 0 {
			tl.nt++
			tl.peaks.push(y)
		}
	}
	tl.fromCalibration = tl.peaks.size
	tl.root = math.NaN()
	tl.refit(c)
}

// sortedQuantile is the p-quantile of sorted values with linear
// interpolation between order statistics (type 7 of Hyndman and Fan).
func sortedQuantile(s []float64, p float64) float64 {
	h := float64(float64(len(s)-1) * p)
	i := int(h)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + float64((h-float64(i))*(s[i+1]-s[i]))
}

// step judges y (oriented, relative to the drift) and learns from it.
func (tl *tail) step(c *Config, y float64) Status {
	alarm := y > tl.z
	if alarm && !c.KeepAnomalies {
		return Alarm
	}
	tl.n++
	ex := y - tl.t
	if ex > 0 || (c.Reference && ex == 0) {
		tl.nt++
		if tl.peaks.size == len(tl.peaks.data) && tl.fromCalibration > 0 {
			tl.fromCalibration-- // the oldest is evicted
		}
		tl.peaks.push(ex)
		tl.refit(c)
		if alarm && !c.Reference {
			return Alarm
		}
		return Excess
	}
	if alarm && !c.Reference {
		return Alarm
	}
	return Normal
}

// refit fits the GPD to the stored excesses and sets z.
func (tl *tail) refit(c *Config) {
	if c.Reference && tl.peaks.max > 0 {
		tl.gamma, tl.sigma = refFit(&tl.peaks)
		tl.z = tl.t + refTailQuantile(tl.gamma, tl.sigma, tl.frequency(), c.Q)
		if tl.hasModel() && !math.IsNaN(tl.z) && !math.IsInf(tl.z, 0) {
			return
		}
		// The reference has no answer for a degenerate tail (it would
		// fail with a NaN threshold, or return a scale ≤ 0 when all
		// excesses are equal): fall through to the default rules.
	}
	// Discarded alarms cut the tail at z: the excesses judged since
	// calibration are completed with the model's own share beyond z
	// (see gpd.go).
	var w, cut float64
	if !c.KeepAnomalies && !c.Reference {
		if p := c.Q / tl.frequency(); p < 1 && tl.z > tl.t {
			w = float64(tl.peaks.size-tl.fromCalibration) * p / (1 - p)
			cut = tl.z - tl.t
		}
	}
	tl.gamma, tl.sigma = fitGPD(&tl.peaks, w, cut, &tl.root)
	tl.z = tl.t + tl.excessQuantile(c.Q)
}

// hasModel reports whether the tail has a fitted GPD: it has none while
// no excess (or only ties at t) was seen, and then z = t.
func (tl *tail) hasModel() bool { return tl.sigma > 0 && !math.IsInf(tl.sigma, 0) }

// frequency is the estimate of P(y > t).
func (tl *tail) frequency() float64 { return float64(tl.nt) / float64(tl.n) }

// excessQuantile is the height above t that y exceeds with probability
// risk under the fitted tail; 0 when risk is at least P(y > t) or when the
// tail holds no excess (no value above t was ever seen).
func (tl *tail) excessQuantile(risk float64) float64 {
	s := tl.frequency()
	if !tl.hasModel() || risk >= s {
		return 0
	}
	return gpdQuantile(tl.gamma, tl.sigma, risk/s)
}

// quantile is the oriented threshold that y exceeds with probability risk.
func (tl *tail) quantile(c *Config, risk float64) float64 {
	if c.Reference && tl.hasModel() {
		if z := tl.t + refTailQuantile(tl.gamma, tl.sigma, tl.frequency(), risk); !math.IsNaN(z) {
			return z
		}
	}
	return tl.t + tl.excessQuantile(risk)
}

// probability is P(Y ≥ y) under the fitted tail, NaN below t where the
// distribution is not modelled. The reference extrapolates the tail below
// t; reference mode does too.
func (tl *tail) probability(c *Config, y float64) float64 {
	d := y - tl.t
	if !tl.hasModel() {
		if d > 0 {
			return 0
		}
		return math.NaN()
	}
	if d < 0 && c.Reference {
		return tl.frequency() * refSurvival(tl.gamma, tl.sigma, d)
	}
	if !(d >= 0) {
		return math.NaN()
	}
	return tl.frequency() * gpdSurvival(tl.gamma, tl.sigma, d)
}
