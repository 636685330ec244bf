package stats

import (
	"strings"
	"testing"
)

// The list has a header and a line per statistic, the default set marked.
func TestWriteList(t *testing.T) {
	var b strings.Builder
	if err := WriteList(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(table)+1 || !strings.HasPrefix(lines[0], "  NAME") {
		t.Fatalf("%d lines, want a header and %d statistics:\n%s", len(lines), len(table), b.String())
	}
	marked := 0
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "* ") {
			marked++
		}
	}
	if marked != len(defaultNames) || !strings.Contains(b.String(), "* TRAFFIC ") || !strings.Contains(b.String(), "packets/s") {
		t.Errorf("%d marked, want %d:\n%s", marked, len(defaultNames), b.String())
	}
}
