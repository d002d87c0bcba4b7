package static

import (
	"encoding/json"
	"fmt"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/credshape"
)

// jsonField returns the string field key of v, a JSON object. Errors name
// the field and, when it is missing, the fields there are — never a value.
func jsonField(v credential.Secret, key string) (credential.Secret, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v.Reveal()), &obj); err != nil || obj == nil {
		return credential.Secret{}, fmt.Errorf("json_key %s: the secret is not a JSON object", key)
	}
	raw, ok := obj[key]
	if !ok {
		if len(obj) == 0 {
			return credential.Secret{}, fmt.Errorf("json_key %s: the secret's JSON object has no fields", key)
		}
		return credential.Secret{}, fmt.Errorf("json_key %s: the secret's JSON object has no field %q (it has %s)", key, key, credshape.FieldNames(obj))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return credential.Secret{}, fmt.Errorf("json_key %s: field %q is not a string", key, key)
	}
	return credential.NewSecret(s), nil
}
