package config

import (
	"fmt"
	"strings"

	"github.com/byokcred/byokcred/endpoint"
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
	out, _, err := expand(s, lookup, 0)
	return out, err
}

// expandSpans is expandVars that also says which bytes of the result came
// from which variable, so that those parts can be shown as ${NAME} (a
// variable may hold a secret) wherever the value is printed.
func expandSpans(s string, lookup func(string) (string, bool)) (string, []endpoint.Span, error) {
	return expand(s, lookup, 0)
}

func expand(s string, lookup func(string) (string, bool), depth int) (string, []endpoint.Span, error) {
	if !strings.Contains(s, "$") {
		return s, nil, nil
	}
	// depth counts the ${...} around s: a ${ in s opens level depth+1.
	if depth >= maxNesting && strings.Contains(s, "${") {
		return "", nil, fmt.Errorf("${...} nested more than %d deep", maxNesting)
	}
	var spans []endpoint.Span
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
			return "", nil, fmt.Errorf("unterminated ${ at offset %d", i)
		}
		expr := s[i+2 : end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validVarName(name) {
			return "", nil, fmt.Errorf("invalid variable name %q in ${...}", name)
		}
		v, ok := lookup(name)
		switch {
		case hasDef && v == "":
			// Expanded only when used, as in the shell: an unset
			// variable in an unused default is no error.
			d, inner, err := expand(def, lookup, depth+1)
			if err != nil {
				return "", nil, err
			}
			for _, sp := range inner {
				spans = append(spans, endpoint.Span{Start: b.Len() + sp.Start, End: b.Len() + sp.End, Name: sp.Name})
			}
			if b.Len()+len(d) > MaxExpandedValue {
				return "", nil, fmt.Errorf("value would exceed %d bytes, the most a value may hold, once ${%s:-…} is expanded; check what the variables hold", MaxExpandedValue, name)
			}
			b.WriteString(d)
			i = end
			continue
		case !ok:
			return "", nil, unsetError{name}
		}
		if v != "" {
			spans = append(spans, endpoint.Span{Start: b.Len(), End: b.Len() + len(v), Name: name})
		}
		if b.Len()+len(v) > MaxExpandedValue {
			// Checked before the bytes are copied: a short value naming a
			// large variable many times must not cost gigabytes first.
			return "", nil, fmt.Errorf("value would exceed %d bytes, the most a value may hold, once ${%s} is expanded; check what the variable holds", MaxExpandedValue, name)
		}
		b.WriteString(v)
		i = end
	}
	return b.String(), spans, nil
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
