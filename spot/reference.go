package spot

import "math"

// This file holds the tail fit of reference mode: the arithmetic of the
// reference C library (libspot 2.0), step by step, so that reference mode
// gives the same statuses and thresholds on the same input. The library
// computes log and exp with its own continued fractions; this port uses the
// math package, which moves thresholds by about 1e-7 relative at most steps.

// Root-search constants of the reference.
const (
	refBrentEpsilon = 2e-8
	refBrentMaxIter = 200
)

// refFit fits a GPD to the stored excesses as the reference does: the
// method of moments, then Grimshaw's estimator; the later one replaces the
// earlier only with a strictly larger log-likelihood.
func refFit(e *excesses) (gamma, sigma float64) {
	gamma, sigma = refMoments(e)
	best := refLogLikelihood(e, gamma, sigma)
	g, s := refGrimshaw(e)
	if ll := refLogLikelihood(e, g, s); math.IsNaN(best) || ll > best {
		gamma, sigma = g, s
	}
	return gamma, sigma
}

func refMoments(e *excesses) (gamma, sigma float64) {
	m := e.mean()
	v := e.variance()
	r := m * m / v
	return 0.5 * (1 - r), 0.5 * m * (1 + r)
}

// refLogLikelihood sums in storage order, as the reference does.
func refLogLikelihood(e *excesses, gamma, sigma float64) float64 {
	n := float64(e.size)
	if gamma == 0 {
		return float64(-n*math.Log(sigma)) - e.sum/sigma
	}
	r := -n * math.Log(sigma)
	c := 1 + 1/gamma
	x := gamma / sigma
	for _, y := range e.values() {
		r += float64(-c * math.Log(1+float64(x*y)))
	}
	return r
}

// refGrimshawW is Grimshaw's w(x); its roots other than 0 are the
// stationary points of the profile log-likelihood in x = γ/σ.
func refGrimshawW(x float64, e *excesses) float64 {
	var u, v float64
	for _, y := range e.values() {
		s := 1 + float64(x*y)
		u += 1 / s
		v += math.Log(s)
	}
	n := float64(e.size)
	return float64((u/n)*(1+v/n)) - 1
}

// refGrimshawParams maps a root x to (γ, σ) and its log-likelihood.
func refGrimshawParams(x float64, e *excesses) (gamma, sigma, ll float64) {
	if x == 0 {
		gamma, sigma = 0, e.mean()
	} else {
		var v float64
		for _, y := range e.values() {
			v += math.Log(1 + float64(x*y))
		}
		gamma = 1 + v/float64(e.size) - 1
		sigma = gamma / x
	}
	return gamma, sigma, refLogLikelihood(e, gamma, sigma)
}

func refGrimshaw(e *excesses) (gamma, sigma float64) {
	mini, maxi, mean := e.min, e.max, e.mean()
	epsilon := refMin(refBrentEpsilon, 0.5/maxi)

	var roots [3]float64
	found := [3]bool{true, false, false}
	roots[1], found[1] = refBrent(-1/maxi+epsilon, -epsilon, e)
	roots[2], found[2] = refBrent(epsilon, 2*(mean-mini)/(mini*mini), e)

	gamma, sigma, best := refGrimshawParams(roots[0], e)
	for k := 1; k < 3; k++ {
		if !found[k] {
			continue
		}
		g, s, ll := refGrimshawParams(roots[k], e)
		if ll > best {
			best, gamma, sigma = ll, g, s
		}
	}
	return gamma, sigma
}

// refMin is the reference's min: NaN if either argument is NaN.
func refMin(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.NaN()
	}
	return math.Min(a, b)
}

// refBrent is Brent's root search (van Wijngaarden–Dekker–Brent) on
// [x1, x2] for refGrimshawW, with the reference's tolerances. It reports
// false without a sign change at the ends or without convergence.
func refBrent(x1, x2 float64, e *excesses) (float64, bool) {
	const tol = refBrentEpsilon
	a, b, c := x1, x2, x2
	var d, ee float64
	fa, fb := refGrimshawW(a, e), refGrimshawW(b, e)
	if (fa > 0 && fb > 0) || (fa < 0 && fb < 0) {
		return 0, false
	}
	fc := fb
	for iter := 0; iter < refBrentMaxIter; iter++ {
		if (fb > 0 && fc > 0) || (fb < 0 && fc < 0) {
			c, fc = a, fa
			d = b - a
			ee = d
		}
		if math.Abs(fc) < math.Abs(fb) {
			a, b, c = b, c, b
			fa, fb, fc = fb, fc, fb
		}
		tol1 := float64(2*refBrentEpsilon*math.Abs(b)) + 0.5*tol
		xm := float64(0.5 * (c - b))
		if math.Abs(xm) <= tol1 || fb == 0 {
			return b, true
		}
		if math.Abs(ee) >= tol1 && math.Abs(fa) > math.Abs(fb) {
			s := fb / fa
			var p, q float64
			if a == c {
				p = 2 * xm * s
				q = 1 - s
			} else {
				q = fa / fc
				r := fb / fc
				p = s * (float64(2*xm*q*(q-r)) - float64((b-a)*(r-1)))
				q = (q - 1) * (r - 1) * (s - 1)
			}
			if p > 0 {
				q = -q
			}
			p = math.Abs(p)
			min1 := float64(3*xm*q) - math.Abs(tol1*q)
			min2 := math.Abs(ee * q)
			if min2 < min1 {
				min1 = min2
			}
			if 2*p < min1 {
				ee = d
				d = p / q
			} else {
				d = xm
				ee = d
			}
		} else {
			d = xm
			ee = d
		}
		a, fa = b, fb
		if math.Abs(d) > tol1 {
			b += d
		} else if xm >= 0 {
			b += math.Abs(tol1)
		} else {
			b -= math.Abs(tol1)
		}
		fb = refGrimshawW(b, e)
	}
	return 0, false
}

// refTailQuantile is the reference's GPD quantile of the excess for risk q
// given the tail frequency s: the distance above t of the threshold.
func refTailQuantile(gamma, sigma, s, q float64) float64 {
	r := q / s
	if gamma == 0 {
		return -sigma * math.Log(r)
	}
	return (sigma / gamma) * (math.Exp(-gamma*math.Log(r)) - 1)
}

// refSurvival is the reference's tail probability formula, used below t
// only (d < 0), where it extrapolates the fitted tail.
func refSurvival(gamma, sigma, d float64) float64 {
	if gamma == 0 {
		return math.Exp(-d / sigma)
	}
	r := float64(d * (gamma / sigma))
	return math.Exp((-1 / gamma) * math.Log(1+r))
}
