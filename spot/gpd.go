package spot

import "math"

// This file holds the default tail fit: the maximum-likelihood GPD by
// Grimshaw's reduction to one dimension, found by a bracketed root search
// that starts from the previous fit, and the method of moments; the fit with
// the higher log-likelihood wins, as in the reference.
//
// Grimshaw (1993) profiles the GPD log-likelihood over θ = γ/σ: for a fixed
// θ the best γ is L(θ) = mean log(1+θY) and σ = γ/θ, which leaves
//
//	ℓ(θ)/N = −log(L(θ)/θ) − L(θ) − 1.
//
// Here θ is scaled by the largest excess (φ = θ·max Y, domain φ > −1) so
// that tolerances do not depend on the units of the series. The local
// maxima of ℓ are the roots where its derivative g goes from + to −.

const (
	// minFitExcesses: below this many excesses the GPD has too many
	// degrees of freedom; the tail is taken as exponential (γ = 0).
	minFitExcesses = 5
	// phiZero: closer to 0 than this, φ is the exponential tail (the
	// profile derivative is computed from its series there).
	phiZero = 1e-7
	// phiTol: the root search stops when the bracket is this narrow
	// (relative to |φ|, absolute below 1).
	phiTol = 1e-12
	// gammaFloor: roots with γ below −1 are rejected: there the GPD
	// likelihood is unbounded and its maximum meaningless.
	gammaFloor = -1
	// maxRootIter bounds the root search (it converges far earlier).
	maxRootIter = 100
)

// fitScratch is reserved space for the fit; it holds nothing yet but keeps
// the tail's layout stable.
type fitScratch struct{}

// profile evaluates the profile log-likelihood per excess (without the
// constant −log max Y) and its derivative at φ.
type profile struct {
	e         *excesses
	scale     float64 // 1 / max Y
	m1, m2    float64 // mean of y and y² with y = Y/max Y
	evalCalls int
}

func newProfile(e *excesses) profile {
	p := profile{e: e, scale: 1 / e.max}
	n := float64(e.size)
	p.m1 = e.sum * p.scale / n
	p.m2 = e.sumSq * p.scale * p.scale / n
	return p
}

// at returns L(φ), ℓ(φ)/N + log max Y, and dℓ/dφ/N.
func (p *profile) at(phi float64) (l, ll, g float64) {
	if math.Abs(phi) < phiZero {
		// Series at 0: L ≈ φ·m1, ℓ/N → −log m1 − 1, g → (m2 − 2m1²)/(2m1).
		return phi * p.m1, -math.Log(p.m1) - 1, (p.m2 - 2*p.m1*p.m1) / (2 * p.m1)
	}
	p.evalCalls++
	var sl, sd float64
	for _, y := range p.e.values() {
		u := phi * y * p.scale
		sl += math.Log1p(u)
		sd += y * p.scale / (1 + u)
	}
	n := float64(p.e.size)
	l, ld := sl/n, sd/n
	ll = -math.Log(l/phi) - l - 1
	g = 1/phi - ld/l - ld
	return l, ll, g
}

// fitGPD returns the GPD parameters of the stored excesses (γ, σ), NaN
// when there is none. root carries the previous maximum (φ) from one fit
// to the next.
func fitGPD(e *excesses, root *float64, _ *fitScratch) (gamma, sigma float64) {
	switch {
	case e.size == 0:
		*root = math.NaN()
		return math.NaN(), math.NaN()
	case e.size < minFitExcesses || !(e.max > e.min):
		*root = math.NaN()
		return 0, e.mean()
	}
	n := float64(e.size)
	mean := e.mean()
	// Candidate 1: exponential tail.
	gamma, sigma = 0, mean
	best := -math.Log(mean) - 1
	// Candidate 2: method of moments.
	if v := e.variance(); v > 0 {
		r := mean * mean / v
		g, s := 0.5*(1-r), 0.5*mean*(1+r)
		if ll := logLikelihood(e, g, s) / n; ll > best {
			gamma, sigma, best = g, s, ll
		}
	}
	// Candidate 3: maximum likelihood.
	p := newProfile(e)
	phi, l, ll, ok := p.maximum(*root)
	if !ok {
		*root = math.NaN()
		return gamma, sigma
	}
	*root = phi
	if ll -= math.Log(e.max); ll > best {
		if math.Abs(phi) < phiZero {
			return 0, mean
		}
		gamma, sigma = l, l/(phi*p.scale)
	}
	return gamma, sigma
}

// logLikelihood of the excesses under GPD(γ, σ); −Inf outside the support.
func logLikelihood(e *excesses, gamma, sigma float64) float64 {
	n := float64(e.size)
	if gamma == 0 {
		return -n*math.Log(sigma) - e.sum/sigma
	}
	if !(sigma > 0) || 1+gamma/sigma*e.max <= 0 {
		return math.Inf(-1)
	}
	var s float64
	k := gamma / sigma
	for _, y := range e.values() {
		s += math.Log1p(k * y)
	}
	return -n*math.Log(sigma) - (1+1/gamma)*s
}

// maximum finds a local maximum of the profile likelihood: near warm (the
// previous one) when it is a number, else by scanning the whole domain.
func (p *profile) maximum(warm float64) (phi, l, ll float64, ok bool) {
	if !math.IsNaN(warm) && warm > -1 {
		if phi, l, ll, ok = p.track(warm); ok {
			return phi, l, ll, true
		}
	}
	return p.scan()
}

// track walks uphill from start, widening its steps, until g changes sign
// from + to −, then refines that root.
func (p *profile) track(start float64) (phi, l, ll float64, ok bool) {
	_, _, g := p.at(start)
	step := math.Max(math.Abs(start)*0.05, 1e-4)
	lo, hi := start, start
	glo, ghi := g, g
	for range 60 {
		if g > 0 {
			// Uphill is to the right; the root is past the first φ
			// with g < 0.
			lo, glo = hi, ghi
			hi = lo + step
			var lh float64
			lh, _, ghi = p.at(hi)
			_ = lh
			if ghi <= 0 {
				return p.refine(lo, hi, glo, ghi)
			}
		} else {
			// Uphill is to the left, toward −1: the root is past the
			// first φ with g > 0.
			hi, ghi = lo, glo
			lo = hi - step
			if lo <= -1 {
				lo = (hi - 1) / 2
			}
			var llo float64
			llo, _, glo = p.at(lo)
			if llo < gammaFloor || hi-lo < 1e-15 {
				return 0, 0, 0, false
			}
			if glo > 0 {
				return p.refine(lo, hi, glo, ghi)
			}
		}
		step *= 2
	}
	return 0, 0, 0, false
}

// scan looks for every local maximum on a grid over the domain and keeps
// the one with the highest likelihood.
func (p *profile) scan() (phi, l, ll float64, ok bool) {
	var prev, gprev float64
	first := true
	best := math.Inf(-1)
	try := func(x float64) {
		lx, _, gx := p.at(x)
		if !first && gprev > 0 && gx <= 0 {
			if r, rl, rll, rok := p.refine(prev, x, gprev, gx); rok && rll > best {
				phi, l, ll, ok, best = r, rl, rll, true, rll
			}
		}
		first = false
		prev, gprev = x, gx
		if lx < gammaFloor {
			first = true // no maximum may straddle the forbidden region
		}
	}
	for k := 12; k >= 1; k-- { // −1 + 2^-12 … −0.5
		try(-1 + math.Ldexp(1, -k))
	}
	for k := 2; k <= 22; k++ { // −0.25 … −2.4e-7
		try(-math.Ldexp(1, -k))
	}
	try(0)
	for k := -22; k <= 40; k++ { // 2.4e-7 … 1.1e12
		try(math.Ldexp(1, k))
	}
	return phi, l, ll, ok
}

// refine finds the root of g in [lo, hi] (g(lo) > 0 ≥ g(hi)) by the
// Illinois variant of regula falsi, which keeps the bracket and converges
// superlinearly.
func (p *profile) refine(lo, hi, glo, ghi float64) (phi, l, ll float64, ok bool) {
	side := 0
	for range maxRootIter {
		if hi-lo <= phiTol*math.Max(1, math.Abs(lo)) {
			break
		}
		x := (lo*ghi - hi*glo) / (ghi - glo)
		if !(x > lo && x < hi) {
			x = lo + (hi-lo)/2
		}
		_, _, gx := p.at(x)
		switch {
		case gx > 0:
			lo, glo = x, gx
			if side == -1 {
				ghi /= 2
			}
			side = -1
		case gx < 0:
			hi, ghi = x, gx
			if side == 1 {
				glo /= 2
			}
			side = 1
		default:
			lo, hi = x, x
		}
	}
	phi = lo + (hi-lo)/2
	l, ll, _ = p.at(phi)
	if l < gammaFloor || math.IsNaN(ll) {
		return 0, 0, 0, false
	}
	return phi, l, ll, true
}

// gpdQuantile is the excess over t that a GPD(γ, σ) tail exceeds with
// conditional probability r (0 < r ≤ 1).
func gpdQuantile(gamma, sigma, r float64) float64 {
	if gamma == 0 {
		return -sigma * math.Log(r)
	}
	return sigma / gamma * math.Expm1(-gamma*math.Log(r))
}

// gpdSurvival is P(excess ≥ d) under GPD(γ, σ), for d ≥ 0: the textbook
// (1 + γd/σ)^(−1/γ), and 0 beyond the end point of a bounded tail (γ < 0).
func gpdSurvival(gamma, sigma, d float64) float64 {
	if gamma == 0 {
		return math.Exp(-d / sigma)
	}
	u := gamma * d / sigma
	if u <= -1 {
		return 0
	}
	return math.Exp(-math.Log1p(u) / gamma)
}
