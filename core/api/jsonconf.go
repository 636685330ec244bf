package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// maxJSONDepth bounds the nesting of a JSON configuration: the real one is
// three levels deep.
const maxJSONDepth = 16

// jsonToTOML turns a JSON configuration into a TOML document for the
// Runner. The object may be nested like the TOML file ({"spot": {"q":
// 1e-4}}) or use dotted keys as the original netspot's API does
// ({"spot.q": 1e-4}), or mix both. Integers stay integers. Problems are
// ConfigErrors naming the key.
func jsonToTOML(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, ConfigErrors{{Message: "the body is not valid JSON: " + err.Error()}}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, ConfigErrors{{Message: "the body holds more than one JSON value"}}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, ConfigErrors{{Message: "the body must be a JSON object of sections and keys"}}
	}
	tree := make(map[string]any)
	if err := mergeJSON(tree, obj, nil, 0); err != nil {
		return nil, err
	}
	out, err := toml.Marshal(tree)
	if err != nil {
		return nil, ConfigErrors{{Message: "cannot convert to TOML: " + err.Error()}}
	}
	return out, nil
}

// mergeJSON copies the JSON object obj at path into tree, splitting dotted
// keys.
func mergeJSON(tree, obj map[string]any, path []string, depth int) error {
	if depth > maxJSONDepth {
		return ConfigErrors{{Key: strings.Join(path, "."), Message: "nested too deep"}}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same error for the same document
	for _, k := range keys {
		parts := strings.Split(k, ".")
		full := append(slices.Clone(path), parts...)
		key := strings.Join(full, ".")
		if slices.Contains(parts, "") {
			return ConfigErrors{{Key: key, Message: "empty key name"}}
		}
		// Walk down to the table that holds the last part.
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
				return ConfigErrors{{Key: strings.Join(append(slices.Clone(path), parts[:i+1]...), "."), Message: "given both as a value and as a section"}}
			}
		}
		last := parts[len(parts)-1]
		if sub, ok := obj[k].(map[string]any); ok {
			dst, isTable := t[last].(map[string]any)
			if _, exists := t[last]; exists && !isTable {
				return ConfigErrors{{Key: key, Message: "given both as a value and as a section"}}
			}
			if !isTable {
				dst = make(map[string]any)
				t[last] = dst
			}
			if err := mergeJSON(dst, sub, full, depth+1); err != nil {
				return err
			}
			continue
		}
		if _, exists := t[last]; exists {
			return ConfigErrors{{Key: key, Message: "given twice"}}
		}
		val, err := jsonValue(obj[k], key, depth)
		if err != nil {
			return err
		}
		t[last] = val
	}
	return nil
}

// jsonValue converts a JSON value for the TOML encoder.
func jsonValue(v any, key string, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, ConfigErrors{{Key: key, Message: "nested too deep"}}
	}
	switch x := v.(type) {
	case nil:
		return nil, ConfigErrors{{Key: key, Message: "null is not a value: leave the key out to keep its value"}}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, ConfigErrors{{Key: key, Message: fmt.Sprintf("number %s is out of range", x)}}
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
		if err := mergeJSON(t, x, strings.Split(key, "."), depth+1); err != nil {
			return nil, err
		}
		return t, nil
	}
	return v, nil // string, bool
}

// tomlToMap reads a TOML configuration for a JSON answer. Non-finite
// numbers (TOML has nan and inf, JSON has not) become null.
func tomlToMap(doc []byte) (map[string]any, error) {
	m := make(map[string]any)
	if err := toml.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	finite(m)
	return m, nil
}

func finite(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case map[string]any:
		for k, e := range x {
			x[k] = finite(e)
		}
	case []any:
		for i, e := range x {
			x[i] = finite(e)
		}
	}
	return v
}
