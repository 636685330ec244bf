package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Section is the part of a document that one package owns: [miner] for the
// miner, [exporter.mqtt] for the MQTT sink, the whole document for an
// evaluation scenario.
//
// Value points to the package's Config struct, holding the values that keys
// absent from the document keep (the defaults, or an earlier document's).
// Fields are named by their `toml` tag and described by their `comment`
// tag; an untagged embedded struct is flattened; a map field tagged
// `config:"rest"` takes the tables that no other field names (the
// [spot.<STAT>] tables); a field tagged `api:"..."` may not be changed by a
// Restricted document (see ForbiddenReason). If Value has a Validate() error
// method, it is called after decoding; the keys of the *FieldErrors it
// returns (joined with errors.Join for several) are relative to the section.
type Section struct {
	Key     string
	Value   any
	Comment string
}

// Validator is a section that checks its values.
type Validator interface{ Validate() error }

// Decode puts the document's values into the sections, then validates
// them. Every problem is reported, each at its key and line: wrong types,
// unknown keys (with the closest known one), values a section refuses. The
// result is nil or Problems. A key of the document that no section owns is
// unknown.
func (d *Document) Decode(sections ...Section) error {
	dec := &decoder{doc: d, used: make(map[string]bool)}
	for _, s := range sections {
		dec.section(s)
	}
	dec.unknownOutside(sections)
	return dec.problems.err()
}

// Validate checks the sections' values, as Decode does after decoding a
// document: problems name the key, without a file or a line.
func Validate(sections ...Section) error {
	return (&Document{root: map[string]any{}}).Decode(sections...)
}

type decoder struct {
	doc      *Document
	used     map[string]bool // keys that a section took, tables included
	problems Problems
	bad      map[string]bool // keys with a decoding problem
}

func (dec *decoder) problem(key string, err error) {
	dec.problems = append(dec.problems, &Problem{File: dec.doc.Name, Line: dec.doc.Line(key), Key: key, Err: err})
	if dec.bad == nil {
		dec.bad = make(map[string]bool)
	}
	dec.bad[key] = true
}

func (dec *decoder) section(s Section) {
	rv := reflect.ValueOf(s.Value)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("config: section %q: Value must point to a struct, not %T", s.Key, s.Value))
	}
	var tree any = dec.doc.root
	if s.Key != "" {
		parts := strings.Split(s.Key, ".")
		for i := range parts {
			dec.used[strings.Join(parts[:i+1], ".")] = true
		}
		tree, _ = dec.doc.lookup(s.Key)
	}
	if tree != nil {
		dec.value(rv.Elem(), tree, s.Key)
	}
	v, ok := s.Value.(Validator)
	if !ok {
		return
	}
	for _, fe := range fieldErrors(v.Validate()) {
		key := join(s.Key, fe.Key)
		if fe.Key == "" {
			key = s.Key
		}
		if dec.related(key) {
			continue // its value was not decoded: the decoding problem says why
		}
		dec.problems = append(dec.problems, &Problem{File: dec.doc.Name, Line: dec.doc.Line(key), Key: key, Err: fe.Err})
	}
}

// related reports whether a decoding problem concerns key: the key itself,
// a key under it (an entry of a list that was not decoded), or a table
// above it.
func (dec *decoder) related(key string) bool {
	for b := range dec.bad {
		if b == key || strings.HasPrefix(b, key+".") || strings.HasPrefix(b, key+"[") || strings.HasPrefix(key, b+".") {
			return true
		}
	}
	return false
}

// fieldErrors splits a validation error into its field errors; an error
// that names no key is kept with an empty key.
func fieldErrors(err error) []*FieldError {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*FieldError
		for _, e := range j.Unwrap() {
			out = append(out, fieldErrors(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return []*FieldError{{Err: err}}
}

// unknownOutside reports the keys that lie outside every section, at the
// highest level where they are unknown.
func (dec *decoder) unknownOutside(sections []Section) {
	if slices.ContainsFunc(sections, func(s Section) bool { return s.Key == "" }) {
		return // the document is a section: its keys were checked
	}
	var walk func(m map[string]any, prefix string)
	walk = func(m map[string]any, prefix string) {
		for _, k := range sortedKeys(m) {
			key := join(prefix, k)
			if !dec.used[key] {
				dec.unknown(key, siblings(sections, prefix))
				continue
			}
			if sub, ok := m[k].(map[string]any); ok && !isSection(sections, key) {
				walk(sub, key)
			}
		}
	}
	walk(dec.doc.root, "")
}

func isSection(sections []Section, key string) bool {
	return slices.ContainsFunc(sections, func(s Section) bool { return s.Key == key })
}

// siblings lists the names that sections define right under prefix.
func siblings(sections []Section, prefix string) []string {
	var names []string
	for _, s := range sections {
		rest, ok := strings.CutPrefix(s.Key, prefix)
		if prefix != "" {
			if !ok || !strings.HasPrefix(rest, ".") {
				continue
			}
			rest = rest[1:]
		}
		name, _, _ := strings.Cut(rest, ".")
		if name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

func (dec *decoder) unknown(key string, known []string) {
	name := key[strings.LastIndexAny(key, ".]")+1:]
	msg := "unknown key"
	if s := didYouMean(name, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	dec.problem(key, errors.New(msg))
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType    = reflect.TypeFor[Duration]()
	timeType        = reflect.TypeFor[time.Time]()
)

// value decodes v into rv; key names rv in problems. On a problem rv keeps
// its value.
func (dec *decoder) value(rv reflect.Value, v any, key string) {
	dec.used[key] = true
	if t, ok := v.(time.Time); ok && rv.Type() == timeType {
		rv.Set(reflect.ValueOf(t))
		return
	}
	if rv.CanAddr() && rv.Addr().Type().Implements(textUnmarshaler) {
		s, ok := v.(string)
		if !ok {
			if rv.Type() == durationType {
				dec.problem(key, fmt.Errorf(`expected a duration string with a unit, such as "1s" or "500ms", got %s`, describe(v)))
			} else {
				dec.problem(key, fmt.Errorf("expected a string, got %s", describe(v)))
			}
			return
		}
		tmp := reflect.New(rv.Type())
		if err := tmp.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			dec.problem(key, err)
			return
		}
		rv.Set(tmp.Elem())
		return
	}
	switch rv.Kind() {
	case reflect.Pointer:
		tmp := reflect.New(rv.Type().Elem())
		if !rv.IsNil() {
			tmp.Elem().Set(rv.Elem())
		}
		n := len(dec.problems)
		dec.value(tmp.Elem(), v, key)
		if len(dec.problems) == n {
			rv.Set(tmp)
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			dec.problem(key, fmt.Errorf("expected a table, got %s", describe(v)))
			return
		}
		dec.structure(rv, m, key)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			dec.problem(key, fmt.Errorf("expected a table, got %s", describe(v)))
			return
		}
		dec.mapping(rv, m, key)
	case reflect.Slice:
		dec.slice(rv, v, key)
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			dec.problem(key, fmt.Errorf("expected a string, got %s", describe(v)))
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			dec.problem(key, fmt.Errorf("expected true or false, got %s", describe(v)))
			return
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := v.(int64)
		if !ok {
			dec.problem(key, fmt.Errorf("expected an integer, got %s", describe(v)))
			return
		}
		if rv.OverflowInt(i) {
			dec.problem(key, fmt.Errorf("%d is out of range", i))
			return
		}
		rv.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := v.(int64)
		if !ok {
			dec.problem(key, fmt.Errorf("expected an integer, got %s", describe(v)))
			return
		}
		if i < 0 || rv.OverflowUint(uint64(i)) {
			dec.problem(key, fmt.Errorf("%d is out of range", i))
			return
		}
		rv.SetUint(uint64(i))
	case reflect.Float32, reflect.Float64:
		switch x := v.(type) {
		case float64:
			rv.SetFloat(x)
		case int64:
			rv.SetFloat(float64(x))
		default:
			dec.problem(key, fmt.Errorf("expected a number, got %s", describe(v)))
		}
	default:
		panic(fmt.Sprintf("config: %s: unsupported field type %s", key, rv.Type()))
	}
}

// structure decodes the keys of a table into the fields of a struct.
func (dec *decoder) structure(rv reflect.Value, m map[string]any, key string) {
	fields := fieldsOf(rv.Type())
	for _, k := range sortedKeys(m) {
		fkey := join(key, k)
		f, ok := fields.byName[k]
		if !ok {
			if secret, ok := fields.byName[strings.TrimSuffix(k, "_set")]; ok && secret.Tag.Get("api") == "secret" && dec.doc.Restricted {
				if _, isBool := m[k].(bool); isBool {
					dec.used[fkey] = true // ToMap's "<secret>_set", sent back: says nothing
					continue
				}
			}
			if fields.rest != nil {
				if _, isTable := m[k].(map[string]any); isTable {
					dec.restEntry(rv.FieldByIndex(fields.rest.Index), k, m[k], fkey)
					continue
				}
			}
			dec.unknown(fkey, fields.names)
			continue
		}
		fv := rv.FieldByIndex(f.Index)
		if dec.doc.Restricted {
			if why := ForbiddenReason(f); why != "" {
				dec.used[fkey] = true
				// The value in force, sent back, changes nothing; a secret
				// is never sent out, so one sent in is refused whatever it
				// is, or its answer would tell a guess right from wrong.
				if f.Tag.Get("api") == "secret" || !sameValue(fv, m[k]) {
					dec.problems = append(dec.problems, &Problem{File: dec.doc.Name, Line: dec.doc.Line(fkey), Key: fkey, Err: errors.New(why), Forbidden: true})
				}
				continue
			}
		}
		dec.value(fv, m[k], fkey)
	}
}

// restEntry decodes one table of a `config:"rest"` map.
func (dec *decoder) restEntry(mv reflect.Value, name string, v any, key string) {
	if mv.IsNil() {
		mv.Set(reflect.MakeMap(mv.Type()))
	}
	elem := reflect.New(mv.Type().Elem()).Elem()
	if old := mv.MapIndex(reflect.ValueOf(name)); old.IsValid() {
		elem.Set(old)
	}
	n := len(dec.problems)
	dec.value(elem, v, key)
	if len(dec.problems) == n {
		mv.SetMapIndex(reflect.ValueOf(name), elem)
	}
}

func (dec *decoder) mapping(rv reflect.Value, m map[string]any, key string) {
	if rv.Type().Key().Kind() != reflect.String {
		panic(fmt.Sprintf("config: %s: map keys must be strings", key))
	}
	out := reflect.MakeMapWithSize(rv.Type(), len(m))
	if !rv.IsNil() {
		iter := rv.MapRange()
		for iter.Next() {
			out.SetMapIndex(iter.Key(), iter.Value())
		}
	}
	n := len(dec.problems)
	for _, k := range sortedKeys(m) {
		elem := reflect.New(rv.Type().Elem()).Elem()
		if old := out.MapIndex(reflect.ValueOf(k)); old.IsValid() {
			elem.Set(old)
		}
		dec.value(elem, m[k], join(key, k))
		out.SetMapIndex(reflect.ValueOf(k).Convert(rv.Type().Key()), elem)
	}
	if len(dec.problems) == n {
		rv.Set(out)
	}
}

// slice decodes an array (or an array of tables) into a slice, which it
// replaces as a whole. A string given for a list of strings (from --set) is
// split at commas.
func (dec *decoder) slice(rv reflect.Value, v any, key string) {
	var elems []any
	switch x := v.(type) {
	case []any:
		elems = x
	case []map[string]any:
		for _, e := range x {
			elems = append(elems, e)
		}
	case string:
		if rv.Type().Elem().Kind() != reflect.String || dec.doc.lines != nil {
			dec.problem(key, fmt.Errorf("expected an array, got %s", describe(v)))
			return
		}
		for _, part := range strings.Split(x, ",") {
			if part = strings.TrimSpace(part); part != "" {
				elems = append(elems, part)
			}
		}
	default:
		dec.problem(key, fmt.Errorf("expected an array, got %s", describe(v)))
		return
	}
	out := reflect.MakeSlice(rv.Type(), len(elems), len(elems))
	n := len(dec.problems)
	for i, e := range elems {
		dec.value(out.Index(i), e, key+"["+strconv.Itoa(i)+"]")
	}
	if len(dec.problems) == n {
		rv.Set(out)
	}
}

// describe names the kind of a decoded value for a problem.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return "the string " + strconv.Quote(x)
	case int64:
		return "the integer " + strconv.FormatInt(x, 10)
	case float64:
		return "the number " + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		return "a table"
	case []any, []map[string]any:
		return "an array"
	case time.Time:
		return "a date"
	}
	return fmt.Sprintf("a %T", v)
}

// fieldSet is how the keys of a table map to the fields of a struct type.
type fieldSet struct {
	byName map[string]reflect.StructField
	names  []string             // in declaration order, for suggestions and rendering
	rest   *reflect.StructField // the `config:"rest"` map, if any
}

// fieldsOf lists the fields of struct type t by key name, flattening
// untagged embedded structs (t's own fields win over theirs).
func fieldsOf(t reflect.Type) fieldSet {
	fs := fieldSet{byName: make(map[string]reflect.StructField)}
	fs.collect(t, nil)
	return fs
}

func (fs *fieldSet) collect(t reflect.Type, index []int) {
	var embedded []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		f.Index = append(slices.Clone(index), i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		switch {
		case f.Tag.Get("config") == "rest":
			fs.rest = &f
		case tag == "-" || !f.IsExported() && !f.Anonymous:
		case tag == "" && f.Anonymous && f.Type.Kind() == reflect.Struct:
			embedded = append(embedded, f)
		default:
			name := tag
			if name == "" {
				name = f.Name
			}
			if _, dup := fs.byName[name]; !dup {
				fs.byName[name] = f
				fs.names = append(fs.names, name)
			}
		}
	}
	for _, f := range embedded {
		fs.collect(f.Type, f.Index)
	}
}

// ForbiddenReason says why a Restricted document may not change field f,
// from its `api` tag: "" when it may.
func ForbiddenReason(f reflect.StructField) string {
	switch f.Tag.Get("api") {
	case "":
		return ""
	case "path":
		return "a file path: edit the config file over SSH"
	case "secret", "credential":
		return "a credential: edit the config file over SSH"
	case "hardware":
		return "the board's wiring: edit the config file over SSH"
	case "endpoint":
		return "where netspot connects or listens: edit the config file over SSH"
	case "serve":
		return "applies when netspot serve starts: edit the config file over SSH and restart it"
	default:
		return "read-only through the API: edit the config file over SSH"
	}
}

// sameValue reports whether decoding v would leave rv as it is, so that a
// document that sends a forbidden key back unchanged (the whole
// configuration read, edited and sent back) is accepted.
func sameValue(rv reflect.Value, v any) bool {
	tmp := reflect.New(rv.Type()).Elem()
	dec := &decoder{doc: &Document{}, used: make(map[string]bool)}
	dec.value(tmp, v, "")
	return len(dec.problems) == 0 && reflect.DeepEqual(tmp.Interface(), rv.Interface())
}

// CopyRestricted copies the values of the fields tagged `api:"..."` from
// the sections of src to those of dst with the same keys: what a
// configuration replaced through the API keeps from the file.
func CopyRestricted(dst, src []Section) {
	for _, d := range dst {
		for _, s := range src {
			if s.Key == d.Key && reflect.TypeOf(s.Value) == reflect.TypeOf(d.Value) {
				copyRestricted(reflect.ValueOf(d.Value).Elem(), reflect.ValueOf(s.Value).Elem())
			}
		}
	}
}

func copyRestricted(dst, src reflect.Value) {
	fs := fieldsOf(dst.Type())
	for _, name := range fs.names {
		f := fs.byName[name]
		switch {
		case f.Tag.Get("api") != "":
			dst.FieldByIndex(f.Index).Set(src.FieldByIndex(f.Index))
		case isTable(dst.FieldByIndex(f.Index)):
			copyRestricted(dst.FieldByIndex(f.Index), src.FieldByIndex(f.Index))
		}
	}
}
