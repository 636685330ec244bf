package filter

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestLimits: a filter of any size or shape is refused or compiled in time
// and memory proportional to MaxLength, with an error that says which
// limit it passed and quotes only the start of the expression.
func TestLimits(t *testing.T) {
	nest := func(open, word, close string, n int) string {
		return strings.Repeat(open, n) + word + strings.Repeat(close, n)
	}
	ors := strings.TrimSuffix(strings.Repeat("tcp or ", (MaxLength-10)/7), " or ")
	cases := []struct {
		name, expr string
		says       string // "" when the filter is accepted
		budget     uint64 // bytes Parse may allocate
	}{
		{"1 MiB of parentheses", nest("(", "tcp", ")", 1<<19), fmt.Sprintf("is 1048579 bytes long, more than the %d accepted", MaxLength), 64 << 10},
		{"parentheses up to the length limit", nest("(", "tcp", ")", MaxLength/2-2), fmt.Sprintf(`at "(" (word %d): parentheses and not nest more than %d deep`, MaxDepth+1, MaxDepth), 4 << 20},
		{"not up to the length limit", nest("not ", "tcp", "", MaxLength/4-1), fmt.Sprintf(`at "not" (word %d): parentheses and not nest more than %d deep`, MaxDepth+1, MaxDepth), 4 << 20},
		{"! and parentheses mixed", nest("!(", "tcp", ")", MaxDepth/2+1), "nest more than", 1 << 20},
		{"parentheses as deep as allowed", nest("(", "tcp", ")", MaxDepth), "", 1 << 20},
		{"not as deep as allowed", nest("not ", "tcp", "", MaxDepth), "", 1 << 20},
		{"or up to the length limit", ors, fmt.Sprintf("compiles to more than %d instructions", MaxInstructions), 32 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var (
				err    error
				before runtime.MemStats
				after  runtime.MemStats
			)
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err = Parse(c.expr)
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > c.budget {
				t.Errorf("Parse allocated %d bytes, want at most %d", alloc, c.budget)
			}
			if c.says == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var fe *Error
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v, want a *Error saying %q", err, c.says)
			}
			if n := len(err.Error()); n > 400 {
				t.Errorf("error message of %d bytes: %.200s...", n, err.Error())
			}
		})
	}
}
