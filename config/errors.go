package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Pos is a position in a config file (1-based).
type Pos struct {
	Line, Col int
}

// Error is one problem in a config file. Its text is FILE:LINE:COL: message,
// the form editors and CI annotators recognise.
type Error struct {
	File string
	Pos  Pos
	// Path is the dotted key path, e.g. providers.openai.base_url.
	Path string
	Msg  string
	// Environment marks a problem of the machine, not of the file: an
	// unset environment variable, a missing or loose file, a plugin binary
	// not found. `byokcred validate --offline` (CI without production
	// secrets) skips these.
	Environment bool
	// Err is the error the problem was made from, when it wrapped one
	// (Doc.Errorf's %w), so that errors.Is and errors.As find a sentinel
	// through the list (registry.ErrNeedsUser); nil otherwise. Print
	// Error(), not Err: Msg is the text with values from the environment
	// shown as ${NAME}.
	Err error
}

func (e *Error) Error() string {
	loc := printablePath(e.File)
	if e.Pos.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", loc, e.Pos.Line, e.Pos.Col)
	}
	if e.Path != "" {
		return fmt.Sprintf("%s: %s: %s", loc, printablePath(e.Path), e.Msg)
	}
	return fmt.Sprintf("%s: %s", loc, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

// printablePath quotes a key path (or the file's path) that holds a
// control character: a key may be any YAML string, and a raw newline or
// carriage return in it would break the one-line-per-problem output (and
// could rewrite a terminal line).
func printablePath(p string) string {
	if strings.ContainsFunc(p, unicode.IsControl) {
		return strconv.Quote(p)
	}
	return p
}

// ErrorList is every problem found in one file, in file order. Loading never
// stops at the first problem: a user fixing a config wants the whole list.
type ErrorList []*Error

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// Sort orders the list by position.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// MissingKeyError is the problem of a block that lacks a key it needs, kept
// as the Err of its Error, so that a program that builds the same values in
// code (registry.NewProvider) can name its own field instead of the file's
// key without reading the message.
type MissingKeyError struct {
	Key string
	// Hint follows the key in the message: what the key holds (": the
	// plugin binary") or its choices (" (one of: …)"); it may be "".
	Hint string
}

func (e *MissingKeyError) Error() string { return "missing key " + strconv.Quote(e.Key) + e.Hint }
