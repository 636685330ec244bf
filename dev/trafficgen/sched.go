package trafficgen

import "math"

// never is the time of a source that has nothing more to send.
const never = math.MaxInt64

// source is anything that emits packets over time: a TCP connection, a DNS
// exchange, an attack, or an arrival process that starts other sources.
type source interface {
	// next returns the time of the source's next event, or never.
	next() int64
	// fire handles that event: it builds at most one packet into g.f and
	// reports whether it did. It may start other sources with g.start.
	fire(g *Generator) bool
}

// entry is a source in the schedule; seq breaks ties between equal times
// in the order the sources were started, which keeps output deterministic.
type entry struct {
	t   int64
	seq uint64
	src source
	own int // index of the attack it belongs to, or -1
}

// schedule is a binary min-heap of sources by next event time.
type schedule []entry

func (s schedule) less(i, j int) bool {
	return s[i].t < s[j].t || (s[i].t == s[j].t && s[i].seq < s[j].seq)
}

func (s *schedule) push(e entry) {
	*s = append(*s, e)
	h := *s
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (s schedule) down(i int) {
	n := len(s)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			return
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
}

// popMin removes the first entry.
func (s *schedule) popMin() {
	h := *s
	n := len(h) - 1
	h[0] = h[n]
	h[n] = entry{}
	*s = h[:n]
	if n > 0 {
		(*s).down(0)
	}
}
