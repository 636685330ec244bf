package spot

import "math"

// This file holds the default tail fit: the maximum-likelihood GPD by
// Grimshaw's reduction to one dimension, found by a bracketed root search
// that starts from the previous fit, and the method of moments; the fit with
// the higher log-likelihood wins, as in the reference.
//
// Alarms are not learnt, so the excesses stored after calibration are the
// tail cut at the alarm threshold z. Fitted as they are, they make the tail
// look lighter than it is, z falls, more is cut: the reference ends up
// raising several times q alarms (see the package documentation). The fit
// therefore restores the part of the tail beyond z that the model itself
// predicts: each stored excess that was judged against z stands for
// 1/(1−p) excesses, where p = q/s is the model's probability of an excess
// beyond z, and the missing p/(1−p) are censored observations at z − t.
// Nothing from the alarms themselves is used, so an attack, however long,
// is never learnt.
//
// Grimshaw (1993) profiles the GPD log-likelihood over θ = γ/σ. With k
// exact excesses Y and a censored weight w at c,
//
//	A(θ) = Σ log(1+θY) + w·log(1+θc),  B(θ) = Σ log(1+θY),
//
// the best γ for a fixed θ is A/k, σ = γ/θ, and the profile is
//
//	ℓ(θ) = −k·log(A/(kθ)) − B − k.
//
// Here θ is scaled by the largest value (φ = θ·max, domain φ > −1) so that
// tolerances do not depend on the units of the series. The local maxima of
// ℓ are the roots where its derivative goes from + to −.

const (
	// minFitExcesses: below this many excesses the GPD has too many
	// degrees of freedom; the tail is taken as exponential (γ = 0).
	minFitExcesses = 5
	// phiZero: closer to 0 than this, φ is the exponential tail (the
	// profile and its derivative come from their series there).
	phiZero = 1e-7
	// phiTol: the root search stops when the bracket is this narrow
	// (relative to |φ|, absolute below 1).
	phiTol = 1e-12
	// gammaFloor: maxima with γ below −1 are rejected: there the GPD
	// likelihood is unbounded and its maximum meaningless.
	gammaFloor = -1
	// maxRootIter bounds the root search (it converges far earlier).
	maxRootIter = 100
	// newtonTol: Newton stops when its step is this small (relative to
	// |φ|, absolute below 1); quadratic convergence makes the last step
	// far smaller still.
	newtonTol     = 1e-9
	newtonMaxIter = 8
	// newtonLastStep: a step this small is taken without evaluating
	// its end point (its error is about its square).
	newtonLastStep = 1e-5
)

// profile evaluates the profile log-likelihood and its derivative.
type profile struct {
	e      *excesses
	scale  float64 // 1 / largest value (stored or censoring point)
	w, c   float64 // censored weight and point (scaled)
	k      float64 // exact excesses
	s1, s2 float64 // Σy and Σy² of the scaled values, censored included
	sumY   float64 // Σy of the exact ones only
	slope  float64 // dγ/dφ at the last point evaluated by at
}

func newProfile(e *excesses, w, c float64) profile {
	p := profile{e: e, k: float64(e.size)}
	top := e.max
	if w > 0 && c > top {
		top = c
	}
	p.scale = 1 / top
	if w > 0 && c > 0 {
		p.w, p.c = w, c*p.scale
	}
	p.sumY = float64(e.sum * p.scale)
	p.s1 = p.sumY + float64(p.w*p.c)
	p.s2 = float64(e.sumSq*p.scale*p.scale) + float64(p.w*p.c*p.c)
	return p
}

// at returns γ(φ) = A/k, the profile log-likelihood (plus k·log max) and
// its first two derivatives (the second is NaN near 0, where the series
// stops at the first).
func (p *profile) at(phi float64) (gamma, ll, g, h float64) {
	if math.Abs(phi) < phiZero {
		// Series at 0: A ≈ φ·s1, ℓ → −k·log(s1/k) − k,
		// ℓ' → k·s2/(2·s1) − Σy.
		return phi * p.s1 / p.k, float64(-p.k*math.Log(p.s1/p.k)) - p.k, p.k*p.s2/(2*p.s1) - p.sumY, math.NaN()
	}
	var b, bd, bdd float64
	for _, y := range p.e.values() {
		y *= p.scale
		u := float64(phi * y)
		b += log1p(u)
		r := y / (1 + u)
		bd += r
		bdd += float64(r * r)
	}
	a, ad, add := b, bd, bdd
	if p.w > 0 {
		u := float64(phi * p.c)
		r := p.c / (1 + u)
		a += float64(p.w * log1p(u))
		ad += float64(p.w * r)
		add += float64(p.w * r * r)
	}
	// ℓ = −k·log(A/(kφ)) − B − k; A' = Σr, A'' = −Σr² (likewise B).
	ll = float64(-p.k*math.Log(a/(p.k*phi))) - b - p.k
	g = float64(-p.k*(ad/a-1/phi)) - bd
	p.slope = ad / p.k
	h = float64(-p.k*(-add/a-float64((ad/a)*(ad/a))+1/(phi*phi))) + bdd
	return a / p.k, ll, g, h
}

// fitGPD returns the GPD parameters (γ, σ) of the stored excesses with a
// censored weight w at c (see above), NaN when there is no positive
// excess. root carries the previous maximum (φ) from one fit to the next.
func fitGPD(e *excesses, w, c float64, root *float64) (gamma, sigma float64) {
	switch {
	case e.size == 0 || !(e.max > 0):
		// No excess, or only ties at t (reference mode): no spread to
		// model.
		*root = math.NaN()
		return math.NaN(), math.NaN()
	case e.size < minFitExcesses || !(e.max > e.min):
		*root = math.NaN()
		return 0, (e.sum + float64(math.Max(w, 0)*math.Max(c, 0))) / float64(e.size)
	}
	p := newProfile(e, w, c)
	top := 1 / p.scale
	// Candidate 1: exponential tail.
	gamma, sigma = 0, p.s1*top/p.k
	best := float64(-p.k*math.Log(sigma)) - p.k
	// Candidate 2: method of moments on the stored excesses.
	if v := e.variance(); v > 0 {
		m := e.mean()
		r := m * m / v
		g, s := 0.5*(1-r), 0.5*m*(1+r)
		if ll := p.logLikelihood(g, s*p.scale) - float64(p.k*math.Log(top)); ll > best {
			gamma, sigma, best = g, s, ll
		}
	}
	// Candidate 3: maximum likelihood.
	phi, g, ll, ok := p.maximum(*root)
	if !ok {
		*root = math.NaN()
		return gamma, sigma
	}
	*root = phi
	if ll -= float64(p.k * math.Log(top)); ll > best {
		if math.Abs(phi) < phiZero {
			return 0, p.s1 * top / p.k
		}
		gamma, sigma = g, g/phi*top
	}
	return gamma, sigma
}

// logLikelihood under GPD(γ, σ) of the scaled values (σ scaled too); −Inf
// outside the support.
func (p *profile) logLikelihood(gamma, sigma float64) float64 {
	if !(sigma > 0) {
		return math.Inf(-1)
	}
	if gamma == 0 {
		return float64(-p.k*math.Log(sigma)) - p.s1/sigma
	}
	theta := gamma / sigma
	if 1+theta <= 0 { // scaled values reach 1
		return math.Inf(-1)
	}
	var b float64
	for _, y := range p.e.values() {
		b += log1p(float64(theta * y * p.scale))
	}
	ll := float64(-p.k*math.Log(sigma)) - float64((1+1/gamma)*b)
	if p.w > 0 {
		ll -= float64(p.w / gamma * log1p(float64(theta*p.c)))
	}
	return ll
}

// maximum finds a local maximum of the profile likelihood: near warm (the
// previous one) when it is a number, else by scanning the whole domain.
func (p *profile) maximum(warm float64) (phi, gamma, ll float64, ok bool) {
	if warm > -1 { // false for NaN
		if phi, gamma, ll, ok = p.newton(warm); ok {
			return phi, gamma, ll, true
		}
		if phi, gamma, ll, ok = p.track(warm); ok {
			return phi, gamma, ll, true
		}
	}
	return p.scan()
}

// newton climbs to the maximum near start with Newton steps on the
// derivative, as long as the profile is concave there: from the previous
// maximum, after one excess changed, two or three evaluations reach it.
// It gives up (for the bracketed search) on anything unusual.
func (p *profile) newton(start float64) (phi, gamma, ll float64, ok bool) {
	phi = start
	for range newtonMaxIter {
		gam, l, g, h := p.at(phi)
		slope := p.slope
		if !(h < 0) || gam < gammaFloor || math.IsNaN(l) {
			return 0, 0, 0, false
		}
		step := -g / h
		if math.Abs(step) <= newtonTol*math.Max(1, math.Abs(phi)) {
			return phi, gam, l, true
		}
		if math.Abs(step) <= newtonLastStep*math.Max(1, math.Abs(phi)) {
			// The step left is so small that the point after it is
			// exact to about step² (quadratic convergence): take it,
			// with its values to second order, without another pass.
			return phi + step, gam + float64(slope*step), l + float64(g*step) + float64(h*step*step/2), true
		}
		next := phi + step
		if !(next > (phi-1)/2) || math.Abs(step) > 0.5*math.Max(1, math.Abs(phi)) {
			return 0, 0, 0, false // a long jump: not near the maximum
		}
		phi = next
	}
	return 0, 0, 0, false
}

// track walks uphill from start with steps growing fourfold until the
// derivative changes sign, then refines that root. It is the fallback of
// newton where the profile is not concave.
func (p *profile) track(start float64) (phi, gamma, ll float64, ok bool) {
	_, _, g, _ := p.at(start)
	step := math.Max(math.Abs(start)*1e-3, 1e-6)
	lo, hi, glo, ghi := start, start, g, g
	for range 80 {
		if g > 0 { // uphill to the right
			lo, glo = hi, ghi
			hi = lo + step
			if _, _, ghi, _ = p.at(hi); ghi <= 0 {
				return p.refine(lo, hi, glo, ghi)
			}
		} else { // uphill to the left, toward −1
			hi, ghi = lo, glo
			lo = math.Max(hi-step, (hi-1)/2)
			var gam float64
			if gam, _, glo, _ = p.at(lo); gam < gammaFloor || hi-lo < 1e-15 {
				return 0, 0, 0, false
			}
			if glo > 0 {
				return p.refine(lo, hi, glo, ghi)
			}
		}
		step *= 4
	}
	return 0, 0, 0, false
}

// scan looks for every local maximum on a grid over the domain and keeps
// the one with the highest likelihood.
func (p *profile) scan() (phi, gamma, ll float64, ok bool) {
	var prev, gprev float64
	first := true
	best := math.Inf(-1)
	try := func(x float64) {
		gam, _, gx, _ := p.at(x)
		if !first && gprev > 0 && gx <= 0 {
			if r, rg, rll, rok := p.refine(prev, x, gprev, gx); rok && rll > best {
				phi, gamma, ll, ok, best = r, rg, rll, true, rll
			}
		}
		prev, gprev = x, gx
		// No maximum may straddle the region where γ < −1.
		first = gam < gammaFloor
	}
	for k := 12; k >= 1; k-- { // −1 + 2⁻¹² … −0.5
		try(-1 + math.Ldexp(1, -k))
	}
	for k := 2; k <= 24; k++ { // −0.25 … −6e-8
		try(-math.Ldexp(1, -k))
	}
	try(0)
	for k := -24; k <= 40; k += 2 { // 6e-8 … 1.1e12
		try(math.Ldexp(1, k))
	}
	return phi, gamma, ll, ok
}

// refine finds the root of the derivative in [lo, hi] (g(lo) > 0 ≥ g(hi))
// by the Illinois variant of regula falsi: it keeps the bracket and
// converges superlinearly.
func (p *profile) refine(lo, hi, glo, ghi float64) (phi, gamma, ll float64, ok bool) {
	side := 0
	for range maxRootIter {
		if hi-lo <= phiTol*math.Max(1, math.Abs(lo)) {
			break
		}
		x := (float64(lo*ghi) - float64(hi*glo)) / (ghi - glo)
		if !(x > lo && x < hi) {
			x = lo + float64((hi-lo)/2)
		}
		_, _, gx, _ := p.at(x)
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
	phi = lo + float64((hi-lo)/2)
	gamma, ll, _, _ = p.at(phi)
	if gamma < gammaFloor || math.IsNaN(ll) {
		return 0, 0, 0, false
	}
	return phi, gamma, ll, true
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

// log1p is log(1+u): math.Log1p where 1+u would lose digits, the faster
// math.Log elsewhere (the fits spend most of their time here).
func log1p(u float64) float64 {
	if math.Abs(u) < 1e-2 {
		return math.Log1p(u)
	}
	return math.Log(1 + u)
}
