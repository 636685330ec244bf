package spot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
)

// Snapshot format, little-endian (version 3):
//
//	"SPOT" version:u8 flags:u8 q level resolution min_shape confidence:f64 n_init max_excess depth watch_after:u32
//	window: pos:u32 len:u32 pushes:u32 sum:f64 values:[len]f64
//	batch (learning or provisional): len:u32 values:[len]f64
//	held (provisional): len:u32 values:[len]f64 (x, x − drift pairs)
//	per watched tail, once judging (provisional or complete):
//	  t z gamma sigma:f64 n nt:u64 from_calibration:u32 root:f64 excursion:u32 fitted_on:u32 z_point:f64
//	  cursor size pushes:u32 sum sum_sq min max:f64 values:[size]f64
//	crc32c of everything before:u32
//
// Everything a detector needs to continue exactly where it was is stored,
// including running sums (their rounding history) and the warm start of
// the fit, so that a restored detector gives the same results, bit for bit,
// as one that never stopped. Older versions are read with the rules of
// their time: version 1 had neither resolution nor min_shape (resolution
// 0, min_shape −1); versions 1 and 2 had neither watch_after nor
// confidence (the detector judged once calibrated), their excursion was a
// flag (read as an excursion one value long), and in the default mode
// their batch held only the values after the first Depth ones (those,
// which the complete model never used, read as zeros).

const (
	snapshotMagic   = "SPOT"
	snapshotVersion = 3
)

const (
	flagUp = 1 << iota
	flagDown
	flagKeepAnomalies
	flagReference
	flagCalibrated  // the complete model
	flagProvisional // judging with provisional tails (version 3)
)

// ErrSnapshot is wrapped by every error of UnmarshalBinary.
var ErrSnapshot = errors.New("spot: invalid snapshot")

func snapshotErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(format, args...))
}

// MarshalBinary encodes the complete state of the detector (versioned, with
// a checksum), for UnmarshalBinary to resume it after a restart.
func (d *Detector) MarshalBinary() ([]byte, error) {
	c := d.cfg
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("spot: cannot snapshot a detector not made by New: %w", err)
	}
	b := make([]byte, 0, 160+8*(d.wlen+len(d.batch)+2*c.MaxExcess))
	b = append(b, snapshotMagic...)
	var flags byte
	set := func(bit byte, on bool) {
		if on {
			flags |= bit
		}
	}
	set(flagUp, c.Up)
	set(flagDown, c.Down)
	set(flagKeepAnomalies, c.KeepAnomalies)
	set(flagReference, c.Reference)
	set(flagCalibrated, d.stage == watching)
	set(flagProvisional, d.stage == provisional)
	b = append(b, snapshotVersion, flags)
	b = appendF64(b, c.Q, c.Level, c.Resolution, c.MinShape, c.Confidence)
	b = appendU32(b, c.NInit, c.MaxExcess, c.Depth, c.WatchAfter)
	b = appendU32(b, d.wpos, d.wlen, d.wpushes)
	b = appendF64(b, d.wsum)
	b = appendF64(b, d.window[:d.wlen]...)
	if d.stage != watching {
		b = appendU32(b, len(d.batch))
		b = appendF64(b, d.batch...)
	}
	if d.stage == provisional {
		b = appendU32(b, len(d.held))
		b = appendF64(b, d.held...)
	}
	for _, tl := range d.watched() {
		if d.stage == learning {
			break
		}
		b = appendF64(b, tl.t, tl.z, tl.gamma, tl.sigma)
		b = binary.LittleEndian.AppendUint64(b, tl.n)
		b = binary.LittleEndian.AppendUint64(b, tl.nt)
		b = appendU32(b, tl.fromCalibration)
		b = appendF64(b, tl.root)
		b = appendU32(b, tl.excursion, tl.boundN)
		b = appendF64(b, tl.zPoint)
		e := &tl.peaks
		b = appendU32(b, e.cursor, e.size, e.pushes)
		b = appendF64(b, e.sum, e.sumSq, e.min, e.max)
		b = appendF64(b, e.values()...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crcTable())), nil
}

// watched returns the watched tails, upper first.
func (d *Detector) watched() []*tail {
	var ts []*tail
	if d.cfg.Up {
		ts = append(ts, &d.up)
	}
	if d.cfg.Down {
		ts = append(ts, &d.down)
	}
	return ts
}

func crcTable() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

func appendF64(b []byte, vs ...float64) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

func appendU32(b []byte, vs ...int) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b
}

// UnmarshalBinary replaces the detector with the one encoded by
// MarshalBinary, configuration included (compare Config() with the wanted
// one to decide whether to resume or to learn again). A truncated, corrupt,
// foreign or inconsistent snapshot gives an error wrapping ErrSnapshot and
// leaves the detector unchanged.
func (d *Detector) UnmarshalBinary(data []byte) error {
	if len(data) < len(snapshotMagic)+2+4 || string(data[:4]) != snapshotMagic {
		return snapshotErrorf("not a detector snapshot")
	}
	version := data[4]
	if version < 1 || version > snapshotVersion {
		return snapshotErrorf("version %d not supported (this build reads versions 1 to %d)", version, snapshotVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, crcTable()) != sum {
		return snapshotErrorf("checksum mismatch (corrupt or truncated)")
	}
	r := reader{b: body[6:]}
	flags := body[5]
	known := byte(flagUp | flagDown | flagKeepAnomalies | flagReference | flagCalibrated)
	if version >= 3 {
		known |= flagProvisional
	}
	if flags&^known != 0 {
		return snapshotErrorf("unknown flags %#x", flags)
	}
	if flags&flagCalibrated != 0 && flags&flagProvisional != 0 {
		return snapshotErrorf("both calibrated and provisional")
	}
	c := Config{
		Up:            flags&flagUp != 0,
		Down:          flags&flagDown != 0,
		KeepAnomalies: flags&flagKeepAnomalies != 0,
		Reference:     flags&flagReference != 0,
	}
	c.Q, c.Level = r.f64(), r.f64()
	c.MinShape = gammaFloor
	if version >= 2 {
		c.Resolution, c.MinShape = r.f64(), r.f64()
	}
	if version >= 3 {
		c.Confidence = r.f64()
	}
	c.NInit, c.MaxExcess, c.Depth = r.u32(), r.u32(), r.u32()
	if version >= 3 {
		c.WatchAfter = r.u32()
	}
	if r.err != nil {
		return r.err
	}
	if err := c.Validate(); err != nil {
		return snapshotErrorf("configuration: %v", err)
	}
	nd, err := New(c)
	if err != nil {
		return snapshotErrorf("configuration: %v", err)
	}
	switch {
	case flags&flagCalibrated != 0:
		nd.stage = watching
	case flags&flagProvisional != 0:
		nd.stage = provisional
	}
	if err := nd.readWindow(&r); err != nil {
		return err
	}
	if nd.stage != watching {
		if err := nd.readBatch(&r, version); err != nil {
			return err
		}
	} else {
		nd.batch = nil
	}
	if nd.stage == provisional {
		// Pairs of a run of at most maxExcursion values.
		n := r.count(2*maxExcursion(&c), "held run")
		if r.err == nil && n%2 != 0 {
			return snapshotErrorf("held run of %d values, not pairs", n)
		}
		nd.held = r.values(nd.held[:0], n, "held value", false)
	}
	if nd.stage != learning {
		for _, tl := range nd.watched() {
			if err := tl.read(&r, &c, version, nd.stage, len(nd.batch)); err != nil {
				return err
			}
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return snapshotErrorf("%d unexpected bytes at the end", len(r.b))
	}
	if nd.stage == provisional {
		full := c.Depth + c.NInit
		nd.sorted = append(make([]float64, 0, full), nd.batch...)
		slices.Sort(nd.sorted)
		nd.scratch = make([]float64, len(nd.batch), full)
	}
	*d = *nd
	return nil
}

// readBatch reads the batch of a detector that is learning or
// provisional.
func (d *Detector) readBatch(r *reader, version byte) error {
	c := &d.cfg
	full := c.Depth + c.NInit
	if c.Reference {
		// A full batch is calibrated on the spot: a detector still
		// learning holds at most NInit−1 values, all learnt after the
		// drift window was full.
		n := r.count(c.NInit-1, "calibration batch")
		d.batch = r.values(d.batch[:0], n, "calibration value", false)
		if r.err == nil && n > 0 && d.wlen < c.Depth {
			return snapshotErrorf("calibration values before the drift window is full")
		}
		return r.err
	}
	if version < 3 {
		// The batch of versions 1 and 2 held the values after the first
		// Depth ones, which only filled the window: while it filled,
		// they are the values in it; after, placeholders, which the
		// complete model does not use.
		n := r.count(c.NInit-1, "calibration batch")
		if r.err != nil {
			return r.err
		}
		if n > 0 && d.wlen < c.Depth {
			return snapshotErrorf("calibration values before the drift window is full")
		}
		if d.wlen < c.Depth {
			d.batch = append(d.batch[:0], d.window[:d.wlen]...)
		} else {
			d.batch = append(d.batch[:0], make([]float64, c.Depth)...)
		}
		d.batch = r.values(d.batch, n, "calibration value", false)
		return r.err
	}
	// While learning, the batch holds at most watch_after − 1 values (a
	// full one is calibrated on the spot), every one of them pushed into
	// the window; while provisional, from watch_after to depth + n_init −
	// 1.
	lo, hi := 0, c.watchAfter()-1
	if d.stage == provisional {
		lo, hi = c.watchAfter(), full-1
	}
	n := r.count(hi, "calibration batch")
	if r.err == nil && n < lo {
		return snapshotErrorf("provisional with %d values learnt, fewer than watch_after = %d", n, lo)
	}
	if r.err == nil && d.stage == learning && d.wlen != min(n, c.Depth) {
		return snapshotErrorf("drift window of %d values after %d values learnt", d.wlen, n)
	}
	d.batch = r.values(d.batch[:0], n, "calibration value", false)
	return r.err
}

func (d *Detector) readWindow(r *reader) error {
	depth := d.cfg.Depth
	d.wpos, d.wlen, d.wpushes = r.u32(), r.u32(), r.u32()
	d.wsum = r.f64()
	if r.err != nil {
		return r.err
	}
	switch {
	case d.wlen > depth:
		return snapshotErrorf("drift window holds %d values, depth is %d", d.wlen, depth)
	case depth == 0 && (d.wpos != 0 || d.wpushes != 0):
		return snapshotErrorf("drift window state without a window")
	case depth > 0 && (d.wpos >= depth || d.wpushes >= depth || (d.wlen < depth && d.wpos != d.wlen)):
		return snapshotErrorf("inconsistent drift window position")
	case d.cfg.Reference && d.stage == watching && d.wlen < depth:
		// (In the default mode a window may still be filling once
		// calibrated: alarms learnt with KeepAnomalies do not enter it.)
		return snapshotErrorf("watching with a drift window not full")
	case depth > 0 && d.stage != learning && d.wlen == 0:
		// Every value learnt before judging entered the window: an empty
		// one would make the drift NaN, and NaN would be learnt.
		return snapshotErrorf("judging with an empty drift window")
	}
	if depth > 0 {
		r.values(d.window[:0], d.wlen, "drift window value", false)
	}
	if r.err != nil {
		return r.err
	}
	// The running sum carries the rounding of values already gone (it is
	// recomputed once per turn of the ring), so it can only be checked
	// for range.
	if !(math.Abs(d.wsum) <= float64(depth)*MaxValue) {
		return snapshotErrorf("drift window sum %g out of range", d.wsum)
	}
	return nil
}

// closeSum reports whether a running sum is within rounding of the sum of
// its values.
func closeSum(running, exact float64, vs []float64) bool {
	var mag float64
	for _, v := range vs {
		mag += math.Abs(v)
	}
	return math.Abs(running-exact) <= float64(1e-9*mag)+1e-300
}

// read reads a tail of a detector at stage st whose batch holds batch
// values.
func (tl *tail) read(r *reader, c *Config, version byte, st stage, batch int) error {
	tl.t, tl.z, tl.gamma, tl.sigma = r.f64(), r.f64(), r.f64(), r.f64()
	tl.n, tl.nt = r.u64(), r.u64()
	tl.fromCalibration = r.u32()
	tl.root = r.f64()
	switch {
	case version >= 3:
		tl.excursion, tl.boundN = r.u32(), r.u32()
		tl.zPoint = r.f64()
		switch {
		case r.err != nil:
		case tl.excursion > maxExcursion(c):
			r.err = snapshotErrorf("excursion of %d values, longer than %d", tl.excursion, maxExcursion(c))
		case st == provisional && !(tl.zPoint <= tl.z):
			r.err = snapshotErrorf("provisional tail with its point estimate %g above its threshold %g", tl.zPoint, tl.z)
		case st != provisional && !math.IsNaN(tl.zPoint):
			r.err = snapshotErrorf("a point estimate outside the provisional stage")
		}
	case version == 2:
		switch b := r.take(1); {
		case b == nil:
		case b[0] > 1:
			r.err = snapshotErrorf("excursion flag %d", b[0])
		default:
			tl.excursion = int(b[0])
		}
	}
	e := &tl.peaks
	e.cursor, e.size, e.pushes = r.u32(), r.u32(), r.u32()
	e.sum, e.sumSq, e.min, e.max = r.f64(), r.f64(), r.f64(), r.f64()
	if r.err != nil {
		return r.err
	}
	capacity := len(e.data)
	switch {
	case e.size > capacity || r.remaining() < 8*e.size:
		return snapshotErrorf("%d stored excesses (max_excess %d)", e.size, capacity)
	case e.cursor >= capacity || (e.size < capacity && e.cursor != e.size):
		return snapshotErrorf("inconsistent excess ring position")
	case e.pushes >= capacity:
		return snapshotErrorf("inconsistent excess ring counter")
	case tl.fromCalibration > e.size:
		return snapshotErrorf("more calibration excesses than stored ones")
	case !finite(tl.t) || !finite(tl.z):
		return snapshotErrorf("thresholds t=%g z=%g not finite", tl.t, tl.z)
	case st == watching && tl.n < uint64(c.NInit), st == provisional && tl.n != uint64(batch),
		tl.nt > tl.n, uint64(e.size) > tl.nt:
		return snapshotErrorf("inconsistent counters n=%d nt=%d stored=%d", tl.n, tl.nt, e.size)
	case st == provisional && (tl.boundN > batch || tl.fromCalibration != e.size):
		return snapshotErrorf("inconsistent provisional tail")
	case !(math.IsNaN(tl.root) || (tl.root > -1 && finite(tl.root))):
		return snapshotErrorf("invalid fit state")
	case tl.excursion > 0 && (c.Reference || c.KeepAnomalies):
		return snapshotErrorf("excursion state in a mode that learns alarms")
	}
	r.values(e.data[:0], e.size, "excess", true)
	if r.err != nil {
		return r.err
	}
	var check excesses
	check.data, check.size = e.data, e.size
	check.recompute()
	if e.size == 0 || !(check.max > 0) {
		// No positive excess: no model.
		if !math.IsNaN(tl.gamma) || !math.IsNaN(tl.sigma) || (e.size == 0 && (e.sum != 0 || e.sumSq != 0 || !math.IsNaN(e.min) || !math.IsNaN(e.max))) {
			return snapshotErrorf("tail parameters without excesses")
		}
		if e.size == 0 {
			return nil
		}
	} else if !finite(tl.gamma) || !(tl.sigma > 0) || !finite(tl.sigma) {
		return snapshotErrorf("tail parameters γ=%g σ=%g invalid", tl.gamma, tl.sigma)
	}
	if check.min != e.min || check.max != e.max || !closeSum(e.sum, check.sum, e.values()) {
		return snapshotErrorf("excess statistics do not match the stored excesses")
	}
	var sq float64
	for _, y := range e.values() {
		sq += float64(y * y)
	}
	if math.Abs(e.sumSq-check.sumSq) > float64(1e-9*sq)+1e-300 {
		return snapshotErrorf("excess statistics do not match the stored excesses")
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// reader decodes little-endian fields, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) remaining() int { return len(r.b) }

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = snapshotErrorf("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u32() int {
	b := r.take(4)
	if b == nil {
		return 0
	}
	v := binary.LittleEndian.Uint32(b)
	if v > math.MaxInt32 {
		r.err = snapshotErrorf("count %d out of range", v)
		return 0
	}
	return int(v)
}

func (r *reader) u64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (r *reader) f64() float64 { return math.Float64frombits(r.u64()) }

// count reads a length that must be at most max and fit in the input.
func (r *reader) count(max int, what string) int {
	n := r.u32()
	if r.err == nil && (n > max || 8*n > len(r.b)) {
		r.err = snapshotErrorf("%s of %d values (at most %d)", what, n, max)
		return 0
	}
	return n
}

// values appends n values to dst (which has the capacity), each finite
// and within ±MaxValue, and positive when positive is set.
func (r *reader) values(dst []float64, n int, what string, positive bool) []float64 {
	if r.err == nil && 8*n > len(r.b) {
		r.err = snapshotErrorf("truncated")
	}
	for i := 0; i < n && r.err == nil; i++ {
		v := r.f64()
		if !(math.Abs(v) <= MaxValue) || (positive && !(v >= 0)) {
			r.err = snapshotErrorf("%s %d is %g", what, i, v)
			return dst
		}
		dst = append(dst, v)
	}
	return dst
}
