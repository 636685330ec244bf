package miner

import (
	"math"
	"math/bits"
)

// Distinct counts.
//
// Addresses are counted exactly up to ExactLimit distinct values per window
// (an open-addressing table of the full 128-bit addresses), then with a
// HyperLogLog sketch of 2^14 registers: a relative standard error of
// 1.04/sqrt(16384) = 0.81%, whatever the number of addresses. Memory is fixed
// when the miner starts (about 290 KiB per address set) and never grows, so
// a flood of random spoofed sources cannot exhaust it.
//
// Ports have only 65536 values: a bitmap counts them exactly, always.

// ExactLimit is the number of distinct addresses counted exactly in a
// window; beyond it counts are HyperLogLog estimates.
const ExactLimit = 8192

const (
	tableSize = 2 * ExactLimit // power of two; load factor at most 1/2
	hllP      = 14
	hllM      = 1 << hllP
)

// addr is an IP address as two 64-bit halves; IPv4 addresses are stored in
// their IPv4-mapped IPv6 form.
type addr struct{ hi, lo uint64 }

// mix64 is the MurmurHash3 finalizer: every input bit affects every output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func hashAddr(a addr, seed uint64) uint64 {
	return mix64(mix64(a.lo^seed^0x9e3779b97f4a7c15) ^ a.hi)
}

// sketchSeed is fixed so that the same capture gives the same estimates on
// every run; the exact table uses a per-process seed instead, so that a
// crafted set of addresses cannot make its probe chains long.
const sketchSeed = 0x5ca1ab1e0ddba11

// addrSet counts distinct addresses with bounded memory.
type addrSet struct {
	seed    uint64
	keys    []addr   // tableSize slots
	used    []bool   // slot occupied
	touched []uint16 // occupied slots, to reset in O(n)
	sketch  *hll     // in use once more than ExactLimit values were seen
	inHLL   bool
}

func newAddrSet(seed uint64) *addrSet {
	return &addrSet{
		seed:    seed,
		keys:    make([]addr, tableSize),
		used:    make([]bool, tableSize),
		touched: make([]uint16, 0, ExactLimit),
		sketch:  new(hll),
	}
}

func (s *addrSet) add(a addr) {
	if s.inHLL {
		s.sketch.add(hashAddr(a, sketchSeed))
		return
	}
	i := hashAddr(a, s.seed) & (tableSize - 1)
	for s.used[i] {
		if s.keys[i] == a {
			return
		}
		i = (i + 1) & (tableSize - 1)
	}
	if len(s.touched) == ExactLimit {
		s.toSketch()
		s.sketch.add(hashAddr(a, sketchSeed))
		return
	}
	s.used[i] = true
	s.keys[i] = a
	s.touched = append(s.touched, uint16(i))
}

// toSketch moves the exact values into the sketch.
func (s *addrSet) toSketch() {
	for _, i := range s.touched {
		s.sketch.add(hashAddr(s.keys[i], sketchSeed))
	}
	s.inHLL = true
}

// count is the number of distinct addresses: exact up to ExactLimit.
func (s *addrSet) count() uint64 {
	if s.inHLL {
		return s.sketch.estimate()
	}
	return uint64(len(s.touched))
}

// merge adds the values of o to s (o is left unchanged).
func (s *addrSet) merge(o *addrSet) {
	if o.inHLL {
		if !s.inHLL {
			s.toSketch()
		}
		s.sketch.merge(o.sketch)
		return
	}
	for _, i := range o.touched {
		s.add(o.keys[i])
	}
}

func (s *addrSet) reset() {
	for _, i := range s.touched {
		s.used[i] = false
	}
	s.touched = s.touched[:0]
	if s.inHLL {
		s.sketch.reset()
		s.inHLL = false
	}
}

// hll is a HyperLogLog sketch with 2^14 registers, estimated with Ertl's
// improved raw estimator ("New cardinality estimation algorithms for
// HyperLogLog sketches", 2017), which needs no bias-correction table and is
// accurate from a handful of values to billions.
type hll struct {
	reg [hllM]uint8
}

func (h *hll) add(x uint64) {
	i := x >> (64 - hllP)
	w := x<<hllP | 1<<(hllP-1) // guard bit: rank at most 64-hllP+1
	r := uint8(bits.LeadingZeros64(w) + 1)
	if r > h.reg[i] {
		h.reg[i] = r
	}
}

func (h *hll) merge(o *hll) {
	for i, r := range o.reg {
		if r > h.reg[i] {
			h.reg[i] = r
		}
	}
}

func (h *hll) reset() { h.reg = [hllM]uint8{} }

func (h *hll) estimate() uint64 {
	const q = 64 - hllP
	var c [q + 2]int
	for _, r := range h.reg {
		c[r]++
	}
	m := float64(hllM)
	z := m * hllTau(1-float64(c[q+1])/m)
	for k := q; k >= 1; k-- {
		z = 0.5 * (z + float64(c[k]))
	}
	z += m * hllSigma(float64(c[0])/m)
	return uint64(math.Round(0.5 / math.Ln2 * m * m / z))
}

func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == prev {
			return z / 3
		}
	}
}

// portSet counts distinct ports exactly with a 65536-bit map.
type portSet struct {
	bits [1024]uint64
	n    uint64
}

func (s *portSet) add(p uint16) {
	w, b := p>>6, uint64(1)<<(p&63)
	if s.bits[w]&b == 0 {
		s.bits[w] |= b
		s.n++
	}
}

func (s *portSet) merge(o *portSet) {
	s.n = 0
	for i := range s.bits {
		s.bits[i] |= o.bits[i]
		s.n += uint64(bits.OnesCount64(s.bits[i]))
	}
}

func (s *portSet) reset() {
	if s.n != 0 {
		s.bits = [1024]uint64{}
		s.n = 0
	}
}
