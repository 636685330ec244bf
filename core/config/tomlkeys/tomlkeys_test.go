package tomlkeys

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2/unstable"
)

const doc = `# a comment
top = 1
text = """
several
lines"""

[section]
name = "x"
dotted.inner = true
inline = { a = 1, b = { c = "d" } }

[[entry]]
at = "1s"

[[entry]]
at = "2s"
[other.sub]
list = [1,
  2]
last = 3
tables = [{ x = 1 }, 2,
  { y = { z = 3 } }]
`

func TestLines(t *testing.T) {
	lines, err := Lines([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Key{
		"top":                     {2, unstable.Integer},
		"text":                    {3, unstable.String},
		"section":                 {7, unstable.Table},
		"section.name":            {8, unstable.String},
		"section.dotted.inner":    {9, unstable.Bool},
		"section.inline":          {10, unstable.InlineTable},
		"section.inline.a":        {10, unstable.Integer},
		"section.inline.b":        {10, unstable.InlineTable},
		"section.inline.b.c":      {10, unstable.String},
		"entry[0]":                {12, unstable.ArrayTable},
		"entry[0].at":             {13, unstable.String},
		"entry[1]":                {15, unstable.ArrayTable},
		"entry[1].at":             {16, unstable.String},
		"other.sub":               {17, unstable.Table},
		"other.sub.list":          {18, unstable.Array},
		"other.sub.last":          {20, unstable.Integer},
		"other.sub.tables":        {21, unstable.Array},
		"other.sub.tables[0].x":   {21, unstable.Integer},
		"other.sub.tables[2].y":   {22, unstable.InlineTable},
		"other.sub.tables[2].y.z": {22, unstable.Integer},
	}
	if !reflect.DeepEqual(lines, want) {
		for k, v := range lines {
			if want[k] != v {
				t.Errorf("%s: %+v, want %+v", k, v, want[k])
			}
		}
		for k := range want {
			if _, ok := lines[k]; !ok {
				t.Errorf("%s missing", k)
			}
		}
	}
}

func TestLinesSyntaxError(t *testing.T) {
	_, err := Lines([]byte("a = 1\n\n[b\nc = 2\n"))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 3 || se.Message == "" {
		t.Fatalf("got %#v", err)
	}
}

type inner struct {
	File string        `toml:"file"`
	At   time.Duration `toml:"at"`
}

type Embedded struct {
	Shared int `toml:"shared"`
}

type stamp struct{ time.Time }

type sample struct {
	Top   int `toml:"top"`
	Plain string
	Skip  int `toml:"-"`
	Entry []struct {
		inner
		Embedded
		Label string `toml:"label"`
	} `toml:"entry"`
	Section struct {
		Name  *string           `toml:"name"`
		Extra map[string]string `toml:"extra"`
		When  stamp             `toml:"when"`
		List  []int             `toml:"list"`
	} `toml:"section"`
}

func TestUnknown(t *testing.T) {
	doc := `top = 1
plain = "untagged, matched by name"
skip = 2
[[entry]]
file = "f"
shared = 3
label = "x"
nope = 1
[section]
name = "n"
extra = { anything = "goes" }
when = 2025-01-01T00:00:00Z
list = [1]
list2 = 1
[bogus]
a = 1
b = { c = 1 }
[entry.more]
`
	lines, err := Lines([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	got := Unknown(lines, reflect.TypeFor[sample]())
	// skip is tagged "-"; file comes from an untagged embedded struct,
	// flattened even though it is not exported, as go-toml does; the
	// keys of an unknown table are not listed; an unindexed table under
	// an array of tables is unknown.
	want := []string{"skip", "entry[0].nope", "section.list2", "bogus", "entry.more"}
	if !slices.Equal(got, want) {
		t.Errorf("unknown %q\nwant    %q", got, want)
	}
}

// TestUnknownIndexedSlices: an index on a field that is not a slice, or a
// malformed one, is unknown.
func TestUnknownIndexedSlices(t *testing.T) {
	typ := reflect.TypeFor[sample]()
	for key, want := range map[string]bool{
		"entry[3].label":  true,
		"entry[3].shared": true,
		"top[0]":          false,
		"entry[0":         false,
		"section[0].name": false,
		"entry.label":     false,
	} {
		if got := make(fieldIndex).known(typ, strings.Split(key, ".")); got != want {
			t.Errorf("%s: known %v, want %v", key, got, want)
		}
	}
}

// FuzzLines: Lines never panics nor fails with another error than a
// *SyntaxError, and its line counter, which counts forward from the last
// key, agrees with a count from the start of the document.
func FuzzLines(f *testing.F) {
	f.Add([]byte(doc), uint16(7))
	f.Add([]byte("a.b.c = 1\n[x]\ny = { z = [1, {w = 2}] }\n[[q]]\n[[q]]\nr = '''\n\n'''\ns = 1\n"), uint16(3))
	f.Add([]byte("\n\n[broken\n"), uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, step uint16) {
		if _, err := Lines(b); err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T", err)
			}
		}
		lc := lineCounter{doc: b, line: 1}
		for off := 0; off <= len(b); off += 1 + int(step)%97 {
			lc.to(off)
			if want := 1 + strings.Count(string(b[:off]), "\n"); lc.line != want {
				t.Fatalf("line %d at offset %d, want %d", lc.line, off, want)
			}
		}
		lc.to(0) // backwards: counts again from the start
		if lc.line != 1 {
			t.Fatalf("line %d back at 0", lc.line)
		}
	})
}

func BenchmarkLines(b *testing.B) {
	var sb strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&sb, "[t%d]\nkey = %d\nother = \"text\"\n", i, i)
	}
	doc := []byte(sb.String())
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Lines(doc); err != nil {
			b.Fatal(err)
		}
	}
}
