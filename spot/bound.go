package spot

import "math"

// This file holds the cautious alarm threshold of a provisional tail: the
// quantile at an upper confidence bound of the tail's scale.
//
// A provisional tail is fitted on a few tens of excesses of the few
// hundred values seen so far. Its point estimate of the quantile is as
// likely to be too low as too high, and too low means false alarms on
// the first burst that the short sample did not hold. The threshold takes
// instead the largest scale σ that the excesses do not reject at the
// fitted shape γ: the likelihood ratio bound, the largest σ ≥ σ̂ with
//
//	2·(ℓ(γ, σ̂) − ℓ(γ, σ)) ≤ z²
//
// for the normal quantile z of Config.Confidence (Coles, "An Introduction
// to Statistical Modeling of Extreme Values", 2001, §2.6.6). The quantile
// is linear in σ at a fixed γ, so the threshold's height above t grows by
// the ratio σ/σ̂: about 1 + z/√k for an exponential tail of k excesses
// (1.48 for k = 20 at 0.95), narrowing as excesses accumulate.
//
// The shape is kept at its (penalized, floored) estimate rather than
// profiled too: with 20 excesses the likelihood hardly tells γ = 0 from
// γ = 0.6, and a bound over both put the first thresholds of a count of
// distinct addresses at 130 where the complete model puts 20, beyond
// every sweep. A tail without excesses has no scale to bound; its
// frequency is bounded instead (see upperHeight).

// upperHeight is the height above t that y exceeds with probability risk,
// at the upper confidence bound of Config.Confidence (a provisional tail).
func (tl *tail) upperHeight(c *Config, risk float64) float64 {
	point := tl.excessQuantile(c, risk)
	s := tl.frequency()
	if c.Confidence == 0 || risk >= s {
		return point
	}
	if !tl.hasModel() {
		// No excess yet: the scale is one resolution step (a prior,
		// not an estimate), and the frequency of an excess, estimated
		// as 1/(N+1), is bounded by the exact binomial bound of no
		// success in N trials, 1 − (1−confidence)^(1/N).
		if !(c.Resolution > 0) {
			return point
		}
		su := -math.Expm1(math.Log1p(-c.Confidence) / float64(tl.n))
		if risk >= su {
			return point
		}
		// Never below the point estimate (a low confidence bounds the
		// frequency below 1/(N+1)).
		return max(point, gpdQuantile(0, c.Resolution, risk/su))
	}
	z := math.Sqrt2 * math.Erfinv(2*c.Confidence-1)
	return point * scaleBound(&tl.peaks, tl.gamma, tl.sigma, float64(z*z)/2)
}

// scaleBound returns r ≥ 1 such that σ = r·sigma is the largest scale whose
// log-likelihood at the shape gamma is within dev of that of sigma.
func scaleBound(e *excesses, gamma, sigma, dev float64) float64 {
	if e.size == 0 || !(sigma > 0) || !(dev > 0) {
		return 1
	}
	ll := func(r float64) float64 { return scaledLogLikelihood(e, gamma, r*sigma) }
	target := ll(1) - dev
	if math.IsNaN(target) || math.IsInf(target, 0) {
		return 1
	}
	// The log-likelihood in σ rises to its maximum and falls after it,
	// like −k·log σ: bracket the crossing by doubling, then bisect.
	lo, hi := 1.0, 2.0
	for range 64 {
		if !(ll(hi) >= target) {
			break
		}
		lo, hi = hi, 2*hi
	}
	for range 60 {
		if hi-lo <= 1e-9*hi {
			break
		}
		mid := lo + float64((hi-lo)/2)
		if ll(mid) >= target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// scaledLogLikelihood is the log-likelihood of the stored excesses under
// GPD(γ, σ); −Inf outside the support.
func scaledLogLikelihood(e *excesses, gamma, sigma float64) float64 {
	k := float64(e.size)
	if gamma == 0 {
		return float64(-k*math.Log(sigma)) - e.sum/sigma
	}
	theta := gamma / sigma
	var b float64
	for _, y := range e.values() {
		u := float64(theta * y)
		if u <= -1 {
			return math.Inf(-1)
		}
		b += log1p(u)
	}
	return float64(-k*math.Log(sigma)) - float64((1+1/gamma)*b)
}
