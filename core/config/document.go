package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// MaxFileSize bounds what is read of a configuration file, a scenario or a
// request body: the real ones are a few kilobytes.
const MaxFileSize = 1 << 20

// maxDepth bounds the nesting of a JSON or TOML document: the real ones
// are three levels deep.
const maxDepth = 16

// Document is one source of configuration values: a TOML file, a JSON
// object sent to the API, or the key=value assignments of a command line.
// It holds the values as a tree, and the line of each key when the source
// has lines. Decode puts them into the typed sections of the packages that
// own them.
type Document struct {
	// Name names the source in problems: the file's path, "request",
	// "--set".
	Name string
	// Restricted refuses changes to the keys tagged `api:"..."` (file
	// paths, credentials, endpoints): set on what comes through the API,
	// which must not make netspot, running as root, read or write files of
	// its choosing or send secrets where it likes.
	Restricted bool

	root  map[string]any
	lines map[string]int
}

// Parse reads a TOML document. A syntax error is a *Problem with its line.
func Parse(name string, data []byte) (*Document, error) {
	if len(data) > MaxFileSize {
		return nil, &Problem{File: name, Err: fmt.Errorf("larger than %d bytes: not a configuration", MaxFileSize)}
	}
	if line := tooDeep(data); line > 0 {
		return nil, nestingProblem(name, line)
	}
	root := make(map[string]any)
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&root); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			// The line of the byte at fault: the parser counts a newline
			// it has read, so that a line cut short is reported one line
			// too far.
			line := pe.Position.Line
			if start := pe.Position.Start; start >= 0 && start <= len(data) {
				line = 1 + bytes.Count(data[:start], []byte{'\n'})
			}
			return nil, &Problem{File: name, Line: line, Err: errors.New(pe.Message)}
		}
		return nil, &Problem{File: name, Err: err}
	}
	return &Document{Name: name, root: root, lines: keyLines(string(data))}, nil
}

// ReadFile reads and parses a TOML file of at most MaxFileSize bytes.
func ReadFile(path string) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Problem{File: path, Err: err}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &Problem{File: path, Err: err}
	}
	return Parse(path, data)
}

// ParseJSON reads a JSON object of sections and keys. It may be nested like
// the TOML file ({"spot": {"q": 1e-4}}) or use dotted keys as the original
// netspot's API does ({"spot.q": 1e-4}), or mix both. Integers stay
// integers.
func ParseJSON(name string, data []byte) (*Document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &Problem{File: name, Err: fmt.Errorf("not valid JSON: %v", err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &Problem{File: name, Err: errors.New("more than one JSON value")}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &Problem{File: name, Err: errors.New("expected a JSON object of sections and keys")}
	}
	root := make(map[string]any)
	if err := mergeJSON(root, obj, "", 0); err != nil {
		err.File = name
		return nil, err
	}
	return &Document{Name: name, root: root}, nil
}

// mergeJSON copies obj into tree, splitting dotted keys and turning JSON
// numbers into integers or floats.
func mergeJSON(tree, obj map[string]any, path string, depth int) *Problem {
	if depth > maxDepth {
		return &Problem{Key: path, Err: errors.New("nested too deep")}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same problem for the same document
	for _, k := range keys {
		parts := strings.Split(k, ".")
		key := join(path, k)
		if slices.Contains(parts, "") {
			return &Problem{Key: key, Err: errors.New("empty key name")}
		}
		t := tree
		for i, p := range parts[:len(parts)-1] {
			switch sub := t[p].(type) {
			case nil:
				next := make(map[string]any)
				t[p] = next
				t = next
			case map[string]any:
				t = sub
			default:
				return &Problem{Key: join(path, strings.Join(parts[:i+1], ".")), Err: errors.New("given both as a value and as a section")}
			}
		}
		last := parts[len(parts)-1]
		if sub, ok := obj[k].(map[string]any); ok {
			dst, isTable := t[last].(map[string]any)
			if _, exists := t[last]; exists && !isTable {
				return &Problem{Key: key, Err: errors.New("given both as a value and as a section")}
			}
			if !isTable {
				dst = make(map[string]any)
				t[last] = dst
			}
			if err := mergeJSON(dst, sub, key, depth+1); err != nil {
				return err
			}
			continue
		}
		if _, exists := t[last]; exists {
			return &Problem{Key: key, Err: errors.New("given twice")}
		}
		val, err := jsonValue(obj[k], key, depth)
		if err != nil {
			return err
		}
		t[last] = val
	}
	return nil
}

func jsonValue(v any, key string, depth int) (any, *Problem) {
	if depth > maxDepth {
		return nil, &Problem{Key: key, Err: errors.New("nested too deep")}
	}
	switch x := v.(type) {
	case nil:
		return nil, &Problem{Key: key, Err: errors.New("null is not a value: leave the key out to keep its value")}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, &Problem{Key: key, Err: fmt.Errorf("number %s is out of range", x)}
		}
		return f, nil
	case []any:
		out := make([]any, len(x))
		for i := range x {
			e, err := jsonValue(x[i], fmt.Sprintf("%s[%d]", key, i), depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = e
		}
		return out, nil
	case map[string]any:
		t := make(map[string]any)
		if err := mergeJSON(t, x, key, depth+1); err != nil {
			return nil, err
		}
		return t, nil
	}
	return v, nil // string, bool
}

// ParseAssignments reads "section.key=value" assignments, as given to
// --set. A value is read as TOML when it is one ("1e-4", "true",
// "[\"a\", \"b\"]", "\"quoted\""), else as a plain string ("eth0").
func ParseAssignments(name string, assignments []string) (*Document, error) {
	root := make(map[string]any)
	for _, a := range assignments {
		key, text, ok := strings.Cut(a, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, &Problem{File: name, Key: key, Err: fmt.Errorf("%q is not key=value (e.g. spot.q=1e-4)", a)}
		}
		// One line of TOML, not too deep, or a plain string: a newline
		// would let the value bring keys of its own.
		var v struct{ V any }
		if strings.ContainsAny(text, "\r\n") || tooDeep([]byte(text)) > 0 {
			v.V = text
		} else if _, err := toml.Decode("V = "+text, &v); err != nil {
			v.V = text
		}
		if err := mergeJSON(root, map[string]any{key: v.V}, "", 0); err != nil {
			err.File = name
			return nil, err
		}
	}
	return &Document{Name: name, root: root}, nil
}

// Values is a document of values the program already holds, by dotted
// key: the options of a command line. Values are strings, bools, int,
// int64, float64, or slices of strings.
func Values(name string, values map[string]any) (*Document, error) {
	obj := make(map[string]any, len(values))
	for k, v := range values {
		switch x := v.(type) {
		case int:
			v = int64(x)
		case []string:
			a := make([]any, len(x))
			for i := range x {
				a[i] = x[i]
			}
			v = a
		}
		obj[k] = v
	}
	root := make(map[string]any)
	if err := mergeJSON(root, obj, "", 0); err != nil {
		err.File = name
		return nil, err
	}
	return &Document{Name: name, root: root}, nil
}

// Has reports whether the document sets key (dotted, "spot.q").
func (d *Document) Has(key string) bool {
	_, ok := d.lookup(key)
	return ok
}

func (d *Document) lookup(key string) (any, bool) {
	var v any = d.root
	for _, p := range strings.Split(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[p]; !ok {
			return nil, false
		}
	}
	return v, true
}

// Line returns the line key is written on, or that of the closest
// enclosing table written in the document; 0 when unknown.
func (d *Document) Line(key string) int {
	for k := key; k != ""; {
		if l, ok := d.lines[k]; ok {
			return l
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

// LoadFile decodes the file at path into sections, over the values they
// hold (the defaults). Every problem names the file, the line and the key.
func LoadFile(path string, sections ...Section) error {
	doc, err := ReadFile(path)
	if err != nil {
		return err
	}
	return doc.Decode(sections...)
}

// LoadCommandLine decodes into sections, over the values they hold, the
// options given on a command line by config key ("miner.device", named
// "command line" in errors), then the assignments of --set (named
// "--set"), each checked as in a file.
func LoadCommandLine(options map[string]any, set []string, sections ...Section) error {
	doc, err := Values("command line", options)
	if err == nil {
		err = doc.Decode(sections...)
	}
	if err == nil {
		doc, err = ParseAssignments("--set", set)
	}
	if err == nil {
		err = doc.Decode(sections...)
	}
	return err
}
