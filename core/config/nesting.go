package config

import (
	"bytes"
	"fmt"
)

// tooDeep reports the line at which a TOML document's arrays and inline
// tables nest more than maxDepth deep, or 0. It runs before the parser,
// whose time and memory grow with the square of the nesting: 80 KB of
// nested inline tables took tens of gigabytes. Brackets in strings and
// comments do not count; a table header counts as one or two levels.
func tooDeep(data []byte) int {
	depth, line := 0, 1
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case '\n':
			line++
		case '#':
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			i, line = skipString(data, i, line)
		case '[', '{':
			if depth++; depth > maxDepth {
				return line
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	return 0
}

// skipString returns the index of the last byte of the string that opens
// at data[i] (basic or literal, on one line or several), and the line it
// ends on. An unterminated string ends the document: the parser reports it.
func skipString(data []byte, i, line int) (int, int) {
	q := data[i]
	multi := bytes.HasPrefix(data[i:], []byte{q, q, q})
	j := i + 1
	if multi {
		j = i + 3
	}
	for ; j < len(data); j++ {
		switch data[j] {
		case '\\':
			if q == '"' {
				if j+1 < len(data) && data[j+1] == '\n' {
					line++
				}
				j++ // the escaped byte
			}
		case '\n':
			if !multi {
				return j - 1, line // the parser reports the newline
			}
			line++
		case q:
			if !multi {
				return j, line
			}
			if bytes.HasPrefix(data[j:], []byte{q, q, q}) {
				// Up to two quotes may end the content before the closing three.
				for j+3 < len(data) && data[j+3] == q {
					j++
				}
				return j + 2, line
			}
		}
	}
	return len(data), line
}

// nestingProblem is the problem of a document nested too deep.
func nestingProblem(name string, line int) *Problem {
	return &Problem{File: name, Line: line, Err: fmt.Errorf("arrays or inline tables nested more than %d deep: not a configuration", maxDepth)}
}
