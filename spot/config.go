package spot

import (
	"fmt"
	"math"
)

// Config holds the parameters of a Detector. It has no file tags: spot is a
// library, and each program maps its own settings onto it.
type Config struct {
	// Q is the risk: the probability, under the learnt distribution, of a
	// value beyond the alarm threshold. Lower means fewer, more extreme
	// alarms.
	Q float64
	// Level is the quantile of the calibration values that sets the
	// excess threshold t; the 1−Level fraction above it forms the tail
	// that is modelled.
	Level float64
	// NInit is the number of values the complete model is calibrated on,
	// after the first Depth values (which fill the drift window).
	NInit int
	// WatchAfter is the number of values learnt before the detector
	// judges, between 1 and Depth+NInit; 0 means Depth+NInit, when the
	// complete model is calibrated. Below, the detector judges from then
	// on with provisional tails, fitted on the values learnt so far and
	// refitted as they come, against a cautious alarm threshold (see
	// Confidence), until it has the Depth+NInit values of its complete
	// model: from then on it is exactly the detector that would have
	// waited, but for the provisional alarms, which it did not learn.
	// Default mode only; at least 40 (a provisional tail keeps 20
	// excesses).
	WatchAfter int
	// Confidence is the one-sided confidence of the alarm threshold of a
	// provisional tail: an upper bound of the quantile's scale, by the
	// likelihood ratio, at that confidence. 0 takes the point estimate.
	// Between 0 and 1 (excluded); the complete model ignores it.
	Confidence float64
	// MaxExcess bounds the number of excesses kept to fit the tail: the
	// model follows the latest MaxExcess excesses.
	MaxExcess int
	// Depth is the length of the drift window (DSPOT): the detector
	// watches x − M, with M the mean of the last Depth values that were
	// not alarms. 0 watches x itself (SPOT).
	Depth int
	// Up and Down choose the watched tails: high values, low values, or
	// both.
	Up, Down bool
	// KeepAnomalies learns alarms too: a value beyond the alarm
	// threshold is still reported as Alarm, but it also enters the tail
	// model, so that the threshold follows a lasting change. It never
	// enters the drift window. In reference mode it follows the
	// reference library instead: such a value is reported as Excess.
	KeepAnomalies bool
	// Resolution is the smallest difference between two values of the
	// series that means something: 1 for a count per window, 1/period
	// for a per-second rate of such a count. 0 (the default) treats the
	// values as continuous. In the default mode, values closer than half
	// a Resolution are ties when the excess threshold is placed (it then
	// falls between two distinct values, so that ties never sit on it
	// and excesses start at half a step), each excess is stored spread
	// within its step (counts fitted as ties distort the tail), and a
	// tail that showed no spread during calibration takes it as its
	// scale. The drift M is not rounded: with Depth > 0, x − M leaves
	// the lattice, and the tolerance of half a step is what still
	// groups its near-ties. Reference mode has no such notion: it must
	// be 0 there.
	Resolution float64
	// MinShape bounds the shape γ of the fitted tail from below, between
	// −1 and 0 (the default mode; reference mode ignores it). A bounded
	// tail (γ < 0) ends at t + σ/|γ|, and its alarm threshold sits just
	// below that end: fitted on a statistic with few distinct values, or
	// on one whose spread grows (traffic in the morning after a night of
	// learning), it puts the threshold right above the largest value seen
	// so far, and every new record is an alarm. 0 (the zero value) allows
	// no tail lighter than the exponential one: the safe choice for
	// series that drift, at the price of fewer alarms than q on series
	// that are light-tailed indeed (a Gaussian). DefaultConfig takes −1/2,
	// the end of the range in which the likelihood fit is regular (Smith,
	// "Maximum likelihood estimation in a class of nonregular cases",
	// Biometrika 1985), which on independent values from the calibration
	// study is never reached.
	MinShape float64
	// Reference reproduces the reference C implementation (libspot 2.0)
	// step by step: P² estimate of t, excesses at t counted (≥), its
	// estimators and root search. Meant for comparisons; the default
	// mode is better calibrated (see the package documentation).
	Reference bool
}

// Limits on the sizes of a Config: they bound the memory of a Detector and
// of what a snapshot may claim.
const (
	MaxNInit     = 1 << 20
	MaxMaxExcess = 1 << 16
	MaxDepth     = 1 << 20
	// MinCalibrationExcesses is the number of excesses a calibration
	// batch must be expected to hold, NInit·(1−Level), for a first fit
	// that means something.
	MinCalibrationExcesses = 10
)

// DefaultConfig returns the parameters chosen from the calibration
// measurements in the package documentation, watching the upper tail.
func DefaultConfig() Config {
	return Config{
		Q:         1e-4,
		Level:     0.98,
		NInit:     2000,
		MaxExcess: 1000,
		Depth:     0,
		MinShape:  -0.5,
		// Used only with a WatchAfter: see Config.Confidence.
		Confidence: 0.95,
		Up:         true,
	}
}

// JudgesAfter returns the number of values a new detector learns before
// it judges: what Remaining returns at first.
func (c Config) JudgesAfter() int { return c.watchAfter() }

// watchAfter is the number of values learnt before judging.
func (c *Config) watchAfter() int {
	if c.WatchAfter == 0 {
		return c.Depth + c.NInit
	}
	return c.WatchAfter
}

// provisionalExcesses is the number of excesses a provisional tail keeps
// at least: its excess threshold is the Level quantile of the values so
// far, or lower when that leaves fewer excesses. 20 is what netspot's
// complete calibration expects (2000 values at 0.99); 10 raised more false
// alarms in the first hour of the tuning offices, 30 about as many
// (docs/evaluation.md).
const provisionalExcesses = 20

// ParamError says which parameter of a Config is invalid. Param is the
// snake_case name used in messages and config files: q, level, n_init,
// watch_after, confidence, max_excess, depth, resolution, min_shape, up.
type ParamError struct {
	Param string
	Err   error
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Err.Error() }
func (e *ParamError) Unwrap() error { return e.Err }

func paramErrorf(param, format string, args ...any) error {
	return &ParamError{Param: param, Err: fmt.Errorf(format, args...)}
}

// Validate reports the first invalid parameter as a *ParamError.
func (c Config) Validate() error {
	if !(c.Level > 0 && c.Level < 1) {
		return paramErrorf("level", "must be strictly between 0 and 1 (the quantile that starts the tail, e.g. 0.98), got %g", c.Level)
	}
	if !(c.Q > 0 && c.Q < 1) {
		return paramErrorf("q", "must be strictly between 0 and 1 (the risk of a value beyond the alarm threshold, e.g. 1e-4), got %g", c.Q)
	}
	if c.Q >= 1-c.Level {
		return paramErrorf("q", "must be below 1 − level = %.6g (the alarm threshold lies in the tail above level), got %g", 1-c.Level, c.Q)
	}
	if c.NInit < 1 || c.NInit > MaxNInit {
		return paramErrorf("n_init", "must be between 1 and %d, got %d", MaxNInit, c.NInit)
	}
	// The tolerance absorbs the rounding of 1 − level (100 values at 0.9
	// are 10 excesses, not 9.999999999999998).
	if expected := float64(c.NInit) * (1 - c.Level); expected < MinCalibrationExcesses*(1-1e-9) {
		need := int(math.Ceil(MinCalibrationExcesses/(1-c.Level) - 1e-6))
		return paramErrorf("n_init", "%d values at level %g leave about %.0f excesses to fit the tail; need at least %d values (or a lower level)", c.NInit, c.Level, math.Floor(expected), need)
	}
	if c.MaxExcess < 1 || c.MaxExcess > MaxMaxExcess {
		return paramErrorf("max_excess", "must be between 1 and %d, got %d", MaxMaxExcess, c.MaxExcess)
	}
	if c.Depth < 0 || c.Depth > MaxDepth {
		return paramErrorf("depth", "must be between 0 (no drift) and %d, got %d", MaxDepth, c.Depth)
	}
	if c.WatchAfter < 0 || c.WatchAfter > c.Depth+c.NInit {
		return paramErrorf("watch_after", "must be between 1 and depth + n_init = %d (0: depth + n_init), got %d", c.Depth+c.NInit, c.WatchAfter)
	}
	if c.watchAfter() < c.Depth+c.NInit {
		if c.Reference {
			return paramErrorf("watch_after", "must be depth + n_init in reference mode (the reference library judges only once calibrated), got %d", c.WatchAfter)
		}
		if c.WatchAfter < 2*provisionalExcesses {
			return paramErrorf("watch_after", "must be at least %d, twice the %d excesses a provisional tail keeps (or 0: depth + n_init), got %d", 2*provisionalExcesses, provisionalExcesses, c.WatchAfter)
		}
	}
	if !(c.Confidence == 0 || c.Confidence >= 0.5 && c.Confidence < 1) {
		return paramErrorf("confidence", "must be 0 (the point estimate) or from 0.5 up to below 1 (an upper bound), got %g", c.Confidence)
	}
	if !(c.Resolution >= 0 && c.Resolution <= MaxValue) {
		return paramErrorf("resolution", "must be 0 (continuous values) or a positive number up to %g, got %g", MaxValue, c.Resolution)
	}
	if !(c.MinShape >= -1 && c.MinShape <= 0) {
		return paramErrorf("min_shape", "must be between -1 and 0 (the lightest tail the fit may choose; 0: exponential), got %g", c.MinShape)
	}
	if c.Reference && c.Resolution != 0 {
		return paramErrorf("resolution", "must be 0 in reference mode (the reference library has no resolution), got %g", c.Resolution)
	}
	if !c.Up && !c.Down {
		return paramErrorf("up", "no tail watched: set up, down or both")
	}
	return nil
}
