package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Problem is one mistake in a document, located as precisely as possible:
// "netspot.toml:12: spot.q: must be strictly between 0 and 1".
type Problem struct {
	File string // the document's name; "" for none
	Line int    // 0 when unknown (a JSON document, a default value)
	Key  string // full dotted key ("spot.q", "attack[2].at"); "" for the document
	Err  error
	// Forbidden is set on a key that this source may not change (a file
	// path or a credential through the API).
	Forbidden bool
}

func (p *Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Err.Error())
	return b.String()
}

func (p *Problem) Unwrap() error { return p.Err }

// Problems are every mistake found in a document, in the order of its
// lines, so that a user fixes them all in one go.
type Problems []*Problem

// maxProblems bounds the list: a file of garbage gives a short answer.
const maxProblems = 20

func (ps Problems) Error() string {
	msgs := make([]string, 0, len(ps))
	for _, p := range ps {
		msgs = append(msgs, p.Error())
	}
	return strings.Join(msgs, "\n")
}

// err returns ps sorted by line, at most maxProblems of them (and a last
// one saying how many more), or nil when there is none.
func (ps Problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	slices.SortStableFunc(ps, func(a, b *Problem) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.Key, b.Key)
	})
	if len(ps) > maxProblems {
		more := len(ps) - maxProblems
		ps = append(ps[:maxProblems:maxProblems], &Problem{File: ps[0].File, Err: fmt.Errorf("and %d more problems", more)})
	}
	return ps
}

// AsProblems returns the problems err carries: those of a Problems list, a
// single *Problem, or, for any other error, nil.
func AsProblems(err error) Problems {
	var ps Problems
	if errors.As(err, &ps) {
		return ps
	}
	var p *Problem
	if errors.As(err, &p) {
		return Problems{p}
	}
	return nil
}

// didYouMean suggests the known name closest to an unknown one, or "".
func didYouMean(name string, known []string) string {
	best, bestDist := "", 0
	lower := strings.ToLower(name)
	for _, k := range known {
		d := editDistance(lower, strings.ToLower(k))
		limit := max(1, min(3, len(k)/3))
		if d > limit {
			continue
		}
		if best == "" || d < bestDist || d == bestDist && k < best {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance of two short
// strings: insertions, deletions, substitutions and swaps of two
// neighbours ("fiel" for "file") each count one.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b))
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
