package config

import (
	"strconv"
	"strings"
)

// keyLines maps every key of a TOML document to the line it is written on,
// so that a problem found after decoding (a bad value, an unknown key) can
// point at it. The decoder keeps no positions of its own that it shares.
//
// Keys are dotted from the root: table headers ("spot.R_SYN"), keys
// ("spot.R_SYN.q"), the parts of dotted keys ("a.b" for "a.b.c = 1"), the
// keys of inline tables, and the elements of arrays of tables and of arrays
// of inline tables by index ("attack[2]", "attack[2].at"). The first place
// a key is written wins.
//
// doc must be a document the decoder accepted: this scanner follows the
// structure of TOML (strings, arrays, inline tables, comments) without
// checking it, in one pass.
func keyLines(doc string) map[string]int {
	s := &lineScanner{doc: doc, line: 1, lines: make(map[string]int), arrays: make(map[string]int)}
	s.document()
	return s.lines
}

type lineScanner struct {
	doc   string
	pos   int
	line  int
	lines map[string]int
	// arrays counts the elements of each array of tables seen, by its
	// resolved name ("attack", "a[0].b").
	arrays map[string]int
}

func (s *lineScanner) record(key string, line int) {
	if _, ok := s.lines[key]; !ok {
		s.lines[key] = line
	}
}

func (s *lineScanner) peek() byte {
	if s.pos < len(s.doc) {
		return s.doc[s.pos]
	}
	return 0
}

func (s *lineScanner) next() byte {
	c := s.peek()
	if s.pos < len(s.doc) {
		s.pos++
		if c == '\n' {
			s.line++
		}
	}
	return c
}

func (s *lineScanner) eof() bool { return s.pos >= len(s.doc) }

// skipSpace skips blanks, and newlines and comments when multiline is set.
func (s *lineScanner) skipSpace(multiline bool) {
	for !s.eof() {
		switch c := s.peek(); {
		case c == ' ' || c == '\t':
			s.next()
		case multiline && (c == '\n' || c == '\r'):
			s.next()
		case multiline && c == '#':
			s.skipComment()
		default:
			return
		}
	}
}

func (s *lineScanner) skipComment() {
	for !s.eof() && s.peek() != '\n' {
		s.next()
	}
}

func (s *lineScanner) document() {
	table := ""
	for {
		s.skipSpace(true)
		if s.eof() {
			return
		}
		line := s.line
		switch {
		case strings.HasPrefix(s.doc[s.pos:], "[["):
			s.pos += 2
			parts := s.key()
			s.skipTo(']')
			s.next()
			s.next()
			name := s.resolve(parts[:len(parts)-1])
			name = join(name, parts[len(parts)-1])
			table = name + "[" + strconv.Itoa(s.arrays[name]) + "]"
			s.arrays[name]++
			s.record(table, line)
		case s.peek() == '[':
			s.next()
			parts := s.key()
			s.skipTo(']')
			s.next()
			table = join(s.resolve(parts[:len(parts)-1]), parts[len(parts)-1])
			s.record(table, line)
		default:
			s.keyValue(table)
		}
		s.skipSpace(false)
		if s.peek() == '#' {
			s.skipComment()
		}
	}
}

// resolve names a header's parent tables, with the index of the last
// element of those that are arrays of tables.
func (s *lineScanner) resolve(parts []string) string {
	name := ""
	for _, p := range parts {
		name = join(name, p)
		if n := s.arrays[name]; n > 0 {
			name += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	return name
}

func join(table, key string) string {
	if table == "" {
		return key
	}
	return table + "." + key
}

// skipTo advances to the next c outside strings (the end of a header).
func (s *lineScanner) skipTo(c byte) {
	for !s.eof() && s.peek() != c && s.peek() != '\n' {
		s.next()
	}
}

// keyValue reads "key = value" under table.
func (s *lineScanner) keyValue(table string) {
	line := s.line
	parts := s.key()
	if len(parts) == 0 { // not a key: skip the line
		s.skipComment()
		return
	}
	name := table
	for _, p := range parts {
		name = join(name, p)
		s.record(name, line)
	}
	s.skipSpace(false)
	if s.peek() == '=' {
		s.next()
	}
	s.skipSpace(false)
	s.value(name)
}

// key reads a dotted key: bare, "basic" or 'literal' parts.
func (s *lineScanner) key() []string {
	var parts []string
	for {
		s.skipSpace(false)
		var part string
		switch c := s.peek(); {
		case c == '"':
			part = s.basicString()
		case c == '\'':
			part = s.literalString()
		case isBare(c):
			start := s.pos
			for !s.eof() && isBare(s.peek()) {
				s.next()
			}
			part = s.doc[start:s.pos]
		default:
			return parts
		}
		parts = append(parts, part)
		s.skipSpace(false)
		if s.peek() != '.' {
			return parts
		}
		s.next()
	}
}

func isBare(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

// value skips one value, recording the keys of the inline tables in it.
func (s *lineScanner) value(name string) {
	switch c := s.peek(); {
	case strings.HasPrefix(s.doc[s.pos:], `"""`):
		s.multilineString(`"""`, true)
	case strings.HasPrefix(s.doc[s.pos:], `'''`):
		s.multilineString(`'''`, false)
	case c == '"':
		s.basicString()
	case c == '\'':
		s.literalString()
	case c == '[':
		s.next()
		for i := 0; ; i++ {
			s.skipSpace(true)
			if s.eof() || s.peek() == ']' {
				s.next()
				return
			}
			elem := name + "[" + strconv.Itoa(i) + "]"
			if s.peek() == '{' {
				s.record(elem, s.line)
			}
			start := s.pos
			s.value(elem)
			s.skipSpace(true)
			if s.peek() == ',' {
				s.next()
			} else if s.pos == start && s.peek() != ']' {
				s.next() // not a value: make progress
			}
		}
	case c == '{':
		s.next()
		for {
			s.skipSpace(true)
			if s.eof() || s.peek() == '}' {
				s.next()
				return
			}
			start := s.pos
			s.keyValue(name)
			s.skipSpace(true)
			if s.peek() == ',' {
				s.next()
			} else if s.pos == start && s.peek() != '}' {
				s.next()
			}
		}
	default: // number, boolean, date: up to a separator
		for !s.eof() {
			switch s.peek() {
			case ',', ']', '}', '#', '\n', '\r':
				return
			}
			s.next()
		}
	}
}

// basicString reads a "string" and returns its text, escapes undone for
// the simple cases that matter in key names.
func (s *lineScanner) basicString() string {
	s.next()
	var b strings.Builder
	for !s.eof() {
		c := s.next()
		switch c {
		case '"', '\n':
			return b.String()
		case '\\':
			e := s.next()
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'e':
				b.WriteByte(0x1b)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				start := s.pos
				for range n {
					s.next()
				}
				if r, err := strconv.ParseUint(s.doc[start:s.pos], 16, 32); err == nil {
					b.WriteRune(rune(r))
				}
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (s *lineScanner) literalString() string {
	s.next()
	start := s.pos
	for !s.eof() && s.peek() != '\'' && s.peek() != '\n' {
		s.next()
	}
	text := s.doc[start:s.pos]
	s.next()
	return text
}

// multilineString skips a """ or ”' string, which may end with up to two
// more quotes than its delimiter.
func (s *lineScanner) multilineString(delim string, escapes bool) {
	s.pos += 3
	for !s.eof() {
		if escapes && s.peek() == '\\' {
			s.next()
			s.next()
			continue
		}
		if strings.HasPrefix(s.doc[s.pos:], delim) {
			s.pos += 3
			for i := 0; i < 2 && s.peek() == delim[0]; i++ {
				s.next()
			}
			return
		}
		s.next()
	}
}
