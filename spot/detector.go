package spot

import (
	"errors"
	"math"
	"slices"
)

// MaxValue bounds the magnitude of the values a Detector accepts: beyond
// it, sums of squares and drift sums could overflow. Statistics of network
// traffic stay many orders of magnitude below.
const MaxValue = 1e100

// Result is the verdict of one Step for each tail.
type Result struct {
	Up, Down Status
}

// IsAlarm reports whether a watched tail raised an alarm.
func (r Result) IsAlarm() bool { return r.Up == Alarm || r.Down == Alarm }

// Abnormal reports whether a watched tail raised an alarm or continues
// the excursion of one (Status.Abnormal): such a value is not learnt.
func (r Result) Abnormal() bool { return r.Up.Abnormal() || r.Down.Abnormal() }

// Side names one tail of a Detector.
type Side int8

const (
	Upper Side = iota // high values
	Lower             // low values
)

// Detector watches one series with SPOT (or DSPOT when Config.Depth > 0)
// on its upper tail, its lower tail, or both. The tails share one drift
// window, and a value enters that window only if no watched tail raised an
// alarm on it, so that an attack that pushes a series up is not learnt as
// the new normal by either side.
//
// A Detector learns from its first Config.JudgesAfter values (Step returns
// Learning): Depth+NInit, or WatchAfter, from which it judges with
// provisional tails until it has its complete model. It is not safe for
// concurrent use. The zero Detector watches nothing; use New.
type Detector struct {
	cfg      Config
	up, down tail

	window  []float64 // ring of the last Depth values that were not alarms
	wpos    int       // next write position
	wlen    int       // values in the ring
	wsum    float64   // their sum
	wpushes int       // pushes since wsum was recomputed

	// batch holds the calibration values: raw values while learning in
	// the default mode (they become values minus drift when judging
	// starts), values minus drift in reference mode and while
	// provisional; nil once watching with the complete model.
	batch []float64
	// sorted is the provisional batch in increasing order.
	sorted []float64
	// scratch has room for a copy of the batch.
	scratch []float64
	// held holds the values (x, x − drift, in pairs) of the current run in
	// the cautious band of a provisional tail, not yet learnt.
	held  []float64
	stage stage
}

// stage is where a detector is in its life.
type stage uint8

const (
	// learning: values are learnt, nothing is judged.
	learning stage = iota
	// provisional: values are judged against a provisional tail fitted
	// on the calibration batch so far, which keeps growing.
	provisional
	// watching: the complete model, calibrated on NInit values.
	watching
)

// New returns a Detector for c, or a *ParamError naming the invalid
// parameter.
func New(c Config) (*Detector, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d := &Detector{cfg: c}
	if c.Up {
		d.up = newTail(1, c.MaxExcess, c.Reference)
	}
	if c.Down {
		d.down = newTail(-1, c.MaxExcess, c.Reference)
	}
	if c.Depth > 0 {
		d.window = make([]float64, c.Depth)
	}
	d.batch = make([]float64, 0, c.Depth+c.NInit)
	return d, nil
}

// Config returns the parameters of the detector.
func (d *Detector) Config() Config { return d.cfg }

// Step judges x, learns from it, and returns the verdict of each tail. A
// NaN, ±Inf or too large value changes nothing and gives Invalid. A value
// enters the drift window unless a watched tail reports Alarm or
// Continued.
func (d *Detector) Step(x float64) Result {
	if !d.cfg.Up && !d.cfg.Down {
		return Result{Off, Off}
	}
	if !(math.Abs(x) <= MaxValue) {
		return d.both(Invalid)
	}
	switch d.stage {
	case learning:
		// The last value of learning is learning too: judging starts with
		// the next.
		d.learn(x)
		return d.both(Learning)
	case provisional:
		return d.stepProvisional(x)
	}
	m := d.drift()
	r := Result{Off, Off}
	if d.cfg.Up {
		r.Up = d.up.step(&d.cfg, x-m)
	}
	if d.cfg.Down {
		r.Down = d.down.step(&d.cfg, -(x - m))
	}
	if !r.Abnormal() {
		d.pushWindow(x)
	}
	return r
}

// both returns s for the watched tails and Off for the others.
func (d *Detector) both(s Status) Result {
	r := Result{Off, Off}
	if d.cfg.Up {
		r.Up = s
	}
	if d.cfg.Down {
		r.Down = s
	}
	return r
}

func (d *Detector) learn(x float64) {
	if d.cfg.Reference {
		// The reference library has no drift: with a depth, the first
		// Depth values only fill the window, as DSPOT was first
		// written.
		if d.wlen < d.cfg.Depth {
			d.pushWindow(x)
			return
		}
		d.batch = append(d.batch, x-d.drift())
		d.pushWindow(x)
		if len(d.batch) == d.cfg.NInit {
			d.calibrate()
		}
		return
	}
	// Once the drift window is full, a value is learnt relative to it, as
	// it is judged; before, it is kept as it is.
	if len(d.batch) < d.cfg.Depth {
		d.batch = append(d.batch, x)
	} else {
		d.batch = append(d.batch, x-d.drift())
	}
	d.pushWindow(x)
	if len(d.batch) < d.cfg.watchAfter() {
		return
	}
	d.headRelativeToDrift()
	if len(d.batch) == d.cfg.Depth+d.cfg.NInit {
		d.calibrate()
		return
	}
	full := d.cfg.Depth + d.cfg.NInit
	d.sorted = append(make([]float64, 0, full), d.batch...)
	slices.Sort(d.sorted)
	d.scratch = make([]float64, len(d.batch), full)
	d.stage = provisional
	d.fitProvisional(math.NaN())
}

// headRelativeToDrift replaces the first Depth values of the batch, kept
// as they came because no full drift window was behind them, by their
// distance to the mean of those values (of all of them, when fewer came):
// the provisional tails learn from them too. The complete model never
// does (see calibrate).
func (d *Detector) headRelativeToDrift() {
	head := d.batch[:min(d.cfg.Depth, len(d.batch))]
	if len(head) == 0 {
		return
	}
	var sum float64
	for _, x := range head {
		sum += x
	}
	m := sum / float64(len(head))
	for i := range head {
		head[i] -= m
	}
}

// calibrate fits the complete model on the last NInit values of the
// batch: in the default mode, the first Depth ones (relative to a drift
// window that was not full yet) only served provisional tails.
func (d *Detector) calibrate() {
	batch := d.batch[len(d.batch)-d.cfg.NInit:]
	var scratch []float64
	if !d.cfg.Reference {
		scratch = make([]float64, len(batch))
	}
	if d.cfg.Up {
		d.up.calibrate(&d.cfg, d.cfg.Level, batch, scratch)
	}
	if d.cfg.Down {
		d.down.calibrate(&d.cfg, d.cfg.Level, batch, scratch)
	}
	d.batch, d.sorted, d.scratch = nil, nil, nil
	d.stage = watching
}

// fitProvisional fits the provisional tails on the batch so far; y is
// the value just added (NaN for none).
func (d *Detector) fitProvisional(y float64) {
	n := len(d.sorted)
	if d.cfg.Up {
		d.up.fitProvisional(&d.cfg, d.sorted, y)
	}
	if d.cfg.Down {
		s := d.scratch[:n]
		for i, v := range d.sorted {
			s[n-1-i] = -v
		}
		d.down.fitProvisional(&d.cfg, s, -y)
	}
}

// stepProvisional judges x against the provisional tails and, unless it
// is abnormal, learns it: adds it to the calibration batch and the drift
// window, and refits the tails. A value in the cautious band of a tail,
// beyond the point estimate of its quantile but not beyond the bound, is
// held: learnt once the values after it come back below the band, dropped
// if they raise an alarm (it was the start of the alarm's excursion).
func (d *Detector) stepProvisional(x float64) Result {
	m := d.drift()
	y := x - m
	r := Result{Off, Off}
	if d.cfg.Up {
		r.Up = d.up.judge(&d.cfg, y)
	}
	if d.cfg.Down {
		r.Down = d.down.judge(&d.cfg, -y)
	}
	abnormal := r.Abnormal()
	if d.cfg.KeepAnomalies {
		// Alarms are learnt, but never enter the drift window.
		d.learnProvisional(x, y, !abnormal)
		return r
	}
	if abnormal {
		// An alarm and the rest of its excursion are not learnt, nor
		// the start of the excursion that was held.
		d.held = d.held[:0]
		return r
	}
	if ((d.cfg.Up && y > d.up.zPoint) || (d.cfg.Down && -y > d.down.zPoint)) && len(d.held) < 2*maxExcursion(&d.cfg) {
		d.held = append(d.held, x, y)
		return r
	}
	for i := 0; i+1 < len(d.held) && d.stage == provisional; i += 2 {
		d.learnProvisional(d.held[i], d.held[i+1], true)
	}
	d.held = d.held[:0]
	if d.stage == provisional {
		d.learnProvisional(x, y, true)
	}
	return r
}

// learnProvisional learns x, y = x − drift while provisional: into the
// drift window (with window), the batch and the provisional tails, or
// into the complete model once the batch is full.
func (d *Detector) learnProvisional(x, y float64, window bool) {
	if window {
		d.pushWindow(x)
	}
	d.batch = append(d.batch, y)
	if len(d.batch) == d.cfg.Depth+d.cfg.NInit {
		d.held = d.held[:0]
		d.calibrate()
		return
	}
	i, _ := slices.BinarySearch(d.sorted, y)
	d.sorted = slices.Insert(d.sorted, i, y)
	d.fitProvisional(y)
}

func (d *Detector) pushWindow(x float64) {
	if len(d.window) == 0 {
		return
	}
	if d.wlen == len(d.window) {
		d.wsum -= d.window[d.wpos]
	} else {
		d.wlen++
	}
	d.window[d.wpos] = x
	d.wsum += x
	d.wpos++
	if d.wpos == len(d.window) {
		d.wpos = 0
	}
	// A running sum drifts by rounding over months of steps: recompute
	// it once per turn of the ring (O(1) amortized).
	if d.wpushes++; d.wpushes >= len(d.window) {
		d.wpushes = 0
		d.wsum = 0
		for _, v := range d.window[:d.wlen] {
			d.wsum += v
		}
	}
}

// drift is M, the mean of the window: 0 without drift. In the default
// mode it is the mean of the values seen so far until the window is full
// (NaN before the first one); in reference mode NaN until it is full.
func (d *Detector) drift() float64 {
	if len(d.window) == 0 {
		return 0
	}
	if d.wlen == 0 || (d.cfg.Reference && d.wlen < len(d.window)) {
		return math.NaN()
	}
	return d.wsum / float64(d.wlen)
}

// Drift returns M, the mean of the drift window that the next value is
// compared to: 0 when Depth is 0. In the default mode the window starts
// as the mean of the values seen so far (NaN before the first one); in
// reference mode it is NaN until Depth values fill it.
func (d *Detector) Drift() float64 { return d.drift() }

// Remaining returns how many values the detector still needs before it
// judges: Config.JudgesAfter at first, 0 once judging.
func (d *Detector) Remaining() int {
	if d.stage != learning || (!d.cfg.Up && !d.cfg.Down) {
		return 0
	}
	if d.cfg.Reference {
		return d.cfg.Depth - d.wlen + d.cfg.NInit - len(d.batch)
	}
	return max(d.cfg.watchAfter()-len(d.batch), 0)
}

// Provisional returns how many more values the detector needs for its
// complete model: Depth+NInit at first, then fewer with every value
// learnt (alarms are not), 0 once its tails are calibrated. While it is above 0 and
// Remaining is 0, the detector judges with provisional tails and
// cautious thresholds.
func (d *Detector) Provisional() int {
	if d.stage == watching || (!d.cfg.Up && !d.cfg.Down) {
		return 0
	}
	if d.cfg.Reference {
		return d.Remaining()
	}
	return d.cfg.Depth + d.cfg.NInit - len(d.batch)
}

// judging reports whether the detector judges values.
func (d *Detector) judging() bool { return d.stage != learning }

// Thresholds returns the alarm thresholds, in data units with the drift
// included, that the next value is judged against: above up or below down
// is an alarm. NaN for a tail that is not watched and while learning.
func (d *Detector) Thresholds() (up, down float64) {
	up, down = math.NaN(), math.NaN()
	if !d.judging() {
		return up, down
	}
	m := d.drift()
	if d.cfg.Up {
		up = m + d.up.z
	}
	if d.cfg.Down {
		down = m - d.down.z
	}
	return up, down
}

// Quantile returns, for each tail, the value that the next value exceeds
// (upward for up, downward for down) with probability risk under the
// fitted tails: Thresholds is Quantile(Config.Q). While provisional it is
// the upper confidence bound of that value. NaN for a tail that is not
// watched, while learning, and for a risk outside (0, 1).
func (d *Detector) Quantile(risk float64) (up, down float64) {
	up, down = math.NaN(), math.NaN()
	if !d.judging() || !(risk > 0 && risk < 1) {
		return up, down
	}
	m := d.drift()
	bound := d.stage == provisional
	if d.cfg.Up {
		up = m + d.up.quantile(&d.cfg, risk, bound)
	}
	if d.cfg.Down {
		down = m - d.down.quantile(&d.cfg, risk, bound)
	}
	return up, down
}

// Probability returns, for each tail, the probability under the fitted
// tail of a value at least as extreme as x (x or above for up, x or below
// for down), relative to the current drift. It is the GPD survival
// function s·(1 + γd/σ)^(−1/γ), with s the frequency of excesses and d the
// height of x above the excess threshold, and 0 beyond the end of a
// bounded tail. NaN where it is unknown: a tail not watched, while
// learning, an invalid x, and x on the normal side of the excess threshold
// (the body of the distribution is not modelled; reference mode
// extrapolates the tail there, as the reference library does). While
// provisional it is the point estimate of the provisional tail.
func (d *Detector) Probability(x float64) (up, down float64) {
	up, down = math.NaN(), math.NaN()
	if !d.judging() || !(math.Abs(x) <= MaxValue) {
		return up, down
	}
	m := d.drift()
	if d.cfg.Up {
		up = d.up.probability(&d.cfg, x-m)
	}
	if d.cfg.Down {
		down = d.down.probability(&d.cfg, -(x - m))
	}
	return up, down
}

// TailState describes one tail of a watching detector. Thresholds are in
// data units relative to the drift: the absolute alarm threshold is
// Drift() + Anomaly.
type TailState struct {
	Excess  float64 // t: values beyond it are excesses
	Anomaly float64 // z: values beyond it are alarms
	N       uint64  // values counted (calibration and non-alarm steps)
	Nt      uint64  // excesses ever seen; Nt/N estimates P(beyond t)
	Stored  int     // excesses kept for the fit (≤ MaxExcess)
	Gamma   float64 // GPD shape of the tail (NaN with no excess)
	Sigma   float64 // GPD scale
}

// ErrNotWatching is returned by Tail for a tail that is not watched or
// while the detector learns (before it judges).
var ErrNotWatching = errors.New("spot: tail not watched or still learning")

// Tail returns the state of one tail.
func (d *Detector) Tail(s Side) (TailState, error) {
	var tl *tail
	switch {
	case !d.judging():
		return TailState{}, ErrNotWatching
	case s == Upper && d.cfg.Up:
		tl = &d.up
	case s == Lower && d.cfg.Down:
		tl = &d.down
	default:
		return TailState{}, ErrNotWatching
	}
	return TailState{
		Excess:  tl.sign * tl.t,
		Anomaly: tl.sign * tl.z,
		N:       tl.n,
		Nt:      tl.nt,
		Stored:  tl.peaks.size,
		Gamma:   tl.gamma,
		Sigma:   tl.sigma,
	}, nil
}
