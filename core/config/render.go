package config

import (
	"bytes"
	"encoding"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Render writes the sections as a TOML document that Decode reads back to
// the same values: a table per section, every key with its value, each
// preceded by its `comment` tag. The tables of a `config:"rest"` map follow
// their section, with only the keys they set.
func Render(w io.Writer, sections ...Section) error {
	return render(w, false, sections)
}

// RenderRedacted is Render without the values of the keys tagged
// `api:"secret"`: each is written as a comment saying whether it is set. The
// result is for showing, not for reading back.
func RenderRedacted(w io.Writer, sections ...Section) error {
	return render(w, true, sections)
}

func render(w io.Writer, redact bool, sections []Section) error {
	var b bytes.Buffer
	for i, s := range sections {
		if i > 0 {
			b.WriteByte('\n')
		}
		rv := reflect.ValueOf(s.Value).Elem()
		if s.Comment != "" {
			comment(&b, s.Comment)
		}
		if s.Key != "" {
			fmt.Fprintf(&b, "[%s]\n", s.Key)
		}
		if err := renderTable(&b, rv, s.Key, redact); err != nil {
			return err
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

func comment(b *bytes.Buffer, text string) {
	for _, line := range strings.Split(text, "\n") {
		b.WriteString("# ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
}

// renderTable writes the scalar keys of struct rv, then its sub-tables.
func renderTable(b *bytes.Buffer, rv reflect.Value, key string, redact bool) error {
	fs := fieldsOf(rv.Type())
	var tables, arrays []string
	for _, name := range fs.names {
		f := fs.byName[name]
		fv := rv.FieldByIndex(f.Index)
		if isTable(fv) {
			tables = append(tables, name)
			continue
		}
		if isArrayOfTables(fv) {
			arrays = append(arrays, name)
			continue
		}
		if c := f.Tag.Get("comment"); c != "" {
			comment(b, c)
		}
		if redact && f.Tag.Get("api") == "secret" {
			state := "not set"
			if !fv.IsZero() {
				state = "set, not shown"
			}
			fmt.Fprintf(b, "# %s = (%s)\n", quoteKey(name), state)
			continue
		}
		text, err := tomlValue(fv)
		if err != nil {
			return fmt.Errorf("config: %s: %w", join(key, name), err)
		}
		fmt.Fprintf(b, "%s = %s\n", quoteKey(name), text)
	}
	for _, name := range tables {
		f := fs.byName[name]
		b.WriteByte('\n')
		if c := f.Tag.Get("comment"); c != "" {
			comment(b, c)
		}
		fmt.Fprintf(b, "[%s]\n", join(key, quoteKey(name)))
		if err := renderTable(b, rv.FieldByIndex(f.Index), join(key, name), redact); err != nil {
			return err
		}
	}
	for _, name := range arrays {
		f := fs.byName[name]
		fv := rv.FieldByIndex(f.Index)
		for i := range fv.Len() {
			b.WriteByte('\n')
			if c := f.Tag.Get("comment"); c != "" && i == 0 {
				comment(b, c)
			}
			fmt.Fprintf(b, "[[%s]]\n", join(key, quoteKey(name)))
			if err := renderTable(b, fv.Index(i), fmt.Sprintf("%s[%d]", join(key, name), i), redact); err != nil {
				return err
			}
		}
	}
	if fs.rest != nil {
		m := rv.FieldByIndex(fs.rest.Index)
		keys := m.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			fmt.Fprintf(b, "\n[%s]\n", join(key, quoteKey(k.String())))
			if err := renderSet(b, m.MapIndex(k), join(key, k.String())); err != nil {
				return err
			}
		}
	}
	return nil
}

// renderSet writes the keys of a struct of pointers that are set.
func renderSet(b *bytes.Buffer, rv reflect.Value, key string) error {
	fs := fieldsOf(rv.Type())
	for _, name := range fs.names {
		fv := rv.FieldByIndex(fs.byName[name].Index)
		if fv.Kind() == reflect.Pointer && fv.IsNil() {
			continue
		}
		text, err := tomlValue(fv)
		if err != nil {
			return fmt.Errorf("config: %s: %w", join(key, name), err)
		}
		fmt.Fprintf(b, "%s = %s\n", quoteKey(name), text)
	}
	return nil
}

// isTable reports whether a field renders as a [table] of its own.
func isTable(fv reflect.Value) bool {
	t := fv.Type()
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(textUnmarshaler)
}

// isArrayOfTables reports whether a field renders as [[tables]].
func isArrayOfTables(fv reflect.Value) bool {
	t := fv.Type()
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && !reflect.PointerTo(t.Elem()).Implements(textUnmarshaler)
}

// tomlValue writes one value as TOML.
func tomlValue(fv reflect.Value) (string, error) {
	for fv.Kind() == reflect.Pointer {
		fv = fv.Elem()
	}
	if fv.Kind() == reflect.Slice && fv.Len() == 0 {
		return "[]", nil
	}
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	if err := enc.Encode(map[string]any{"v": fv.Interface()}); err != nil {
		return "", err
	}
	_, text, _ := strings.Cut(strings.TrimSpace(buf.String()), " = ")
	return text, nil
}

func quoteKey(k string) string {
	for i := 0; i < len(k); i++ {
		if !isBare(k[i]) {
			return fmt.Sprintf("%q", k)
		}
	}
	return k
}

// ToMap returns the sections as nested maps of plain values for a JSON
// answer: keys by their toml names, durations as strings, NaN and ±Inf as
// nil. A field tagged `api:"secret"` is left out; in its place a key
// "<name>_set" says whether it holds a value.
func ToMap(sections ...Section) map[string]any {
	root := make(map[string]any)
	for _, s := range sections {
		m := structMap(reflect.ValueOf(s.Value).Elem())
		if s.Key == "" {
			for k, v := range m {
				root[k] = v
			}
			continue
		}
		t := root
		parts := strings.Split(s.Key, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := t[p].(map[string]any)
			if !ok {
				sub = make(map[string]any)
				t[p] = sub
			}
			t = sub
		}
		t[parts[len(parts)-1]] = m
	}
	return root
}

func structMap(rv reflect.Value) map[string]any {
	fs := fieldsOf(rv.Type())
	m := make(map[string]any, len(fs.names))
	for _, name := range fs.names {
		f := fs.byName[name]
		fv := rv.FieldByIndex(f.Index)
		if f.Tag.Get("api") == "secret" {
			m[name+"_set"] = !fv.IsZero()
			continue
		}
		m[name] = plain(fv)
	}
	if fs.rest != nil {
		iter := rv.FieldByIndex(fs.rest.Index).MapRange()
		for iter.Next() {
			m[iter.Key().String()] = plain(iter.Value())
		}
	}
	return m
}

// plain converts a value for encoding/json.
func plain(fv reflect.Value) any {
	if fv.Kind() == reflect.Pointer {
		if fv.IsNil() {
			return nil
		}
		fv = fv.Elem()
	}
	if tm, ok := fv.Interface().(encoding.TextMarshaler); ok {
		b, err := tm.MarshalText()
		if err != nil {
			return nil
		}
		return string(b)
	}
	switch fv.Kind() {
	case reflect.Struct:
		if fv.Type().NumField() > 0 && allPointers(fv.Type()) {
			m := make(map[string]any)
			for k, v := range structMap(fv) {
				if v != nil {
					m[k] = v
				}
			}
			return m
		}
		return structMap(fv)
	case reflect.Slice:
		out := make([]any, fv.Len())
		for i := range out {
			out[i] = plain(fv.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[string]any, fv.Len())
		iter := fv.MapRange()
		for iter.Next() {
			out[iter.Key().String()] = plain(iter.Value())
		}
		return out
	case reflect.Float32, reflect.Float64:
		f := fv.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	}
	return fv.Interface()
}

func allPointers(t reflect.Type) bool {
	for i := range t.NumField() {
		if t.Field(i).Type.Kind() != reflect.Pointer {
			return false
		}
	}
	return true
}
