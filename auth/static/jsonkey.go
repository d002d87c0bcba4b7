package static

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

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
		fields := slices.Sorted(maps.Keys(obj))
		for i, f := range fields {
			fields[i] = fmt.Sprintf("%q", f)
		}
		if len(fields) == 0 {
			return provider.Secret{}, fmt.Errorf("json_key %s: the secret's JSON object has no fields", key)
		}
		return provider.Secret{}, fmt.Errorf("json_key %s: the secret's JSON object has no field %q (it has %s)", key, key, strings.Join(fields, ", "))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return provider.Secret{}, fmt.Errorf("json_key %s: field %q is not a string", key, key)
	}
	return provider.NewSecret(s), nil
}
