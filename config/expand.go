package config

import (
	"fmt"
	"strings"
)

// maxNesting bounds ${A:-${B:-${C}}} chains: enough for any real fallback
// list, and a bound on the work a hostile value can cause.
const maxNesting = 8

// expandVars replaces ${VAR} and ${VAR:-default} in s. `$$` is a literal `$`; a
// `$` not followed by `{` or `$` is kept as it is. With `:-` the default is
// used when VAR is unset or empty, as in the shell, and the default is itself
// expanded, so ${A:-${B}} falls back to B (up to 8 levels deep). Values of
// variables are never expanded again.
//
// Errors name the variable, never its value.
func expandVars(s string, lookup func(string) (string, bool)) (string, error) {
	return expand(s, lookup, 0)
}

func expand(s string, lookup func(string) (string, bool), depth int) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	if depth > maxNesting {
		return "", fmt.Errorf("${...} nested more than %d deep", maxNesting)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte(c)
			continue
		}
		end := closingBrace(s, i+2)
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ at offset %d", i)
		}
		expr := s[i+2 : end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validVarName(name) {
			return "", fmt.Errorf("invalid variable name %q in ${...}", name)
		}
		v, ok := lookup(name)
		switch {
		case hasDef && v == "":
			// Expanded only when used, as in the shell: an unset
			// variable in an unused default is no error.
			d, err := expand(def, lookup, depth+1)
			if err != nil {
				return "", err
			}
			v = d
		case !ok:
			return "", unsetError{name}
		}
		b.WriteString(v)
		i = end
	}
	return b.String(), nil
}

// closingBrace returns the index of the `}` that closes a `${` whose body
// starts at from, skipping nested `${...}` and `$$`; -1 if there is none.
func closingBrace(s string, from int) int {
	open := 0
	for j := from; j < len(s); j++ {
		switch {
		case s[j] == '$' && j+1 < len(s) && s[j+1] == '$':
			j++
		case s[j] == '$' && j+1 < len(s) && s[j+1] == '{':
			open++
			j++
		case s[j] == '}':
			if open == 0 {
				return j
			}
			open--
		}
	}
	return -1
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// unsetError is a ${NAME} with NAME unset: a problem of the environment
// the file is read in, not of the file.
type unsetError struct{ name string }

func (e unsetError) Error() string {
	return fmt.Sprintf("environment variable %s is not set; export it or use ${%s:-default}", e.name, e.name)
}
