package spot

import "math"

// excesses is the bounded ring of the most recent excesses over the excess
// threshold t (always positive numbers, in the oriented units of a tail),
// with the running sums and extremes that the fits need. When full, a push
// evicts the oldest excess: the model follows the recent tail and memory
// stays bounded.
type excesses struct {
	data   []float64 // capacity max_excess; data[:size] holds the values
	cursor int       // where the next push writes
	size   int

	sum, sumSq float64 // Σy and Σy² over the stored values
	min, max   float64

	// pushes counts pushes since sum and sumSq were last recomputed from
	// the stored values (default mode only, see push).
	pushes int
	// reference selects the reference library's bookkeeping: sums are only
	// recomputed when the evicted value was the minimum or the maximum.
	reference bool
}

func newExcesses(capacity int, reference bool) excesses {
	return excesses{data: make([]float64, capacity), min: math.NaN(), max: math.NaN(), reference: reference}
}

// values returns the stored excesses in storage order (not time order).
func (e *excesses) values() []float64 { return e.data[:e.size] }

func (e *excesses) reset() {
	e.cursor, e.size, e.pushes = 0, 0, 0
	e.sum, e.sumSq = 0, 0
	e.min, e.max = math.NaN(), math.NaN()
}

func (e *excesses) push(y float64) {
	evicted, full := 0.0, e.size == len(e.data)
	if full {
		evicted = e.data[e.cursor]
	}
	e.data[e.cursor] = y
	e.cursor++
	if e.cursor == len(e.data) {
		e.cursor = 0
	}
	if !full {
		e.size++
	}
	e.sum += y
	e.sumSq += float64(y * y)
	if e.size == 1 || y < e.min {
		e.min = y
	}
	if e.size == 1 || y > e.max {
		e.max = y
	}
	if !full {
		return
	}
	e.sum -= evicted
	e.sumSq -= float64(evicted * evicted)
	if !e.reference {
		e.pushes++
	}
	if evicted <= e.min || evicted >= e.max {
		// The evicted value may have been an extreme: rescan. The
		// reference rescans only here; the sums are refreshed too.
		e.recompute()
		return
	}
	if !e.reference && e.pushes >= len(e.data) {
		// Adding and subtracting for months accumulates rounding
		// error; a rescan once per ring turn keeps the sums exact at
		// O(1) amortized cost.
		e.recompute()
	}
}

func (e *excesses) recompute() {
	e.sum, e.sumSq, e.pushes = 0, 0, 0
	e.min, e.max = math.NaN(), math.NaN()
	for i, y := range e.data[:e.size] {
		e.sum += y
		e.sumSq += float64(y * y)
		if i == 0 || y < e.min {
			e.min = y
		}
		if i == 0 || y > e.max {
			e.max = y
		}
	}
}

func (e *excesses) mean() float64 { return e.sum / float64(e.size) }

func (e *excesses) variance() float64 {
	n := float64(e.size)
	m := e.sum / n
	return e.sumSq/n - float64(m*m)
}
