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
	// excursion counts the values since the alarm that started an
	// excursion, 0 when there is none: the values beyond t (and beyond
	// the drift) that follow an alarm continue its excursion and are not
	// learnt (default mode, alarms not learnt), for at most
	// maxExcursion values.
	excursion int
	// boundN is the number of values a provisional tail was last fitted
	// on (see fitProvisional).
	boundN int
	// zPoint is the point estimate of a provisional tail's z, below its
	// cautious z: between them lies the band whose values are held.
	zPoint float64
}

func newTail(sign float64, maxExcess int, reference bool) tail {
	return tail{
		sign:   sign,
		t:      math.NaN(),
		z:      math.NaN(),
		gamma:  math.NaN(),
		sigma:  math.NaN(),
		zPoint: math.NaN(),
		peaks:  newExcesses(maxExcess, reference),
		root:   math.NaN(),
	}
}

// calibrate sets t from the calibration batch (values relative to the
// drift, data units), stores its excesses and fits the first model.
// scratch has room for a copy of the batch.
func (tl *tail) calibrate(c *Config, level float64, batch, scratch []float64) {
	tl.peaks.reset()
	tl.n, tl.nt = uint64(len(batch)), 0
	if c.Reference {
		// The reference takes the low quantile of the raw values for
		// the lower tail, not the high quantile of the negated ones.
		p := level
		if tl.sign < 0 {
			p = 1 - level
		}
		tl.t = tl.sign * p2Quantile(p, batch)
	} else {
		s := scratch[:len(batch)]
		for i, x := range batch {
			s[i] = tl.sign * x
		}
		slices.Sort(s)
		tl.t = excessThreshold(s, level, c.Resolution/2)
	}
	for _, x := range batch {
		if y := float64(tl.sign*x) - tl.t; y > 0 {
			tl.peaks.push(tl.jitter(c, y))
			tl.nt++
		}
	}
	tl.fromCalibration = tl.peaks.size
	tl.root = math.NaN()
	tl.zPoint = math.NaN()
	tl.refit(c)
}

// fitProvisional fits a provisional tail on the sorted calibration values
// so far (oriented, relative to the drift): t leaves at least
// provisionalExcesses excesses above it (the level quantile once the
// batch is large enough), and z is the upper confidence bound of the
// quantile, its deviance scaled by fade. y is the value just added (NaN
// for none): when it left t and the excesses as they were, and the batch
// grew by less than boundGrowth since the last fit, only the counts
// change.
func (tl *tail) fitProvisional(c *Config, s []float64, y float64) {
	n := len(s)
	level := min(c.Level, 1-float64(provisionalExcesses)/float64(n))
	t := excessThreshold(s, level, c.Resolution/2)
	if t == tl.t && !(y > t) && float64(n) < boundGrowth*float64(tl.boundN) {
		tl.n = uint64(n)
		return
	}
	tl.t = t
	tl.peaks.reset()
	tl.n, tl.nt = uint64(n), 0
	i, _ := slices.BinarySearch(s, tl.t)
	for ; i < n; i++ {
		if y := s[i] - tl.t; y > 0 {
			tl.peaks.push(tl.jitter(c, y))
			tl.nt++
		}
	}
	tl.fromCalibration = tl.peaks.size
	// The fit starts from the previous one (root), as after an excess.
	tl.refit(c)
	tl.zPoint = tl.z
	tl.z = tl.t + tl.upperHeight(c, c.Q)
	tl.boundN = n
}

// boundGrowth: a provisional tail whose excesses did not change is refitted
// when the batch has grown by this factor, for its frequency of excesses
// (and the bound's fading) to follow.
const boundGrowth = 1.02

// maxExcursion is the longest excursion: the drift window's length (an
// excursion that outlasts it is a change of level, which the drift must
// follow), or NInit values without a drift window.
func maxExcursion(c *Config) int {
	if c.Depth > 0 {
		return c.Depth
	}
	return c.NInit
}

// continues reports whether y continues the current excursion: it is
// beyond t and beyond the drift (a value at or below the mean of the
// normal values ends any excursion, whatever t is), and the excursion is
// not yet maxExcursion values long.
func (tl *tail) continues(c *Config, y float64) bool {
	return y > max(tl.t, 0) && tl.excursion < maxExcursion(c)
}

// alarmed records an alarm in the excursion count: it starts an
// excursion, or lengthens the current one, up to maxExcursion: a run of
// alarms longer than that ends at its first value below z either way,
// and the count stays within what a snapshot may hold.
func (tl *tail) alarmed(c *Config) {
	if !c.Reference && !c.KeepAnomalies {
		tl.excursion = min(tl.excursion+1, maxExcursion(c))
	}
}

// judge judges y (oriented, relative to the drift) against a provisional
// tail, which learns nothing itself: the detector refits it on the batch.
func (tl *tail) judge(c *Config, y float64) Status {
	if y > tl.z {
		tl.alarmed(c)
		return Alarm
	}
	if tl.excursion > 0 {
		if tl.continues(c, y) {
			tl.excursion++
			return Continued
		}
		tl.excursion = 0
	}
	if y > tl.t {
		return Excess
	}
	return Normal
}

// excessThreshold places the excess threshold t in the sorted calibration
// values s: at the level quantile, but always halfway between two
// distinct values (values at most tol apart are ties), so that no value
// sits on t and the smallest excess is half a gap.
//
// Placed inside a group of ties or of near-ties, as an interpolated
// quantile would be, t leaves excesses that are mostly tiny (the rest of
// the group) plus a few whole steps above: the GPD fitted to that mix has
// a huge shape, and the alarm threshold explodes (a statistic of a few
// packets per window reached 1e35). On a lattice (counts), the midpoint is
// also the continuity correction: a count k stands for [k−½, k+½).
//
// When the quantile falls inside a group of ties, t moves to the nearest
// gap above or below it: the one whose number of excesses is closer (in
// ratio) to the nominal n·(1−level), provided it leaves at least
// MinCalibrationExcesses when one can. Without any gap (a constant batch)
// t is half a step above the largest value.
func excessThreshold(s []float64, level, tol float64) float64 {
	n := len(s)
	if n < 2 {
		return s[n-1] + tol
	}
	gap := func(i int) bool { return s[i+1]-s[i] > tol }
	mid := func(i int) float64 { return s[i] + float64((s[i+1]-s[i])/2) }
	j := min(int(float64(float64(n-1)*level)), n-2)
	if gap(j) {
		return mid(j)
	}
	up, down := -1, -1
	for i := j + 1; i < n-1; i++ {
		if gap(i) {
			up = i
			break
		}
	}
	for i := j - 1; i >= 0; i-- {
		if gap(i) {
			down = i
			break
		}
	}
	switch {
	case up < 0 && down < 0:
		return s[n-1] + tol
	case up < 0:
		return mid(down)
	case down < 0:
		return mid(up)
	}
	// Excesses left by each candidate, and the nominal count.
	nu, nd, nominal := float64(n-1-up), float64(n-1-down), float64(n-1-j)
	if nu < MinCalibrationExcesses {
		return mid(down)
	}
	if math.Abs(math.Log(nu/nominal)) <= math.Abs(math.Log(nd/nominal)) {
		return mid(up)
	}
	return mid(down)
}

// step judges y (oriented, relative to the drift) and learns from it.
func (tl *tail) step(c *Config, y float64) Status {
	alarm := y > tl.z
	if alarm && !c.KeepAnomalies {
		// An attack seldom fits in one window: the windows after its
		// peak are beyond t but often below z, and learnt they would
		// teach the tail that attacks are normal (a scan's trailing
		// windows raised a detector's threshold tenfold in the
		// evaluation). They continue the alarm instead, until a value
		// comes back to t (or to the drift), for at most
		// maxExcursion values.
		tl.alarmed(c)
		return Alarm
	}
	if tl.excursion > 0 {
		if tl.continues(c, y) {
			tl.excursion++
			return Continued
		}
		tl.excursion = 0
	}
	tl.n++
	ex := y - tl.t
	if ex > 0 || (c.Reference && ex == 0) {
		if tl.peaks.size == len(tl.peaks.data) && tl.fromCalibration > 0 {
			tl.fromCalibration-- // the oldest is evicted
		}
		tl.peaks.push(tl.jitter(c, ex))
		tl.nt++
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

// jitter spreads an excess over its resolution step: with a Resolution δ,
// an excess y stands for the interval [jδ, (j+1)δ) that holds it (t lies
// halfway between two lattice points, so a count's excess is (j+½)δ), and
// it is stored as jδ + uδ, u taken from the golden-ratio sequence indexed
// by the count of excesses (deterministic, evenly spread, restored with
// the counters). Fitted as they are, lattice values pile up as ties: many
// ties at the largest value make the fit see a tail that ends there
// (γ → −1) and alarm on the first value one step above; ties at the
// smallest with a few whole steps above make it see a huge γ. Jittering
// counts into continuous values is the usual cure (Machado and Santos
// Silva, "Quantiles for counts", JASA 2005).
//
// An excess of more than 2⁵³ steps is stored as it is (see
// resolutionStep): there is nothing to spread, and y/r may not even be
// finite (a tiny resolution on large values, where the jitter would
// store +Inf).
func (tl *tail) jitter(c *Config, y float64) float64 {
	r := c.Resolution
	if !(r > 0) || c.Reference {
		return y
	}
	k := resolutionStep(y, r)
	if math.IsNaN(k) {
		return y
	}
	u := math.Mod(float64(tl.nt+1)*invGolden, 1)
	if j := (k + u) * r; j > 0 {
		return j
	}
	return y
}

// invGolden is 1/φ, whose multiples modulo 1 are the most evenly spread
// sequence there is.
const invGolden = 0.6180339887498949

// resolutionStep is the index of the resolution step [kr, (k+1)r) that
// holds y ≥ 0, or NaN beyond 2⁵³ steps, where consecutive steps are no
// longer distinct float64 values (and y/r may not even be finite): there
// the resolution is below the precision of y and y counts as continuous.
func resolutionStep(y, r float64) float64 {
	if k := math.Floor(y / r); k < 1<<53 {
		return k
	}
	return math.NaN()
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
	opt := fitOptions{resolution: c.Resolution, penalized: true, minShape: c.MinShape}
	if c.Reference {
		// The fallback of a degenerate reference fit: the plain
		// likelihood, every shape the search accepts.
		opt = fitOptions{minShape: gammaFloor}
	}
	tl.gamma, tl.sigma = fitGPD(&tl.peaks, w, cut, opt, &tl.root)
	tl.z = tl.t + tl.excessQuantile(c, c.Q)
}

// hasModel reports whether the tail has a fitted GPD: it has none while
// no excess (or only ties at t) was seen.
func (tl *tail) hasModel() bool { return tl.sigma > 0 && !math.IsInf(tl.sigma, 0) }

// frequency is the estimate of P(y > t): Nt/N, and while no excess was
// ever seen 1/(N+1), the chance that a new value exceeds N exchangeable
// ones that never did (the reference counts 0).
func (tl *tail) frequency() float64 {
	if tl.nt == 0 {
		return 1 / (float64(tl.n) + 1)
	}
	return float64(tl.nt) / float64(tl.n)
}

// excessQuantile is the height above t that y exceeds with probability
// risk under the tail; 0 when risk is at least P(y > t). A tail that has
// seen no excess (a statistic constant during calibration, or one that
// only rises later) has no fitted model: it extrapolates an exponential
// tail whose scale is one Resolution step, and without a Resolution it has
// no scale at all, so that any value beyond t is beyond the quantile.
func (tl *tail) excessQuantile(c *Config, risk float64) float64 {
	s := tl.frequency()
	if risk >= s {
		return 0
	}
	if !tl.hasModel() {
		return gpdQuantile(0, c.Resolution, risk/s)
	}
	return gpdQuantile(tl.gamma, tl.sigma, risk/s)
}

// quantile is the oriented threshold that y exceeds with probability
// risk: with bound, its upper confidence bound (provisional tails).
func (tl *tail) quantile(c *Config, risk float64, bound bool) float64 {
	if bound {
		return tl.t + tl.upperHeight(c, risk)
	}
	if c.Reference && tl.hasModel() {
		if z := tl.t + refTailQuantile(tl.gamma, tl.sigma, tl.frequency(), risk); !math.IsNaN(z) {
			return z
		}
	}
	return tl.t + tl.excessQuantile(c, risk)
}

// probability is P(Y ≥ y) under the tail, NaN below t where the
// distribution is not modelled. The reference extrapolates the tail below
// t; reference mode does too. A tail without a fitted model uses the
// exponential tail of excessQuantile; without a Resolution it gives the
// frequency itself beyond t, at most 1/(N+1): all that N values that never
// went beyond t can tell.
func (tl *tail) probability(c *Config, y float64) float64 {
	d := y - tl.t
	if !tl.hasModel() {
		switch {
		case !(d >= 0):
			return math.NaN()
		case c.Resolution > 0:
			return tl.frequency() * gpdSurvival(0, c.Resolution, d)
		}
		return tl.frequency()
	}
	if d < 0 && c.Reference {
		return tl.frequency() * refSurvival(tl.gamma, tl.sigma, d)
	}
	if !(d >= 0) {
		return math.NaN()
	}
	return tl.frequency() * gpdSurvival(tl.gamma, tl.sigma, d)
}
