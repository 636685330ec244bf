package miner

import (
	"math"
	"testing"
)

func v4(i uint64) addr { return addr{lo: 0xffff00000000 | i&0xffffffff} }

func TestAddrSetExactUpToLimit(t *testing.T) {
	s := newAddrSet(42)
	for round := 0; round < 2; round++ { // the second round checks reset
		for i := uint64(0); i < ExactLimit; i++ {
			s.add(v4(i))
			s.add(v4(i)) // duplicates do not count
		}
		if got := s.count(); got != ExactLimit {
			t.Fatalf("round %d: count %d, want exactly %d", round, got, ExactLimit)
		}
		if s.inHLL {
			t.Fatal("switched to the sketch at the limit")
		}
		s.reset()
		if s.count() != 0 {
			t.Fatal("reset left values")
		}
	}
	// IPv6 and IPv4-mapped values are distinct from plain IPv6 ones.
	s.add(addr{hi: 0x20010db800000000, lo: 1})
	s.add(addr{hi: 0, lo: 1})
	s.add(v4(1))
	if s.count() != 3 {
		t.Errorf("count %d, want 3", s.count())
	}
}

// TestAddrSetSketchAccuracy checks the estimate beyond the exact limit
// against the documented error (0.81% standard error; 3σ bound).
func TestAddrSetSketchAccuracy(t *testing.T) {
	for _, n := range []uint64{ExactLimit + 1, 20000, 100000, 1000000} {
		s := newAddrSet(7)
		for i := uint64(0); i < n; i++ {
			s.add(addr{hi: 0x20010db8 << 32, lo: i * 0x9e3779b97f4a7c15})
		}
		got := float64(s.count())
		if rel := math.Abs(got-float64(n)) / float64(n); rel > 3*0.0081 {
			t.Errorf("n=%d: estimate %.0f, relative error %.2f%% > 2.43%%", n, got, 100*rel)
		}
	}
}

func TestAddrSetMerge(t *testing.T) {
	a, b := newAddrSet(1), newAddrSet(2)
	for i := uint64(0); i < 5000; i++ {
		a.add(v4(i))
		b.add(v4(i + 2500)) // 2500 in common
	}
	a.merge(b)
	if a.count() != 7500 || a.inHLL {
		t.Fatalf("exact merge: %d (sketch %v), want 7500 exact", a.count(), a.inHLL)
	}
	// Merging past the limit switches to the sketch.
	c := newAddrSet(3)
	for i := uint64(0); i < 6000; i++ {
		c.add(v4(i + 100000))
	}
	a.merge(c)
	if got := float64(a.count()); !a.inHLL || math.Abs(got-13500)/13500 > 0.0243 {
		t.Fatalf("merge past the limit: %.0f (sketch %v), want about 13500", got, a.inHLL)
	}
	// A sketch merged into an exact set.
	d := newAddrSet(4)
	d.add(v4(1))
	d.merge(a)
	if got := float64(d.count()); math.Abs(got-13500)/13500 > 0.0243 {
		t.Fatalf("exact <- sketch: %.0f, want about 13500", got)
	}
}

func TestPortSet(t *testing.T) {
	var a, b portSet
	for p := 0; p < 65536; p += 2 {
		a.add(uint16(p))
		a.add(uint16(p))
	}
	b.add(1)
	b.add(0)
	if a.n != 32768 || b.n != 2 {
		t.Fatalf("counts %d %d", a.n, b.n)
	}
	a.merge(&b)
	if a.n != 32769 {
		t.Fatalf("merged %d, want 32769", a.n)
	}
	a.reset()
	if a.n != 0 || a.bits != [1024]uint64{} {
		t.Fatal("reset")
	}
}

func TestHLLSmallAndEmpty(t *testing.T) {
	var h hll
	if h.estimate() != 0 {
		t.Errorf("empty sketch estimates %d", h.estimate())
	}
	for i := uint64(0); i < 100; i++ {
		h.add(mix64(i))
	}
	if e := h.estimate(); e < 97 || e > 103 {
		t.Errorf("100 values estimated as %d", e)
	}
}

func BenchmarkAddrSetAdd(b *testing.B) {
	s := newAddrSet(9)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if i%4096 == 0 {
			s.reset()
		}
		s.add(v4(uint64(i % 2048)))
	}
}
