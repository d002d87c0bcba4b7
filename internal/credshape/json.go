package credshape

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// maxFieldNames and maxFieldName bound the field names a message lists: a
// secret is no place for thousands of fields, and an error no place for
// them.
const (
	maxFieldNames = 10
	maxFieldName  = 64
)

// FieldNames lists a JSON object's field names for an error, sorted and
// quoted, at most ten. A name may itself be a key ({"sk-…": "openai"}): one
// that looks like a credential is masked, and a long one cut.
func FieldNames[V any](obj map[string]V) string {
	names := slices.Sorted(maps.Keys(obj))
	shown := names[:min(len(names), maxFieldNames)]
	quoted := make([]string, 0, len(shown)+1)
	for _, n := range shown {
		n = Mask(n)
		if len(n) > maxFieldName {
			n = strings.ToValidUTF8(n[:maxFieldName], "") + "…"
		}
		quoted = append(quoted, strconv.Quote(n))
	}
	if more := len(names) - len(shown); more > 0 {
		quoted = append(quoted, fmt.Sprintf("and %d more", more))
	}
	return strings.Join(quoted, ", ")
}

// JSONDocument describes v when it is a JSON object or array rather than
// a credential ("a JSON object with fields \"anthropic\", \"openai\""), or
// returns "". Such a value is never a credential by itself: sent whole, a
// secret that holds several vendors' keys gives every one of them to one
// endpoint (issue 23, finding 4). A value that starts like one but does
// not parse is described too: it is the same mistake, mistyped.
func JSONDocument(v string) string {
	t := strings.TrimSpace(v)
	if t == "" || (t[0] != '{' && t[0] != '[') {
		return ""
	}
	if t[0] == '[' {
		if !json.Valid([]byte(t)) {
			return "what looks like a JSON array (it does not parse)"
		}
		return "a JSON array"
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(t), &obj); err != nil {
		return "what looks like a JSON object (it does not parse)"
	}
	if len(obj) == 0 {
		return "an empty JSON object"
	}
	return "a JSON object with fields " + FieldNames(obj)
}
