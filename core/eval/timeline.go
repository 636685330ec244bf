package eval

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"netspot/core/capture"
)

// Window is the ground truth of one attack on the timeline.
type Window struct {
	Label      string
	Start, End time.Time // first and last packet after shifting, or the scenario's end
	Volumetric bool
	File       string
	Packets    uint64 // packets injected
}

// Timeline merges a scenario's captures into one packet stream, in time
// order, without writing anything: each background is looped with shifted
// timestamps until the end of the timeline, each attack shifted to its
// offset. It is a capture.Source (the miner replays it with WithSource);
// packet bytes are valid until the next call to Next.
type Timeline struct {
	start, end int64 // Unix ns, [start, end)
	streams    []*stream
	last       int // stream whose packet Next returned last; -1 before the first
	started    bool
	attacks    []Window
	links      []capture.Link
	err        error
}

// stream is one entry's packets, shifted onto the timeline.
type stream struct {
	name, path, filter string
	from, to           int64 // clip, relative to the capture's first packet; to 0: none
	loop               bool
	span               int64 // loop length (backgrounds)
	shift              int64 // added to the capture's timestamps in the current loop
	end                int64 // no packet at or after end is handed out

	f     *capture.File
	ref   int64 // time of the capture's first packet, origin of from/to
	pkt   capture.Packet
	has   bool
	done  bool
	loops int
}

// scan is what a first pass over a capture found.
type scan struct {
	first   int64 // time of the capture's first packet
	lo, hi  int64 // earliest and latest used packet
	packets uint64
	links   []capture.Link
}

// Build checks every capture of s and prepares its timeline. minerFilter is
// the configured capture filter, applied to every capture with the entry's
// own. Each capture is read once here, so that a missing, unreadable or
// empty capture, an attack running past the end of the timeline or two
// attacks overlapping are errors naming the entry before anything runs.
func Build(s *Scenario, minerFilter string) (*Timeline, error) {
	t := &Timeline{last: -1}
	type planned struct {
		src  *Source
		name string
		sc   scan
	}
	var bgs []planned
	linkSeen := make(map[capture.Link]bool)
	addLinks := func(ls []capture.Link) {
		for _, l := range ls {
			if !linkSeen[l] {
				linkSeen[l] = true
				t.links = append(t.links, l)
			}
		}
	}
	for i := range s.Background {
		b := &s.Background[i]
		name := backgroundName(i)
		sc, err := scanCapture(s.path(b.File), joinFilters(minerFilter, b.Filter), &b.Source)
		if err != nil {
			return nil, problem(s, b.line, name, "", err)
		}
		if sc.packets < 2 || sc.hi == sc.lo {
			return nil, problem(s, b.line, name, "", fmt.Errorf("%s: %d packets over %s: a background needs packets spread over time to loop", b.File, sc.packets, time.Duration(sc.hi-sc.lo)))
		}
		bgs = append(bgs, planned{src: &b.Source, name: name, sc: sc})
	}
	// The timeline starts at the whole second of the first background's
	// first packet, which keeps its own timestamps (and time of day).
	t.start = bgs[0].sc.lo - mod(bgs[0].sc.lo, int64(time.Second))
	t.end = t.start + int64(s.Duration)
	for _, b := range bgs {
		span := b.sc.hi - b.sc.lo
		// Loop with the mean gap between packets after the last one, so
		// that the seam looks like any other moment of the capture.
		span += span / int64(b.sc.packets-1)
		st := &stream{
			name: b.name, path: s.path(b.src.File), filter: joinFilters(minerFilter, b.src.Filter),
			from: int64(b.src.From), to: int64(b.src.To), ref: b.sc.first, loop: true, span: span,
			shift: t.start - (b.sc.lo - mod(b.sc.lo, int64(time.Second))), end: t.end,
		}
		t.streams = append(t.streams, st)
		addLinks(b.sc.links)
	}
	for i := range s.Attack {
		a := &s.Attack[i]
		name := attackName(a)
		fail := func(err error) error { return problem(s, a.line, name, "", err) }
		sc, err := scanCapture(s.path(a.File), joinFilters(minerFilter, a.Filter), &a.Source)
		if err != nil {
			return nil, fail(err)
		}
		if sc.packets == 0 {
			return nil, fail(fmt.Errorf("%s: no packets to inject (after the filter and the from/to clip)", a.File))
		}
		shift := t.start + int64(a.At) - sc.lo
		w := Window{Label: a.Label, Start: time.Unix(0, sc.lo+shift).UTC(), End: time.Unix(0, sc.hi+shift).UTC(),
			Volumetric: a.Volumetric, File: a.File, Packets: sc.packets}
		if a.End != 0 {
			w.End = time.Unix(0, t.start+int64(a.End)).UTC()
		}
		if sc.hi+shift >= t.end {
			return nil, fail(fmt.Errorf("its packets span %s from at = %s, past the end of the %s timeline", time.Duration(sc.hi-sc.lo), a.At, s.Duration))
		}
		if w.End.Before(w.Start) {
			return nil, fail(fmt.Errorf("end = %s comes before its first packet (at = %s)", a.End, a.At))
		}
		t.attacks = append(t.attacks, w)
		t.streams = append(t.streams, &stream{
			name: name, path: s.path(a.File), filter: joinFilters(minerFilter, a.Filter),
			from: int64(a.From), to: int64(a.To), ref: sc.first, shift: shift, end: t.end,
		})
		addLinks(sc.links)
	}
	// Overlapping windows would make it impossible to say which attack an
	// alarm belongs to.
	order := make([]int, len(t.attacks))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return t.attacks[i].Start.Compare(t.attacks[j].Start) })
	for k := 1; k < len(order); k++ {
		prev, cur := &t.attacks[order[k-1]], &t.attacks[order[k]]
		if !cur.Start.After(prev.End) {
			a := &s.Attack[order[k]]
			return nil, problem(s, a.line, attackName(a), "", fmt.Errorf("its window %s to %s overlaps that of attack %q (%s to %s): alarms could not be told apart",
				t.offset(cur.Start), t.offset(cur.End), prev.Label, t.offset(prev.Start), t.offset(prev.End)))
		}
	}
	return t, nil
}

// offset formats a time as an offset from the timeline's start.
func (t *Timeline) offset(at time.Time) string {
	return (time.Duration(at.UnixNano() - t.start)).String()
}

// Start and End bound the timeline: [Start, End).
func (t *Timeline) Start() time.Time { return time.Unix(0, t.start).UTC() }
func (t *Timeline) End() time.Time   { return time.Unix(0, t.end).UTC() }

// Attacks returns the attack windows in scenario order.
func (t *Timeline) Attacks() []Window { return slices.Clone(t.attacks) }

// Links lists the link types of the captures, in order of appearance.
func (t *Timeline) Links() []capture.Link { return slices.Clone(t.links) }

// Loops returns how many times each background was started, in order.
func (t *Timeline) Loops() []int {
	var out []int
	for _, s := range t.streams {
		if s.loop {
			out = append(out, s.loops)
		}
	}
	return out
}

// Next fills p with the next packet of the timeline in time order and
// returns io.EOF after the last one.
func (t *Timeline) Next(p *capture.Packet) error {
	if t.err != nil {
		return t.err
	}
	if !t.started {
		t.started = true
		for _, s := range t.streams {
			if err := s.advance(); err != nil {
				t.err = err
				return err
			}
		}
	} else if t.last >= 0 {
		if err := t.streams[t.last].advance(); err != nil {
			t.err = err
			return err
		}
	}
	best := -1
	for i, s := range t.streams {
		if s.has && (best < 0 || s.pkt.Time < t.streams[best].pkt.Time) {
			best = i
		}
	}
	t.last = best
	if best < 0 {
		return io.EOF
	}
	*p = t.streams[best].pkt
	return nil
}

// Close closes every capture still open.
func (t *Timeline) Close() error {
	var err error
	for _, s := range t.streams {
		if s.f != nil {
			err = errors.Join(err, s.f.Close())
			s.f = nil
		}
		s.done, s.has = true, false
	}
	return err
}

// advance reads the stream's next packet into s.pkt, looping a background
// at the end of its capture; s.has is false once the stream is over.
func (s *stream) advance() error {
	s.has = false
	for !s.done {
		if s.f == nil {
			f, err := capture.OpenFile(s.path, s.filter)
			if err != nil {
				s.done = true
				return fmt.Errorf("eval: %s: %w", s.name, err)
			}
			s.f = f
			if s.loops > 0 {
				s.shift += s.span
			}
			s.loops++
		}
		err := s.f.Next(&s.pkt)
		if err == io.EOF {
			s.f.Close()
			s.f = nil
			if !s.loop {
				s.done = true
			}
			continue
		}
		if err != nil {
			s.done = true
			return fmt.Errorf("eval: %s: %w", s.name, err)
		}
		rel := s.pkt.Time - s.ref
		if rel < s.from || (s.to != 0 && rel >= s.to) {
			continue
		}
		s.pkt.Time += s.shift
		if s.pkt.Time >= s.end {
			s.done = true
			s.f.Close()
			s.f = nil
			return nil
		}
		s.has = true
		return nil
	}
	return nil
}

// scanCapture reads a whole capture once: it must open and decode to the
// end, and gives the times and count of the packets used.
func scanCapture(path, expr string, src *Source) (scan, error) {
	var sc scan
	// from and to count from the capture's first packet, filtered or not,
	// as capture tools show relative times.
	first, err := firstPacketTime(path)
	if err != nil {
		return scan{}, err
	}
	sc.first = first
	f, err := capture.OpenFile(path, expr)
	if err != nil {
		return scan{}, err
	}
	defer f.Close()
	var (
		p    capture.Packet
		seen = make(map[capture.Link]bool)
	)
	for {
		err := f.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			return scan{}, err
		}
		rel := p.Time - sc.first
		if rel < int64(src.From) || (src.To != 0 && rel >= int64(src.To)) {
			continue
		}
		if sc.packets == 0 || p.Time < sc.lo {
			sc.lo = p.Time
		}
		if sc.packets == 0 || p.Time > sc.hi {
			sc.hi = p.Time
		}
		sc.packets++
		if !seen[p.Link] {
			seen[p.Link] = true
			sc.links = append(sc.links, p.Link)
		}
	}
	return sc, nil
}

// firstPacketTime returns the time of a capture's first packet.
func firstPacketTime(path string) (int64, error) {
	f, err := capture.OpenFile(path, "")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var p capture.Packet
	switch err := f.Next(&p); {
	case err == io.EOF:
		return 0, fmt.Errorf("capture: %s: %w: no packets", path, capture.ErrFormat)
	case err != nil:
		return 0, err
	}
	return p.Time, nil
}

// joinFilters combines two filter expressions; either may be empty.
func joinFilters(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return "(" + a + ") and (" + b + ")"
}

// mod is a mod m in [0, m).
func mod(a, m int64) int64 {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}
