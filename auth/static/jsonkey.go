package static

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/byokcred/byokcred/internal/credshape"
	"github.com/byokcred/byokcred/provider"
)

// jsonField returns the string field key of v, a JSON object. Errors name
// the field and, when it is missing, the fields there are — never a value.
func jsonField(v provider.Secret, key string) (provider.Secret, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v.Reveal()), &obj); err != nil || obj == nil {
		return provider.Secret{}, fmt.Errorf("json_key %s: the secret is not a JSON object", key)
	}
	raw, ok := obj[key]
	if !ok {
		if len(obj) == 0 {
			return provider.Secret{}, fmt.Errorf("json_key %s: the secret's JSON object has no fields", key)
		}
		return provider.Secret{}, fmt.Errorf("json_key %s: the secret's JSON object has no field %q (it has %s)", key, key, fieldNames(obj))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return provider.Secret{}, fmt.Errorf("json_key %s: field %q is not a string", key, key)
	}
	return provider.NewSecret(s), nil
}

// maxFieldNames and maxFieldName bound the field names an error lists: a
// secret is no place for thousands of fields, and an error no place for them.
const (
	maxFieldNames = 10
	maxFieldName  = 64
)

// fieldNames lists obj's field names for an error, sorted and quoted. A
// name may itself be a key ({"sk-…": "openai"}): one that looks like a
// credential is masked, and a long one cut.
func fieldNames(obj map[string]json.RawMessage) string {
	names := slices.Sorted(maps.Keys(obj))
	shown := names[:min(len(names), maxFieldNames)]
	quoted := make([]string, 0, len(shown)+1)
	for _, n := range shown {
		n = credshape.Mask(n)
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

// jsonDocument describes v when it is a JSON object or array rather than
// a key ("a JSON object with fields \"anthropic\", \"openai\""), or returns
// "". Such a value is never a credential by itself: sent whole, a secret
// that holds several vendors' keys gives every one of them to the one
// endpoint (issue 23, finding 4). A value that starts like one but does not
// parse is refused too: it is the same mistake, mistyped.
func jsonDocument(v string) string {
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
	return "a JSON object with fields " + fieldNames(obj)
}
