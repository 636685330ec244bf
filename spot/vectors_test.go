package spot

import (
	"math"
	"strconv"
)

// splitMix64 is the generator of the shared test streams.
type splitMix64 struct{ s uint64 }

func (r *splitMix64) next() uint64 {
	r.s += 0x9E3779B97F4A7C15
	z := r.s
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func (r *splitMix64) float() float64 { return float64(r.next()>>11) * 0x1p-53 }

// round10 rounds to 10 significant digits, as the stream files are written.
func round10(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 10, 64), 64)
	return v
}

// streamA is input_a_gauss_spikes: N(0,1) by Box-Muller (cosine only) with
// seed 20170813 and a spike of 5+0.15k at 3000+800k, k = 0..19.
func streamA() []float64 {
	r := splitMix64{20170813}
	xs := make([]float64, 20000)
	for i := range xs {
		u1, u2 := r.float(), r.float()
		x := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
		if i >= 3000 && (i-3000)%800 == 0 && (i-3000)/800 < 20 {
			x += 5.0 + float64(0.15*float64((i-3000)/800))
		}
		xs[i] = round10(x)
	}
	return xs
}

// streamB is input_b_exponential: Exp(1) = −ln(u) with seed 1.
func streamB() []float64 {
	r := splitMix64{1}
	xs := make([]float64, 20000)
	for i := range xs {
		xs[i] = round10(-math.Log(r.float()))
	}
	return xs
}
