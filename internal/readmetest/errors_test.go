package readmetest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byokcred/byokcred/internal/cli"
)

// TestDocumentedErrors: each problem the README says byokcred reports (the
// quote, which must stay in the README) is reported by the scenario it
// describes, with the words a user would search for.
func TestDocumentedErrors(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := strings.Join(strings.Fields(string(b)), " ") // quotes may wrap lines
	example, err := filepath.Abs(filepath.Join(root, "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const provider = "providers:\n  p:\n    type: openai\n    base_url: https://api.example.com/v1\n    model: m\n"
	tests := []struct {
		quote  string // in the README
		config string // "" for config.example.yaml
		args   []string
		env    map[string]string
		code   int
		want   string // in the output
	}{
		{quote: "an unknown key is an error that lists the known keys (and suggests the closest)",
			config: provider + "    auth: {type: static, api_key_evn: K}\n", args: []string{"validate"}, code: 2,
			want: `:6:26: providers.p.auth.api_key_evn: unknown key "api_key_evn"; did you mean "api_key_env"? (known keys: api_key, api_key_env,`},
		{quote: "and so is a misspelled value of a closed set (`credential: azure_cl`)",
			config: provider + "    auth: {type: entra, credential: azure_cl}\n", args: []string{"validate", "--offline"}, code: 2,
			want: `providers.p.auth.credential: unknown credential "azure_cl"; did you mean "azure_cli"?`},
		{quote: "`${VAR}` with `VAR` unset is an error naming the variable and the line",
			config: strings.Replace(provider, "api.example.com", "${README_UNSET_HOST}", 1) + "    auth: {type: static, api_key: k}\n", args: []string{"validate"}, code: 2,
			want: ":4:15: providers.p.base_url: environment variable README_UNSET_HOST is not set"},
		{quote: "Anywhere else a `${` is an error at its position naming the key",
			config: provider + "    wire_api: ${API}\n    auth: {type: static, api_key: k}\n", args: []string{"validate"}, env: map[string]string{"API": "responses"}, code: 2,
			want: ":6:15: providers.p.wire_api: wire_api does not expand ${…}"},
		{quote: "A file holds one YAML document: a second one (after `---`) is an error.",
			config: provider + "    auth: {type: static, api_key: k}\n---\nproviders: {}\n", args: []string{"validate"}, code: 2,
			want: ":7:1: a second YAML document starts here (---)"},
		{quote: "A YAML syntax error is reported at its own line.",
			config: "providers:\n  p:\n    type: openai\n    base_url: https://x\n   model: m\n", args: []string{"validate"}, code: 2,
			want: ":5:4: did not find expected key"},
		{quote: "refused with the part to remove",
			config: strings.Replace(provider, "/v1", "/v1/chat/completions", 1) + "    auth: {type: static, api_key: k}\n", args: []string{"validate"}, code: 2,
			want: "remove /chat/completions from base_url"},
		{quote: "`validate` warns (exit 0) when `base_url` has a path there",
			config: "providers:\n  az:\n    type: azure\n    base_url: https://res.openai.azure.com/team\n    model: m\n    auth: {type: static, api_key: k}\n", args: []string{"validate"}, code: 0,
			want: "byokcred: warning: "},
		{quote: "`config.example.yaml` passes it as it is",
			args: []string{"validate", "--offline"}, code: 0, want: "OK (7 providers"},
		{quote: "they read no secret and reach no identity endpoint",
			args: []string{"providers"}, code: 0, want: "foundry (default)"},
		{quote: "and name on stderr each value this environment does not resolve",
			args: []string{"models"}, code: 0, want: "providers.openai.auth.api_key_env: environment variable OPENAI_API_KEY is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.quote, func(t *testing.T) {
			if !strings.Contains(readme, tc.quote) {
				t.Fatalf("README.md no longer says %q: update this table with it", tc.quote)
			}
			path := example
			if tc.config != "" {
				path = filepath.Join(t.TempDir(), "byokcred.yaml")
				if err := os.WriteFile(path, []byte(tc.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var out, errb bytes.Buffer
			code := cli.Run(context.Background(), append([]string{"-c", path}, tc.args...), cli.Env{Stdout: &out, Stderr: &errb,
				LookupEnv: func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }})
			if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Errorf("byokcred %s: exit %d (want %d), want %q in\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), code, tc.code, tc.want, out.String(), errb.String())
			}
		})
	}
}
