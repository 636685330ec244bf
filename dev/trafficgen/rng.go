package trafficgen

import (
	"math"
	"math/bits"
)

// rng is a xoshiro256** generator seeded through splitmix64.
//
// The generator carries its own generator and its own logarithm and
// exponential instead of math/rand and math.Log/math.Exp so that a capture is
// byte-for-byte the same on every architecture and every Go release: the
// standard library promises neither for its helpers, some math functions
// have per-architecture assembly, and the compiler may fuse a*b+c into one
// instruction on arm64. Every float expression below that mixes a product
// and a sum converts the product explicitly with float64(), which the Go
// specification defines as preventing that fusion.
type rng struct{ s [4]uint64 }

// splitmix64 advances *x and returns the next output of SplitMix64.
func splitmix64(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newRNG returns the generator of the named stream of seed. Streams with
// different names are independent, so that adding an attack to a scenario
// does not change the benign traffic around it.
func newRNG(seed uint64, stream string) *rng {
	h := uint64(14695981039346656037) // FNV-1a of the stream name
	for i := 0; i < len(stream); i++ {
		h ^= uint64(stream[i])
		h *= 1099511628211
	}
	x := seed ^ bits.RotateLeft64(h, 17)
	r := &rng{}
	for i := range r.s {
		r.s[i] = splitmix64(&x)
	}
	return r
}

func (r *rng) u64() uint64 {
	s := &r.s
	result := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return result
}

func (r *rng) u32() uint32 { return uint32(r.u64() >> 32) }
func (r *rng) u16() uint16 { return uint16(r.u64() >> 48) }

// intn returns a uniform int in [0, n); n must be positive.
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.u64(), uint64(n))
	return int(hi)
}

// between returns a uniform int in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// float returns a uniform float64 in [0, 1).
func (r *rng) float() float64 { return float64(r.u64()>>11) / (1 << 53) }

// chance reports true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// uniform returns a uniform float64 in [lo, hi).
func (r *rng) uniform(lo, hi float64) float64 { return lo + float64(r.float()*(hi-lo)) }

// exp returns an exponential variate of mean 1.
func (r *rng) exp() float64 { return -lnf(1 - r.float()) }

// normal returns a standard normal variate (Marsaglia's polar method).
func (r *rng) normal() float64 {
	for {
		u := float64(2*r.float()) - 1
		v := float64(2*r.float()) - 1
		s := float64(u*u) + float64(v*v)
		if s > 0 && s < 1 {
			return float64(u * math.Sqrt(float64(-2*lnf(s))/s))
		}
	}
}

// lognormal returns a log-normal variate with the given median and shape.
func (r *rng) lognormal(median, sigma float64) float64 {
	return float64(median * expf(float64(sigma*r.normal())))
}

// expNS returns an exponential duration of the given mean, in nanoseconds.
func (r *rng) expNS(mean int64) int64 { return int64(float64(mean) * r.exp()) }

// jitterNS returns d scaled by a uniform factor in [1-f, 1+f].
func (r *rng) jitterNS(d int64, f float64) int64 {
	return int64(float64(d) * r.uniform(1-f, 1+f))
}

// weighted returns an index drawn with the given (non-negative) weights.
func (r *rng) weighted(w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	u := float64(r.float() * sum)
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

const ln2 = 0.693147180559945309417232121458176568

// lnf is the natural logarithm, accurate to about 1e-15, computed only with
// operations whose results IEEE 754 fixes (see rng).
func lnf(x float64) float64 {
	if x <= 0 {
		return math.Inf(-1)
	}
	m, e := math.Frexp(x) // x = m·2^e, m in [0.5, 1)
	if m < math.Sqrt2/2 {
		m *= 2
		e--
	}
	// ln(m) = 2·atanh(s) with s = (m-1)/(m+1), |s| < 0.1716.
	s := (m - 1) / (m + 1)
	s2 := float64(s * s)
	sum := 1.0 / 21
	for k := 19; k >= 1; k -= 2 {
		sum = float64(sum*s2) + 1/float64(k)
	}
	return float64(float64(2*s)*sum) + float64(float64(e)*ln2)
}

// expf is e^x, accurate to about 1e-15, deterministic like lnf.
func expf(x float64) float64 {
	switch {
	case x > 700:
		x = 700
	case x < -700:
		return 0
	}
	k := math.Floor(x/ln2 + 0.5)
	r := x - float64(k*ln2) // |r| <= ln2/2
	p := 1.0
	for n := 16; n >= 1; n-- {
		p = 1 + float64(float64(p*r)/float64(n))
	}
	return math.Ldexp(p, int(k))
}
