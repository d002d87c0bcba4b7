package registry_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/registry"
)

// A problem is reported once, at its cause: no "missing key" after the
// misspelt key meant to be it, no "needs one of" after an unset ${VAR}.
func TestFollowOnErrorsAreSuppressed(t *testing.T) {
	const head = "providers:\n  p:\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"misspelt base_url", head + "    type: openai\n    base-url: https://a.example/v1\n    model: m\n    auth: {type: static, api_key: k}\n", []string{
			`c.yaml:4:5: providers.p.base-url: unknown key "base-url"; did you mean "base_url"? (known keys: api_version, auth, base_url, headers, model, type, wire_api, wire_model)`,
		}},
		{"misspelt model and type", head + "    typ: openai\n    base_url: https://a.example/v1\n    modle: m\n    auth: {type: static, api_key: k}\n", []string{
			`c.yaml:3:5: providers.p.typ: unknown key "typ"; did you mean "type"? (known keys: api_version, auth, base_url, headers, model, type, wire_api, wire_model)`,
			`c.yaml:5:5: providers.p.modle: unknown key "modle"; did you mean "model"? (known keys: api_version, auth, base_url, headers, model, type, wire_api, wire_model)`,
		}},
		{"api_key from an unset variable", head + "    type: openai\n    base_url: https://a.example/v1\n    model: m\n    auth: {type: static, api_key: \"${UNSET_KEY}\"}\n", []string{
			`c.yaml:6:35: providers.p.auth.api_key: environment variable UNSET_KEY is not set; export it or use ${UNSET_KEY:-default}`,
		}},
		{"misspelt api_key_env", head + "    type: openai\n    base_url: https://a.example/v1\n    model: m\n    auth: {type: static, api_key_evn: K}\n", []string{
			`c.yaml:6:26: providers.p.auth.api_key_evn: unknown key "api_key_evn"; did you mean "api_key_env"? (known keys: api_key, api_key_env, api_key_file, api_key_secret, bearer_token, bearer_token_env, bearer_token_file, bearer_token_secret)`,
		}},
		{"nothing set is still reported", head + "    type: openai\n    base_url: https://a.example/v1\n    model: m\n    auth: {type: static}\n", []string{
			`c.yaml:6:5: providers.p.auth: static auth needs one of api_key, api_key_env, api_key_file, api_key_secret, bearer_token, bearer_token_env, bearer_token_file, bearer_token_secret`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := configtest.Write(t, tc.src)
			_, err := registry.Load(path, registry.Options{LookupEnv: func(string) (string, bool) { return "", false }})
			if err == nil {
				t.Fatal("want errors")
			}
			got := strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
