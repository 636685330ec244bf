package config

import (
	"errors"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

const linesDoc = `# a comment
top = 1
text = """
several "" ""\"
lines"""

[section]
name = "x # not a comment"
dotted.inner = true
inline = { a = 1, b = { c = "d" } }
'quoted key' = 'lit "x"'

[[entry]]
at = "1s"

[[entry]]
at = "2s"
[[entry.sub]]
z = 1
[other.sub]
list = [1, # a comment in an array
  2]
last = 3
tables = [{ x = 1 }, { w = 2 },
  { y = { z = 3 } }]
date = 1979-05-27 07:32:00Z
after = '''
[not.a.table]
'''
end = "yes"
`

func TestKeyLines(t *testing.T) {
	if _, err := Parse("doc", []byte(linesDoc)); err != nil {
		t.Fatal(err)
	}
	got := keyLines(linesDoc)
	want := map[string]int{
		"top":                     2,
		"text":                    3,
		"section":                 7,
		"section.name":            8,
		"section.dotted":          9,
		"section.dotted.inner":    9,
		"section.inline":          10,
		"section.inline.a":        10,
		"section.inline.b":        10,
		"section.inline.b.c":      10,
		"section.quoted key":      11,
		"entry[0]":                13,
		"entry[0].at":             14,
		"entry[1]":                16,
		"entry[1].at":             17,
		"entry[1].sub[0]":         18,
		"entry[1].sub[0].z":       19,
		"other.sub":               20,
		"other.sub.list":          21,
		"other.sub.last":          23,
		"other.sub.tables":        24,
		"other.sub.tables[0]":     24,
		"other.sub.tables[0].x":   24,
		"other.sub.tables[1]":     24,
		"other.sub.tables[1].w":   24,
		"other.sub.tables[2]":     25,
		"other.sub.tables[2].y":   25,
		"other.sub.tables[2].y.z": 25,
		"other.sub.date":          26,
		"other.sub.after":         27,
		"other.sub.end":           30,
	}
	if !reflect.DeepEqual(got, want) {
		for _, k := range slices.Sorted(maps.Keys(got)) {
			if want[k] != got[k] {
				t.Errorf("%s: line %d, want %d", k, got[k], want[k])
			}
		}
		for k := range want {
			if _, ok := got[k]; !ok {
				t.Errorf("%s missing", k)
			}
		}
	}
}

var index = regexp.MustCompile(`\[\d+\]`)

// checkKeyLines compares the keys found by keyLines with those of the
// decoder: every key the decoder lists is found, and every key found is a
// key of the decoder or a table above one.
func checkKeyLines(t *testing.T, doc string) {
	var m map[string]any
	md, err := toml.Decode(doc, &m)
	if err != nil {
		return
	}
	found := make(map[string]bool)
	for k := range keyLines(doc) {
		found[index.ReplaceAllString(k, "")] = true
	}
	for _, k := range md.Keys() {
		for _, part := range k {
			if part == "" || strings.ContainsAny(part, ".[]") {
				return // not told apart in dotted form; no configuration key looks so
			}
		}
	}
	decoded := make(map[string]bool)
	for _, k := range md.Keys() {
		key := strings.Join(k, ".")
		decoded[key] = true
		for i := range k {
			decoded[strings.Join(k[:i+1], ".")] = true
		}
		if !found[key] {
			t.Fatalf("key %q of the decoder not found in %q", key, doc)
		}
	}
	for k := range found {
		if !decoded[k] {
			t.Fatalf("key %q found but not a key of the decoder in %q", k, doc)
		}
	}
}

func TestKeyLinesMatchDecoder(t *testing.T) {
	checkKeyLines(t, linesDoc)
}

func FuzzKeyLines(f *testing.F) {
	f.Add(linesDoc)
	f.Add("a = [[1, 2], [{b = 3}]]\n[x.'y.z']\n\"k\\u0041\" = 1\n")
	f.Add("[a]\n[[a.b]]\nc = 1\n[[a.b]]\n[a.b.d]\ne = 2\n")
	f.Fuzz(func(t *testing.T, doc string) {
		checkKeyLines(t, doc)
	})
}

// TestNestingBounded: a document nested deeper than any configuration is
// refused at its line before the parser, whose cost grows with the square
// of the depth, sees it; brackets in strings and comments do not count.
func TestNestingBounded(t *testing.T) {
	deep := "a = " + strings.Repeat("{b=", 20000) + "1" + strings.Repeat("}", 20000) + "\n"
	_, err := Parse("deep.toml", []byte("x = 1\n"+deep))
	var p *Problem
	if !errors.As(err, &p) || p.Line != 2 || !strings.Contains(p.Error(), "nested more than 16 deep") {
		t.Fatalf("20,000 nested inline tables: %v", err)
	}
	arrays := "a = " + strings.Repeat("[", 17) + strings.Repeat("]", 17)
	if _, err := Parse("deep.toml", []byte(arrays)); err == nil {
		t.Fatal("17 nested arrays accepted")
	}
	ok := "# [[[[[[[[[[[[[[[[[[[[\n" +
		"s = \"[[[[[[[[[[[[[[[[[[[[\\\"[[[[\"\n" +
		"l = '{{{{{{{{{{{{{{{{{{{{{{'\n" +
		"m = \"\"\"\n[[[[[[[[[[[[[[[[[[[[\n\"\"\"\n" +
		"n = '''[[[[[[[[[[[[[[[[[[[[''''\n" +
		"[[t]]\nv = [[1, 2], [3, {x = [4]}]]\n"
	if _, err := Parse("ok.toml", []byte(ok)); err != nil {
		t.Fatalf("brackets in strings and comments counted: %v", err)
	}
	d, err := ParseAssignments("--set", []string{"a.b=" + arrays, "a.c=x\nevil = 1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.root["a"].(map[string]any); got["b"] != arrays || got["c"] != "x\nevil = 1" {
		t.Errorf("--set values too deep or over several lines: %#v, want them as plain strings", got)
	}
}
