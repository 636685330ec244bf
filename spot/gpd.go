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
//
// The default mode maximizes a penalized likelihood (Coles and Dixon,
// "Likelihood-based inference for extreme value models", Extremes 2, 1999):
// ℓ − P(γ) with P(γ) = γ/(1−γ) for γ > 0, 0 for γ ≤ 0, and +∞ from γ = 1
// on. On a few tens of excesses the plain maximum of the likelihood has a
// large variance in γ, and its upper errors cost the most: the threshold
// grows like (s/q)^γ, so that γ = 0.8 instead of 0.3 puts it 30 times
// higher at s/q = 1000, where it never alarms again. The penalty shrinks γ
// only where the data cannot pin it down (its pull is about
// (1+γ)²/(k(1−γ)²) on k excesses: 0.05 at γ = 0 on 20 excesses, 0.001 on
// 1000) and excludes γ ≥ 1, tails without a mean, which no window
// statistic of a finite link has. With the penalty, the best γ for a fixed
// θ > 0 is the root in (0, min(1, A/k)) of
//
//	A/γ² − k/γ − 1/(1−γ)² = 0
//
// and the profile is ℓ(θ) = k·log θ − B − k·log γ − A/γ − P(γ), whose
// derivative, by the envelope theorem, is k/θ − B' − A'/γ as without it.

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
	e         *excesses
	scale     float64 // 1 / largest value (stored or censoring point)
	w, c      float64 // censored weight and point (scaled)
	k         float64 // exact excesses
	s1, s2    float64 // Σy and Σy² of the scaled values, censored included
	sumY      float64 // Σy of the exact ones only
	slope     float64 // dγ/dφ at the last point evaluated by at
	penalized bool    // maximize ℓ − P(γ) (default mode)
}

func newProfile(e *excesses, w, c float64, penalized bool) profile {
	p := profile{e: e, k: float64(e.size), penalized: penalized}
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
	if p.penalized && phi > 0 {
		// ℓ = k·log φ − B − k·log γ − A/γ − P(γ) at the best γ for φ;
		// ℓ' by the envelope theorem; ℓ'' and dγ/dφ with the implicit
		// derivative of that γ (the curvature of the inner problem is
		// −(k/γ² + 2P'/γ + P'')).
		gamma = penalizedGamma(a, p.k)
		pen, d1, d2 := penalty(gamma)
		ll = float64(p.k*math.Log(phi)) - b - float64(p.k*math.Log(gamma)) - a/gamma - pen
		g = p.k/phi - bd - ad/gamma
		curv := p.k/(gamma*gamma) + 2*d1/gamma + d2
		p.slope = ad / (gamma * gamma) / curv
		h = -p.k/(phi*phi) + bdd + add/gamma + ad*ad/(gamma*gamma*gamma*gamma)/curv
		return gamma, ll, g, h
	}
	// ℓ = −k·log(A/(kφ)) − B − k; A' = Σr, A'' = −Σr² (likewise B).
	ll = float64(-p.k*math.Log(a/(p.k*phi))) - b - p.k
	g = float64(-p.k*(ad/a-1/phi)) - bd
	p.slope = ad / p.k
	h = float64(-p.k*(-add/a-float64((ad/a)*(ad/a))+1/(phi*phi))) + bdd
	return a / p.k, ll, g, h
}

// penalty is the Coles-Dixon penalty P(γ) = γ/(1−γ) on heavy tails and its
// first two derivatives, for 0 < γ < 1.
func penalty(gamma float64) (p, d1, d2 float64) {
	u := 1 / (1 - gamma)
	return float64(gamma * u), float64(u * u), float64(2 * u * u * u)
}

// penalizedGamma is the γ in (0, 1) that maximizes −k·log γ − A/γ − P(γ)
// for A > 0: the root of A/γ² − k/γ − P'(γ), unique because that function
// falls from +∞ at 0 to −∞ at 1 through concave maxima only. Written as
// H(γ) = (A − kγ)(1−γ)² − γ², a cubic positive at 0 and negative at
// min(A/k, 1), it is found by Newton steps kept inside the bracket.
func penalizedGamma(a, k float64) float64 {
	lo, hi := 0.0, math.Min(a/k, 1)
	x := float64(hi / 2)
	for range 60 {
		u := 1 - x
		f := float64(float64((a-float64(k*x))*u)*u) - float64(x*x)
		if f > 0 {
			lo = x
		} else {
			hi = x
		}
		df := float64(-k*u*u) - float64(2*(a-float64(k*x))*u) - float64(2*x)
		next := x - f/df
		if !(next > lo && next < hi) {
			next = lo + float64((hi-lo)/2)
		}
		if math.Abs(next-x) <= 1e-15*math.Max(x, 1e-300) || hi-lo <= 1e-15*hi {
			return next
		}
		x = next
	}
	return x
}

// fitOptions are the choices of a fit that do not depend on the excesses.
type fitOptions struct {
	// resolution: see Config.Resolution (0: continuous values).
	resolution float64
	// penalized: maximize the Coles-Dixon penalized likelihood.
	penalized bool
	// minShape: the lightest tail allowed, between −1 and 0 (see
	// Config.MinShape).
	minShape float64
}

// fitGPD returns the GPD parameters (γ, σ) of the stored excesses with a
// censored weight w at c (see above), NaN when there is no positive
// excess. root carries the previous maximum (φ) from one fit to the next.
// With fewer than minFitExcesses excesses, or all of them equal (or within
// one resolution step), the tail is exponential; its scale is then their
// mean with, when a resolution is set, one more excess of one resolution
// step, so that the scale a tail without excesses extrapolates with (see
// tail.excessQuantile) changes smoothly as the first ones arrive instead
// of jumping to the first one.
//
// Otherwise the candidates are the exponential tail, the method of moments
// and the maximum of the (penalized) likelihood, each only with γ ≥
// minShape, and the maximum on the boundary γ = minShape when the
// unconstrained one lies below it; the one with the highest (penalized)
// likelihood wins.
func fitGPD(e *excesses, w, c float64, opt fitOptions, root *float64) (gamma, sigma float64) {
	switch {
	case e.size == 0 || !(e.max > 0):
		// No excess, or only ties at t (reference mode): no spread to
		// model.
		*root = math.NaN()
		return math.NaN(), math.NaN()
	case e.size < minFitExcesses || !(e.max > e.min) ||
		(opt.resolution > 0 && resolutionStep(e.max, opt.resolution) == resolutionStep(e.min, opt.resolution)):
		// Too few excesses, or no spread (with a resolution: all in
		// one step, where the jitter is all the spread there is).
		*root = math.NaN()
		total, count := e.sum+float64(math.Max(w, 0)*math.Max(c, 0)), float64(e.size)
		if opt.resolution > 0 {
			total, count = total+opt.resolution, count+1
		}
		return 0, total / count
	}
	p := newProfile(e, w, c, opt.penalized)
	top := 1 / p.scale
	// Candidate 1: exponential tail.
	gamma, sigma = 0, p.s1*top/p.k
	best := float64(-p.k*math.Log(sigma)) - p.k
	// Candidate 2: method of moments on the stored excesses.
	if v := e.variance(); v > 0 {
		m := e.mean()
		r := m * m / v
		g, s := float64(0.5*(1-r)), float64(0.5*m*(1+r))
		ll := p.logLikelihood(g, s*p.scale) - float64(p.k*math.Log(top))
		if opt.penalized && g > 0 {
			pen, _, _ := penalty(g)
			ll -= pen
		}
		if ll > best && g >= opt.minShape {
			gamma, sigma, best = g, s, ll
		}
	}
	// Candidate 3: maximum likelihood.
	phi, g, ll, ok := p.maximum(*root)
	*root = math.NaN()
	if ok {
		*root = phi
	}
	if (!ok || g < opt.minShape) && opt.minShape < 0 && opt.minShape > gammaFloor {
		// Candidate 3': the maximum lies below the lightest shape
		// allowed (or where the search rejects it, γ < −1): the best
		// tail of that shape, the constrained maximum.
		phi, g, ll, ok = p.atShape(opt.minShape)
	}
	if !ok || g < opt.minShape {
		return gamma, sigma // at γ = 0, the exponential candidate
	}
	if ll -= float64(p.k * math.Log(top)); ll > best {
		if math.Abs(phi) < phiZero {
			return 0, p.s1 * top / p.k
		}
		gamma, sigma = g, g/phi*top
	}
	return gamma, sigma
}

// atShape maximizes the likelihood over σ for a fixed shape γ in (−1, 0):
// in φ = γ/σ·max, on (−1, 0), where its derivative
//
//	k/φ − (1+1/γ)·B' − (w/γ)·C'
//
// falls from +∞ to −∞ and the likelihood is concave (every term of the
// second derivative is negative). Newton steps kept inside the bracket.
func (p *profile) atShape(gamma float64) (phi, g, ll float64, ok bool) {
	deriv := func(x float64) (d, dd float64) {
		var bd, bdd float64
		for _, y := range p.e.values() {
			y *= p.scale
			r := y / (1 + float64(x*y))
			bd += r
			bdd += float64(r * r)
		}
		a, b := 1+1/gamma, p.w/gamma
		d = p.k/x - float64(a*bd)
		dd = -p.k/(x*x) + float64(a*bdd)
		if p.w > 0 {
			r := p.c / (1 + float64(x*p.c))
			d -= float64(b * r)
			dd += float64(b * r * r)
		}
		return d, dd
	}
	lo, hi := -1.0, 0.0
	x := -0.5
	for range maxRootIter {
		d, dd := deriv(x)
		if d > 0 {
			lo = x
		} else {
			hi = x
		}
		next := x - d/dd
		if !(next > lo && next < hi) {
			next = lo + float64((hi-lo)/2)
		}
		if math.Abs(next-x) <= phiTol*math.Max(1, math.Abs(x)) {
			x = next
			break
		}
		x = next
	}
	if !(x > -1 && x < 0) {
		return 0, 0, 0, false
	}
	ll = p.logLikelihood(gamma, gamma/x)
	if math.IsNaN(ll) || math.IsInf(ll, 0) {
		return 0, 0, 0, false
	}
	return x, gamma, ll, true
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
		if math.Abs(warm) < phiZero {
			// The last maximum was the exponential tail, where the
			// profile has no second derivative (nor, penalized, a
			// first one): stay there if it still is a maximum, else
			// start Newton a little off 0, on the side the profile
			// rises.
			left, right := p.slopesAtZero()
			switch {
			case left >= 0 && right <= 0:
				gamma, ll, _, _ = p.at(0)
				return 0, gamma, ll, true
			case left < 0:
				warm = -1e-4
			default:
				warm = 1e-4
			}
		}
		if phi, gamma, ll, ok = p.newton(warm); ok {
			return phi, gamma, ll, true
		}
		if phi, gamma, ll, ok = p.track(warm); ok {
			return phi, gamma, ll, true
		}
	}
	return p.scan()
}

// slopesAtZero returns the slopes of the profile on each side of φ = 0,
// the exponential tail, from the sums alone (its series). They differ only
// with the penalty, which is 0 for light tails and grows like γ for heavy
// ones: the slope drops by dγ/dφ = s1/k across 0, so that 0 may be a
// maximum, at a kink.
func (p *profile) slopesAtZero() (left, right float64) {
	left = p.k*p.s2/(2*p.s1) - p.sumY
	if !p.penalized {
		return left, left
	}
	return left, left - p.s1/p.k
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

// log1p is log(1+u): its series where u is tiny (fits near the
// exponential tail, γ ≈ 0, evaluate nothing else), math.Log1p where 1+u
// would lose digits, the faster math.Log elsewhere (the fits spend most of
// their time here). Below 1e-3 the series stops at u⁴: the next term is
// 2e-13 of the result at most.
func log1p(u float64) float64 {
	switch a := math.Abs(u); {
	case a < 1e-3:
		return u * (1 - float64(u*(0.5-float64(u*(1.0/3-float64(u*0.25))))))
	case a < 1e-2:
		return math.Log1p(u)
	}
	return math.Log(1 + u)
}
