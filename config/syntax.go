package config

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxSyntaxScan and maxSyntaxBytes bound the search for a syntax error's
// line: each step is a parse of the file so far, and a hostile file must
// not cost more than a few parses of the largest file.
const (
	maxSyntaxScan  = 400
	maxSyntaxBytes = 4 * MaxFileSize
)

// syntaxError turns a YAML syntax error into a problem at its own line.
// yaml.v3 names the line where the enclosing block starts ("line 1: did
// not find expected key" for an indentation slip on line 5), so the line is
// found again: the first line at which the file read so far fails with
// the same message, from the line yaml.v3 names onward. Its column is the
// line's first non-blank character.
func syntaxError(file string, data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	context := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		context, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if context == 0 {
		return ErrorList{{File: file, Msg: msg}}
	}
	line := context
	if l, ok := failingLine(data, err.Error(), context); ok {
		line = l
	}
	if line != context {
		msg += " (in the block that starts on line " + strconv.Itoa(context) + ")"
	}
	return ErrorList{{File: file, Pos: Pos{Line: line, Col: firstColumn(data, line)}, Msg: msg}}
}

// failingLine returns the first line from `from` at which data, cut after
// that line, fails to parse with the error text want.
func failingLine(data []byte, want string, from int) (int, bool) {
	ends := lineEnds(data)
	parsed := 0
	for l := from; l <= len(ends) && l < from+maxSyntaxScan && parsed <= maxSyntaxBytes; l++ {
		parsed += ends[l-1]
		if err := parseAll(data[:ends[l-1]]); err != nil {
			if err.Error() == want {
				return l, true
			}
		}
	}
	return 0, false
}

// lineEnds returns the offset just past each line of data.
func lineEnds(data []byte) []int {
	var ends []int
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		ends = append(ends, len(data))
	}
	return ends
}

// parseAll parses every document of data, returning the first error.
func parseAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// firstColumn returns the 1-based column of line's first character that is
// not a space (1 for a blank line): a tab there is the problem itself.
func firstColumn(data []byte, line int) int {
	ends := lineEnds(data)
	if line < 1 || line > len(ends) {
		return 1
	}
	start := 0
	if line > 1 {
		start = ends[line-2]
	}
	text := string(data[start:ends[line-1]])
	col := 1
	for _, r := range text {
		if r != ' ' {
			return col
		}
		col++
	}
	return 1
}
