package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// validate --offline is the CI lint: structure and references, no
// secrets, files or plugin binaries needed; the default validate checks
// the machine too, a missing plugin binary at its command: position.
func TestValidateOffline(t *testing.T) {
	example, err := filepath.Abs("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plugin := writeFile(t, "byokcred.yaml", `plugins:
  vault: {command: ./bin/no-such-plugin}
providers:
  gw:
    type: openai
    base_url: https://gw.example/v1
    model: m
    auth: {type: plugin, plugin: vault}
`)
	typo := writeFile(t, "byokcred.yaml", `providers:
  p:
    type: openai
    base_url: ${UNSET_HOST}/v1
    model: m
    auth: {type: static, api_key_evn: K}
`)
	tests := []struct {
		name string
		args []string
		want result
	}{
		{"example offline", []string{"validate", "--offline", "-c", example}, result{0, example + ": OK (7 providers: anthropic, azure-deployment, foundry, gateway, openai, openai-kv, vault-gateway, offline: environment not checked)\n", ""}},
		{"missing plugin binary", []string{"validate", "-c", plugin}, result{2, "", "byokcred: " + plugin + ":2:20: plugins.vault.command: plugin binary " + filepath.Join(filepath.Dir(plugin), "bin/no-such-plugin") + " does not exist; build or install it, or fix the path\n"}},
		{"missing plugin binary offline", []string{"validate", "--offline", "-c", plugin}, result{0, plugin + ": OK (1 provider: gw, offline: environment not checked)\n", ""}},
		{"structure still checked offline", []string{"validate", "--offline", "-c", typo}, result{2, "", "byokcred: " + typo + `:6:26: providers.p.auth.api_key_evn: unknown key "api_key_evn"; did you mean "api_key_env"? (known keys: api_key, api_key_env, api_key_file, api_key_secret, bearer_token, bearer_token_env, bearer_token_file, bearer_token_secret)` + "\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, nil, tc.args...)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Without --offline the example needs the real environment.
	if got := run(t, nil, "validate", "-c", example); got.code != 2 || !strings.Contains(got.stderr, "environment variable OPENAI_API_KEY is not set") {
		t.Errorf("validate without --offline: %+v", got)
	}
}
