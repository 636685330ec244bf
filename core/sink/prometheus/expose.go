package prometheus

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The text exposition format, written by hand: it is a few lines per metric
// family and needs no library
// (https://prometheus.io/docs/instrumenting/exposition_formats/).

// ContentType is the type of the /metrics response.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// family writes the # HELP and # TYPE lines of a metric family.
func family(b []byte, name, typ, help string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = appendHelp(b, help)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	return append(b, '\n')
}

// label is one name="value" pair.
type label struct{ name, value string }

// sample writes one sample line: name{labels} value.
func sample(b []byte, name string, value float64, labels ...label) []byte {
	b = append(b, name...)
	if len(labels) > 0 {
		b = append(b, '{')
		for i, l := range labels {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, l.name...)
			b = append(b, '=', '"')
			b = appendLabelValue(b, l.value)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendValue(b, value)
	return append(b, '\n')
}

func appendValue(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendLabelValue escapes a label value: backslash, double quote and line
// feed; invalid UTF-8 becomes U+FFFD.
func appendLabelValue(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendHelp escapes a HELP text: backslash and line feed.
func appendHelp(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}
