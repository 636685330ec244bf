package spot

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"strings"
	"testing"
)

var snapshotConfigs = []Config{
	{Q: 1e-3, Level: 0.98, NInit: 1000, MaxExcess: 100, Up: true},
	{Q: 1e-3, Level: 0.98, NInit: 1000, MaxExcess: 100, Up: true, Down: true, Depth: 30},
	{Q: 1e-4, Level: 0.98, NInit: 2000, MaxExcess: 200, Up: true, Reference: true},
	{Q: 1e-3, Level: 0.95, NInit: 500, MaxExcess: 50, Down: true, KeepAnomalies: true, Depth: 5},
	{Q: 1e-4, Level: 0.99, NInit: 1000, MaxExcess: 100, Up: true, Down: true, Depth: 20, Resolution: 0.5, MinShape: -0.5},
	// Judging early: provisional tails from the 100th value to the 1030th.
	{Q: 1e-4, Level: 0.99, NInit: 1000, MaxExcess: 100, Up: true, Down: true, Depth: 30, Resolution: 0.5, MinShape: 0, WatchAfter: 100, Confidence: 0.95},
	{Q: 1e-3, Level: 0.98, NInit: 1000, MaxExcess: 100, Up: true, WatchAfter: 60, KeepAnomalies: true},
}

// TestSnapshotResumesExactly: a detector restored from a snapshot taken at
// any point (filling the window, calibrating, watching) continues exactly
// as the original, bit for bit.
func TestSnapshotResumesExactly(t *testing.T) {
	xs := gaussian(21, 6000)
	for k := range xs {
		if k%250 == 0 {
			xs[k] += 8 // some alarms
		}
	}
	for _, c := range snapshotConfigs {
		points := []int{0, 3, c.Depth + c.NInit/2, c.Depth + c.NInit, 4000}
		if c.WatchAfter > 0 { // provisional: just after it starts, and later
			points = append(points, c.WatchAfter+7, c.WatchAfter+251)
		}
		for _, at := range points {
			orig := mustNew(t, c)
			for _, x := range xs[:at] {
				orig.Step(x)
			}
			b, err := orig.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var restored Detector
			if err := restored.UnmarshalBinary(b); err != nil {
				t.Fatalf("%+v at %d: %v", c, at, err)
			}
			if restored.Config() != c {
				t.Fatalf("config %+v, want %+v", restored.Config(), c)
			}
			for i, x := range xs[at:] {
				r1, r2 := orig.Step(x), restored.Step(x)
				u1, l1 := orig.Thresholds()
				u2, l2 := restored.Thresholds()
				if r1 != r2 || !same(u1, u2) || !same(l1, l2) {
					t.Fatalf("%+v restored at %d, step %d: %+v (%v, %v) vs %+v (%v, %v)", c, at, at+i, r1, u1, l1, r2, u2, l2)
				}
			}
			b1, _ := orig.MarshalBinary()
			b2, _ := restored.MarshalBinary()
			if string(b1) != string(b2) {
				t.Fatalf("%+v restored at %d: final snapshots differ", c, at)
			}
		}
	}
}

func same(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// TestSnapshotCorruption: any flipped bit, any truncation, foreign data
// give an error wrapping ErrSnapshot and leave the detector as it was.
func TestSnapshotCorruption(t *testing.T) {
	d := mustNew(t, snapshotConfigs[1])
	for _, x := range gaussian(2, 2000) {
		d.Step(x)
	}
	good, _ := d.MarshalBinary()
	target := mustNew(t, snapshotConfigs[0])
	before, _ := target.MarshalBinary()
	expectError := func(what string, b []byte) {
		t.Helper()
		if err := target.UnmarshalBinary(b); !errors.Is(err, ErrSnapshot) {
			t.Fatalf("%s: error %v", what, err)
		}
		if after, _ := target.MarshalBinary(); string(after) != string(before) {
			t.Fatalf("%s: detector changed by a failed restore", what)
		}
	}
	for i := 0; i < len(good); i += 7 {
		b := append([]byte(nil), good...)
		b[i] ^= 1 << (i % 8)
		expectError("flipped bit", b)
	}
	for n := 0; n < len(good); n += 13 {
		expectError("truncated", good[:n])
	}
	expectError("nil", nil)
	expectError("foreign", []byte("PK\x03\x04 this is a zip file, not a detector"))
	future := append([]byte(nil), good...)
	future[4] = snapshotVersion + 1
	expectError("future version", future)
}

// resign recomputes the checksum after an edit of the body.
func resign(b []byte) []byte {
	body := b[:len(b)-4]
	return binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, crcTable()))
}

// TestSnapshotInconsistent: a well-formed snapshot whose content
// contradicts itself is refused too.
func TestSnapshotInconsistent(t *testing.T) {
	d := mustNew(t, snapshotConfigs[0])
	for _, x := range gaussian(3, 1500) {
		d.Step(x)
	}
	good, _ := d.MarshalBinary()
	put := func(off int, v float64) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint64(b[off:], math.Float64bits(v))
		return resign(b)
	}
	put32 := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return resign(b)
	}
	const qOff = 6
	// Offsets after the header: q, level, resolution, min_shape,
	// confidence (40), n_init, max_excess, depth, watch_after (16), window
	// pos, len, pushes (12), window sum (8) = 82; then t.
	const tOff = 6 + 40 + 16 + 12 + 8
	// After t: z, γ, σ (24), n, nt (16), from_calibration (4), root (8),
	// the excursion's length (4), the values the tail was fitted on (4),
	// the point estimate of z (8), the ring's cursor, size, pushes (12),
	// then its sum.
	const excursionOff = tOff + 32 + 16 + 4 + 8
	for _, c := range []struct {
		name, want string
		b          []byte
	}{
		{"q out of range", "q:", put(qOff, 2)},
		{"min_shape out of range", "min_shape", put(qOff+24, 0.5)},
		{"confidence out of range", "confidence", put(qOff+32, 1)},
		{"watch_after out of range", "watch_after", put32(qOff+40+12, 5000)},
		{"t not finite", "not finite", put(tOff, math.Inf(1))},
		{"σ negative", "invalid", put(tOff+24, -1)},
		{"trailing bytes", "unexpected bytes", resign(append(append([]byte(nil), good[:len(good)-4]...), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))},
		{"wrong excess", "excess", put(len(good)-12, -5)},
		{"excess too big", "excess", put(len(good)-12, 1e300)},
		{"counters", "counters", put(tOff+32, 0)},
		{"excursion", "excursion of 5000 values", put32(excursionOff, 5000)},
		{"point estimate", "point estimate outside", put(excursionOff+8, 3)},
		{"sum of excesses", "do not match", put(excursionOff+16+12, 12345)},
	} {
		var r Detector
		err := r.UnmarshalBinary(c.b)
		if !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one about %q", c.name, err, c.want)
		}
	}
}

func FuzzUnmarshalBinary(f *testing.F) {
	for _, c := range snapshotConfigs {
		d := mustNew(f, c)
		for i, x := range gaussian(5, 2200) {
			d.Step(x)
			if i == 10 || i == 2199 {
				b, _ := d.MarshalBinary()
				f.Add(b)
			}
		}
	}
	f.Add([]byte("SPOT\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Detector
		if err := d.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrSnapshot) {
				t.Fatalf("error not wrapping ErrSnapshot: %v", err)
			}
			return
		}
		// An accepted snapshot is canonical and gives a working detector.
		again, err := d.MarshalBinary()
		if err != nil || string(again) != string(b) {
			t.Fatalf("re-encoding differs (%v)", err)
		}
		for _, x := range []float64{0, 1, -1, 1e6, -1e6, math.NaN(), 3} {
			d.Step(x)
		}
		d.Thresholds()
		d.Probability(2)
		d.Quantile(1e-5)
	})
}

// FuzzStep feeds arbitrary series and parameters: no panic, statuses and
// thresholds stay sane, snapshots round-trip.
func FuzzStep(f *testing.F) {
	f.Add(uint8(3), uint8(0), uint8(1), []byte("\x00\x01\x02\x03\x04\x05\x06\x07"))
	f.Add(uint8(10), uint8(4), uint8(3), []byte("some bytes that become floats, some huge some tiny........"))
	f.Add(uint8(0x43), uint8(5), uint8(19), []byte("\x00\x01\x02\x00\x03\x00\x00\x09\x00\x01\x40\x00"))
	f.Fuzz(func(t *testing.T, qExp, depth, flags uint8, raw []byte) {
		c := Config{
			Q:         math.Pow(10, -float64(2+qExp%6)),
			Level:     0.9,
			NInit:     100,
			MaxExcess: 1 + int(depth)%40,
			Depth:     int(depth % 8),
			Up:        flags&1 != 0,
			Down:      flags&2 != 0 || flags&1 == 0,
			Reference: flags&4 != 0,
		}
		c.KeepAnomalies = flags&8 != 0
		if flags&16 != 0 && !c.Reference {
			c.Resolution = float64(1+qExp%4) / 2
		}
		c.MinShape = -float64(flags>>5) / 7 // 0 … −1
		if qExp&0x40 != 0 && !c.Reference {
			// Judging early, with provisional tails.
			c.WatchAfter, c.Confidence = 40+int(depth)%60, []float64{0, 0.5, 0.75, 0.95}[qExp%4]
		}
		d, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		xs := make([]float64, 0, len(raw)/2+c.NInit+c.Depth)
		for i := 0; i+1 < len(raw); i += 2 {
			// Mostly small numbers, with ties, and raw bit patterns.
			v := float64(int16(binary.LittleEndian.Uint16(raw[i:])))
			if raw[i]&0x80 != 0 && i+8 <= len(raw) {
				v = math.Float64frombits(binary.LittleEndian.Uint64(raw[i:]))
			}
			xs = append(xs, v)
		}
		if len(xs) == 0 {
			return
		}
		for n := len(xs); len(xs) < 3*(c.NInit+c.Depth); {
			xs = append(xs, xs[len(xs)%n]*0.5)
		}
		for _, x := range xs {
			r := d.Step(x)
			for _, s := range []Status{r.Up, r.Down} {
				if s < Normal || s > Continued {
					t.Fatalf("status %v", s)
				}
			}
			if d.Remaining() == 0 {
				u, l := d.Thresholds()
				if (c.Up && math.IsNaN(u)) || (c.Down && math.IsNaN(l)) {
					t.Fatalf("NaN threshold while watching: %v %v (%+v)", u, l, c)
				}
			}
		}
		b, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var r Detector
		if err := r.UnmarshalBinary(b); err != nil {
			t.Fatalf("own snapshot refused: %v", err)
		}
	})
}

// FuzzFit fits both estimators to arbitrary positive excesses.
func FuzzFit(f *testing.F) {
	f.Add([]byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x10\x11\x12"), uint8(20))
	f.Add([]byte("\xff\xff\x00\x01\x00\x01\x00\x01\x00\x01\x00\x01\x00\x02"), uint8(3))
	f.Fuzz(func(t *testing.T, raw []byte, capacity uint8) {
		if len(raw) == 0 {
			return
		}
		e := newExcesses(1+int(capacity), false)
		er := newExcesses(1+int(capacity), true)
		for i := 0; i+1 < len(raw); i += 2 {
			y := float64(binary.LittleEndian.Uint16(raw[i:])) / 64
			if y == 0 {
				continue
			}
			e.push(y)
			er.push(y)
		}
		root := math.NaN()
		for range 2 { // cold, then warm
			g, s := fitGPD(&e, float64(raw[0]%5), float64(len(raw)), penalizedFit, &root)
			if e.size == 0 {
				if !math.IsNaN(g) || !math.IsNaN(s) {
					t.Fatalf("fit of nothing: %v %v", g, s)
				}
				return
			}
			if math.IsNaN(g) || math.IsInf(g, 0) || !(s > 0) || math.IsInf(s, 0) {
				t.Fatalf("fit of %v: γ=%v σ=%v", e.values(), g, s)
			}
			if z := gpdQuantile(g, s, 1e-3); math.IsNaN(z) || z < 0 {
				t.Fatalf("quantile %v for γ=%v σ=%v", z, g, s)
			}
		}
		refFit(&er)
	})
}

// downgrade rewrites the version 3 snapshot of a detector watching one
// tail, without a drift window, in the format of version 1 or 2.
func downgrade(t *testing.T, v3 []byte, version byte) []byte {
	t.Helper()
	// Header: bytes 22 to 38 hold resolution and min_shape (version 2),
	// 38 to 46 confidence, 46 to 58 n_init, max_excess and depth, 58 to
	// 62 watch_after; the window state follows (20 bytes without values),
	// then the tail: 60 bytes of fields, the excursion's length (4), the
	// values it was fitted on (4) and the point estimate of z (8), then
	// its excesses.
	const tail = 62 + 20
	const excursion = tail + 60
	if v3[4] != 3 {
		t.Fatalf("version %d", v3[4])
	}
	old := append([]byte(nil), v3[:22]...)
	if version >= 2 {
		old = append(old, v3[22:38]...)
	}
	old = append(old, v3[46:58]...)
	old = append(old, v3[62:excursion]...)
	if version >= 2 {
		old = append(old, byte(binary.LittleEndian.Uint32(v3[excursion:])))
	}
	old = append(old, v3[excursion+16:len(v3)-4]...)
	old[4] = version
	return resign(append(old, 0, 0, 0, 0))
}

// TestSnapshotOldVersions: a snapshot written before resolutions, shape
// floors and excursions (version 1), or before judging early (version 2),
// is read with the rules of its time (version 1: resolution 0, shape
// floor −1; both: judging once calibrated) and continues from where it
// was.
func TestSnapshotOldVersions(t *testing.T) {
	for _, version := range []byte{1, 2} {
		c := Config{Q: 1e-3, Level: 0.98, NInit: 1000, MaxExcess: 100, Up: true, MinShape: gammaFloor}
		d := mustNew(t, c)
		xs := gaussian(6, 1500)
		for _, x := range xs {
			d.Step(x)
		}
		if version == 2 {
			// An alarm just before: the excursion flag is set.
			if r := d.Step(30); r.Up != Alarm {
				t.Fatalf("spike: %+v", r)
			}
		}
		v3, _ := d.MarshalBinary()
		var r Detector
		if err := r.UnmarshalBinary(downgrade(t, v3, version)); err != nil {
			t.Fatalf("version %d: %v", version, err)
		}
		if r.Config() != c {
			t.Fatalf("version %d: config %+v, want %+v", version, r.Config(), c)
		}
		for _, x := range append([]float64{2.5}, gaussian(7, 500)...) {
			if a, b := d.Step(x), r.Step(x); a != b {
				t.Fatalf("restored version %d diverges: %+v vs %+v", version, a, b)
			}
		}
	}
}

// TestSnapshotVersion2Learning: the batch of a version 2 detector still
// learning with a drift window held only the values after the window was
// full; it continues to the same complete model.
func TestSnapshotVersion2Learning(t *testing.T) {
	c := Config{Q: 1e-3, Level: 0.98, NInit: 1000, MaxExcess: 100, Up: true, Depth: 40, MinShape: -0.5}
	xs := gaussian(8, 3000)
	for _, at := range []int{25, 40, 700} {
		d := mustNew(t, c)
		for _, x := range xs[:at] {
			d.Step(x)
		}
		v3, _ := d.MarshalBinary()
		// Header 62, window state 20 and its values, then the batch.
		w := int(binary.LittleEndian.Uint32(v3[62+4:]))
		batch := 62 + 20 + 8*w
		n := int(binary.LittleEndian.Uint32(v3[batch:]))
		old := append([]byte(nil), v3[:38]...)
		old = append(old, v3[46:58]...)
		old = append(old, v3[62:batch]...)
		kept := max(n-c.Depth, 0)
		old = binary.LittleEndian.AppendUint32(old, uint32(kept))
		old = append(old, v3[batch+4+8*(n-kept):len(v3)-4]...)
		old[4] = 2
		var r Detector
		if err := r.UnmarshalBinary(resign(append(old, 0, 0, 0, 0))); err != nil {
			t.Fatalf("at %d: %v", at, err)
		}
		if r.Remaining() != d.Remaining() {
			t.Fatalf("at %d: remaining %d, want %d", at, r.Remaining(), d.Remaining())
		}
		for i, x := range xs[at:] {
			a, b := d.Step(x), r.Step(x)
			ua, _ := d.Thresholds()
			ub, _ := r.Thresholds()
			if a != b || !same(ua, ub) {
				t.Fatalf("at %d, step %d: %+v (%v) vs %+v (%v)", at, at+i, a, ua, b, ub)
			}
		}
	}
}

// TestSnapshotFullBatch: a detector still learning never holds a whole
// calibration batch (the last value calibrates it), so a snapshot that
// claims one contradicts itself and is refused.
func TestSnapshotFullBatch(t *testing.T) {
	c := snapshotConfigs[0] // no drift window: the batch follows the header
	d := mustNew(t, c)
	for _, x := range gaussian(4, c.NInit-1) {
		d.Step(x)
	}
	good, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var r Detector
	if err := r.UnmarshalBinary(good); err != nil || r.Remaining() != 1 {
		t.Fatalf("a batch one value short: %v, remaining %d", err, r.Remaining())
	}
	// Header, window state and sum, then the batch length.
	const batchOff = 6 + 40 + 16 + 12 + 8
	b := append([]byte(nil), good[:len(good)-4]...)
	binary.LittleEndian.PutUint32(b[batchOff:], uint32(c.NInit))
	b = appendF64(b, 0.5)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable()))
	if err := r.UnmarshalBinary(b); !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "calibration batch") {
		t.Fatalf("a full calibration batch while learning: %v", err)
	}
}
