package spec

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a spec file: where it is and why.
type Problem struct {
	// File is the spec file, as it was given.
	File string
	// Pointer is the JSON pointer (RFC 6901) of the offending node; "" is the whole file.
	Pointer string
	// Reason says what is wrong, for a person.
	Reason string
}

// String formats the problem as "file#/pointer: reason".
func (p Problem) String() string {
	return fmt.Sprintf("%s#%s: %s", p.File, p.Pointer, p.Reason)
}

// Problems is every problem found in one pass; it is an error when not empty.
type Problems []Problem

// Error lists the problems, one a line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects problems of one file.
type problems struct {
	file string
	list Problems
}

func (ps *problems) add(pointer, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: ps.file, Pointer: pointer, Reason: fmt.Sprintf(format, args...)})
}

// pointer appends reference tokens to a JSON pointer, escaping each (RFC 6901).
func pointer(base string, tokens ...string) string {
	var b strings.Builder
	b.WriteString(base)
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

// unescapeToken reverses the escaping of one JSON pointer token.
func unescapeToken(t string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(t)
}
