// Package tomlkeys locates the keys of a TOML document: the line each key
// and table header is written on and the kind of its value, so that a
// loader can point at the line of a bad value, and the keys that a struct
// type does not know, so that it can report them before decoding.
//
// Both read the document once. The TOML parser's own positions rescan the
// document from its start for each key, and a decoder in strict mode does
// so again for each unknown key: a file of many keys would take minutes.
package tomlkeys

import (
	"bytes"
	"encoding"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// Key is where a key is written and what kind of value it has.
type Key struct {
	Line int
	Kind unstable.Kind // unstable.Table or unstable.ArrayTable for a table header
}

// SyntaxError is a document that does not parse.
type SyntaxError struct {
	Line    int // 0 when unknown
	Message string
}

func (e *SyntaxError) Error() string { return e.Message }

// Lines maps every key of doc, dotted from the root, to where it is
// written: table headers ("spot.R_SYN"), keys ("spot.R_SYN.q"), the keys
// of inline tables, and array tables and arrays of inline tables by index
// ("attack[2]", "attack[2].at"). A document that does not parse gives a
// *SyntaxError.
func Lines(doc []byte) (map[string]Key, error) {
	lines := make(map[string]Key)
	var p unstable.Parser
	p.Reset(doc)
	lc := lineCounter{doc: doc, line: 1}
	counts := make(map[string]int) // array tables seen, by name
	var table string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			table = join(e.Key())
			lines[table] = Key{Line: lc.lineOf(e), Kind: unstable.Table}
		case unstable.ArrayTable:
			name := join(e.Key())
			table = name + "[" + strconv.Itoa(counts[name]) + "]"
			counts[name]++
			lines[table] = Key{Line: lc.lineOf(e), Kind: unstable.ArrayTable}
		case unstable.KeyValue:
			lc.keyValue(lines, table, e)
		}
	}
	if err := p.Error(); err != nil {
		var perr *unstable.ParserError
		if errors.As(err, &perr) && len(perr.Highlight) > 0 {
			lc.to(int(p.Range(perr.Highlight).Offset))
			return nil, &SyntaxError{Line: lc.line, Message: perr.Message}
		}
		return nil, &SyntaxError{Message: err.Error()}
	}
	return lines, nil
}

// keyValue records the key of e under table, and the keys of its value
// when it is an inline table or an array of them ("attack[1].at").
func (lc *lineCounter) keyValue(lines map[string]Key, table string, e *unstable.Node) {
	key := join(e.Key())
	if table != "" {
		key = table + "." + key
	}
	v := e.Value()
	lines[key] = Key{Line: lc.lineOf(e), Kind: v.Kind}
	switch v.Kind {
	case unstable.InlineTable:
		lc.inlineTable(lines, key, v)
	case unstable.Array:
		i := 0
		for it := v.Children(); it.Next(); i++ {
			if elem := it.Node(); elem.Kind == unstable.InlineTable {
				lc.inlineTable(lines, key+"["+strconv.Itoa(i)+"]", elem)
			}
		}
	}
}

func (lc *lineCounter) inlineTable(lines map[string]Key, key string, t *unstable.Node) {
	for it := t.Children(); it.Next(); {
		if kv := it.Node(); kv.Kind == unstable.KeyValue {
			lc.keyValue(lines, key, kv)
		}
	}
}

// join is the dotted form of a key.
func join(it unstable.Iterator) string {
	var parts []string
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
	}
	return strings.Join(parts, ".")
}

// lineCounter turns the offsets of a document's keys, which come in
// increasing order, into line numbers in one pass.
type lineCounter struct {
	doc  []byte
	off  int // offset counted up to
	line int // line at off
}

func (lc *lineCounter) to(offset int) {
	if offset < lc.off { // not expected: count again from the start
		lc.off, lc.line = 0, 1
	}
	offset = min(offset, len(lc.doc))
	lc.line += bytes.Count(lc.doc[lc.off:offset], []byte{'\n'})
	lc.off = offset
}

// lineOf is the line of the first part of e's key.
func (lc *lineCounter) lineOf(e *unstable.Node) int {
	it := e.Key()
	if !it.Next() {
		return 0
	}
	lc.to(int(it.Node().Raw.Offset))
	return lc.line
}

// Unknown returns the keys of lines that name no field of the struct type
// t, in the order of their lines, leaving out the keys under an unknown
// table. Fields are named by their toml tag (the field's name without
// one), untagged embedded structs are flattened, slices of structs are
// indexed ("attack[2].at"), and a map or a value that decodes itself
// (encoding.TextUnmarshaler) holds no keys that can be checked: the
// decoder knows them all.
func Unknown(lines map[string]Key, t reflect.Type) []string {
	unknown := make(map[string]bool)
	ix := make(fieldIndex)
	for key := range lines {
		if !ix.known(t, strings.Split(key, ".")) {
			unknown[key] = true
		}
	}
	var out []string
	for key := range unknown {
		if !underAny(unknown, key) {
			out = append(out, key)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if d := lines[a].Line - lines[b].Line; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// underAny reports whether key lies under one of the keys of set: a table
// that is unknown says it all about the keys under it.
func underAny(set map[string]bool, key string) bool {
	for i := range len(key) {
		if key[i] == '.' && set[key[:i]] {
			return true
		}
	}
	return false
}

// known reports whether the key made of parts names a field of t or a
// place under one whose keys are not checked.
func (ix fieldIndex) known(t reflect.Type, parts []string) bool {
	for i, part := range parts {
		name, index, indexed := strings.Cut(part, "[")
		f, ok := ix.field(t, name)
		if !ok {
			return false
		}
		ft := f.Type
		if indexed {
			if ft.Kind() != reflect.Slice || !strings.HasSuffix(index, "]") {
				return false
			}
			ft = ft.Elem()
		}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case i == len(parts)-1:
			return true
		case ft.Kind() == reflect.Map || reflect.PointerTo(ft).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()):
			return true // the decoder checks what is under it
		case ft.Kind() != reflect.Struct:
			return false // a key under a plain value
		}
		t = ft
	}
	return true
}

// fieldIndex maps the keys of each struct type met to its fields, built
// once per type: a struct may have thousands of fields (one per table of
// the document, for a loader that makes its type from the document).
type fieldIndex map[reflect.Type]*fields

type fields struct {
	tagged map[string]reflect.StructField // by toml tag
	named  map[string]reflect.StructField // untagged, by lower-case name
}

// field finds the field of struct type t that the key name decodes into.
func (ix fieldIndex) field(t reflect.Type, name string) (reflect.StructField, bool) {
	fs := ix[t]
	if fs == nil {
		fs = &fields{tagged: make(map[string]reflect.StructField), named: make(map[string]reflect.StructField)}
		fs.collect(t)
		ix[t] = fs
	}
	if f, ok := fs.tagged[name]; ok {
		return f, true
	}
	f, ok := fs.named[strings.ToLower(name)]
	return f, ok
}

// collect adds the fields of t, then those of its untagged embedded
// structs, flattened (exported or not, as the decoder does), where t's own
// do not already hold the key.
func (fs *fields) collect(t reflect.Type) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		switch {
		case tag == "-":
		case tag == "" && f.Anonymous && f.Type.Kind() == reflect.Struct:
			embedded = append(embedded, f.Type)
		case !f.IsExported():
		case tag != "":
			fs.tagged[tag] = f
		default:
			fs.named[strings.ToLower(f.Name)] = f
		}
	}
	for _, et := range embedded {
		inner := &fields{tagged: make(map[string]reflect.StructField), named: make(map[string]reflect.StructField)}
		inner.collect(et)
		for k, f := range inner.tagged {
			if _, ok := fs.tagged[k]; !ok {
				fs.tagged[k] = f
			}
		}
		for k, f := range inner.named {
			if _, ok := fs.named[k]; !ok {
				fs.named[k] = f
			}
		}
	}
}
