package api

// ring keeps the last cap(buf) values pushed, in a buffer allocated once.
type ring[T any] struct {
	buf  []T
	head int // index of the oldest value
	n    int
}

func newRing[T any](size int) ring[T] { return ring[T]{buf: make([]T, size)} }

// push adds v, dropping the oldest value when full; it returns the dropped
// value and whether there was one.
func (r *ring[T]) push(v T) (old T, dropped bool) {
	if r.n < len(r.buf) {
		r.buf[(r.head+r.n)%len(r.buf)] = v
		r.n++
		return old, false
	}
	old = r.buf[r.head]
	r.buf[r.head] = v
	r.head = (r.head + 1) % len(r.buf)
	return old, true
}

// at returns the i-th value, oldest first.
func (r *ring[T]) at(i int) T { return r.buf[(r.head+i)%len(r.buf)] }

func (r *ring[T]) len() int { return r.n }

// reset empties the ring and releases what it referenced.
func (r *ring[T]) reset() {
	clear(r.buf)
	r.head, r.n = 0, 0
}
