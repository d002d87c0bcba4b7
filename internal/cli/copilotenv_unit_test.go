package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/registry"
)

func TestCopilotEnvShapes(t *testing.T) {
	helper := []string{"/opt/by kcred/byokcred", "-c", "/etc/b.yaml", "credential", "--agent", "auto", "p"}
	const cmdLine = `'/opt/by kcred/byokcred' -c /etc/b.yaml credential --agent auto p`
	base := func(extra map[string]string) map[string]string {
		m := map[string]string{"COPILOT_PROVIDER_API_KEY_COMMAND": cmdLine, "COPILOT_MODEL": "gpt-4.1", "COPILOT_OFFLINE": "true"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name    string
		p       config.Provider
		models  []*config.Model
		kind    credential.Kind
		want    map[string]string
		wantErr string
	}{
		{name: "openai, key", p: config.Provider{Type: "openai", BaseURL: "https://api.example/v1", Model: "gpt-4.1", WireAPI: "responses"}, kind: credential.KindAPIKey,
			want: base(map[string]string{"COPILOT_PROVIDER_TYPE": "openai", "COPILOT_PROVIDER_BASE_URL": "https://api.example/v1", "COPILOT_PROVIDER_WIRE_API": "responses"})},
		{name: "azure, key: api-key header is right", p: config.Provider{Type: "azure", BaseURL: "https://r.openai.azure.com", Model: "gpt-4.1"}, kind: credential.KindAPIKey,
			want: base(map[string]string{"COPILOT_PROVIDER_TYPE": "azure", "COPILOT_PROVIDER_BASE_URL": "https://r.openai.azure.com"})},
		{name: "azure, key, api_version: deployment route", p: config.Provider{Type: "azure", BaseURL: "https://r.openai.azure.com", Model: "gpt-4.1", APIVersion: "2024-10-21", WireModel: "dep1"}, kind: credential.KindAPIKey,
			want: base(map[string]string{"COPILOT_PROVIDER_TYPE": "azure", "COPILOT_PROVIDER_BASE_URL": "https://r.openai.azure.com", "COPILOT_PROVIDER_AZURE_API_VERSION": "2024-10-21", "COPILOT_PROVIDER_WIRE_MODEL": "dep1"})},
		{name: "azure, Entra bearer: the OpenAI-compatible v1 route", p: config.Provider{Type: "azure", BaseURL: "https://r.openai.azure.com/", Model: "gpt-4.1"}, kind: credential.KindBearer,
			want: base(map[string]string{"COPILOT_PROVIDER_TYPE": "openai", "COPILOT_PROVIDER_BASE_URL": "https://r.openai.azure.com/openai/v1"})},
		{name: "azure, bearer, api_version dropped", p: config.Provider{Type: "azure", BaseURL: "https://r.openai.azure.com", Model: "gpt-4.1", APIVersion: "2024-10-21"}, kind: credential.KindBearer,
			want: base(map[string]string{"COPILOT_PROVIDER_TYPE": "openai", "COPILOT_PROVIDER_BASE_URL": "https://r.openai.azure.com/openai/v1"})},
		{name: "anthropic, key", p: config.Provider{Type: "anthropic", BaseURL: "https://api.anthropic.example", Model: "gpt-4.1"}, kind: credential.KindAPIKey,
			want: base(map[string]string{"COPILOT_PROVIDER_TYPE": "anthropic", "COPILOT_PROVIDER_BASE_URL": "https://api.anthropic.example"})},
		{name: "anthropic, bearer: refused with the way out", p: config.Provider{Type: "anthropic", BaseURL: "https://api.anthropic.example", Model: "gpt-4.1"}, kind: credential.KindBearer,
			wantErr: "copilot-env: provider p: the Copilot CLI sends the key command's output to anthropic providers as x-api-key, which a bearer token cannot use; run `byokcred proxy` and point the CLI at it instead"},
		{name: "model limits and headers", p: config.Provider{Type: "openai", BaseURL: "https://api.example/v1", Model: "gpt-4.1", Headers: map[string]string{"X-B": "2", "X-A": "1"}},
			models: []*config.Model{{ID: "gpt-4.1", Provider: "p", WireModel: "w", MaxPromptTokens: 1000, MaxOutputTokens: 200}, {ID: "other", Provider: "p", MaxOutputTokens: 7}}, kind: credential.KindAPIKey,
			want: base(map[string]string{"COPILOT_PROVIDER_TYPE": "openai", "COPILOT_PROVIDER_BASE_URL": "https://api.example/v1", "COPILOT_PROVIDER_WIRE_MODEL": "w",
				"COPILOT_PROVIDER_MAX_PROMPT_TOKENS": "1000", "COPILOT_PROVIDER_MAX_OUTPUT_TOKENS": "200", "COPILOT_PROVIDER_HEADERS": "X-A: 1\nX-B: 2"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			p.Name = "p"
			cfg := &config.Config{Providers: map[string]*config.Provider{"p": &p}, Models: tt.models}
			got, _, _, err := copilotEnv(&registry.Provider{Provider: &p}, cfg, tt.kind, helper)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestCopilotEnvEval evaluates copilot-env's output in sh: the values
// arrive intact (quotes, spaces, newlines), a header value that came from
// a variable is expanded by the shell and never printed, and leftovers of
// an earlier setting are unset.
func TestCopilotEnvEval(t *testing.T) {
	const gwKey = "CANARY-gw-key-'quoted' $notvar"
	dir := t.TempDir()
	cfg := writeFile(t, "it's.yaml", `providers:
  gw:
    type: openai
    base_url: https://gw.example/v1
    model: gpt-4.1
    headers:
      X-Gateway-Key: ${GW_KEY}
      X-Team: "a 'team' \"name\""
    auth:
      type: static
      api_key: ${GW_KEY}
`)
	vars := map[string]string{"GW_KEY": gwKey, "BYOKCRED_AGENT_SOCK": filepath.Join(dir, "none.sock")}
	var out, errb strings.Builder
	code := Run(context.Background(), []string{"-c", cfg, "copilot-env", "gw"}, Env{Stdout: &out, Stderr: &errb, LookupEnv: func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if strings.Contains(out.String(), "CANARY") {
		t.Fatalf("copilot-env printed a secret:\n%s", out.String())
	}
	script := out.String() + `
for v in COPILOT_PROVIDER_TYPE COPILOT_PROVIDER_BASE_URL COPILOT_PROVIDER_HEADERS COPILOT_MODEL COPILOT_OFFLINE COPILOT_PROVIDER_API_KEY_COMMAND; do
  printf '%s=%s\n--\n' "$v" "$(printenv "$v")"
done
printf 'leftover=%s\n' "${COPILOT_PROVIDER_API_KEY-unset}"`
	sh := exec.Command("sh", "-c", script)
	sh.Env = []string{"GW_KEY=" + gwKey, "COPILOT_PROVIDER_API_KEY=old", "PATH=/usr/bin:/bin"}
	got, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, got)
	}
	self, _ := filepath.EvalSymlinks(mustExecutable(t))
	want := "COPILOT_PROVIDER_TYPE=openai\n--\n" +
		"COPILOT_PROVIDER_BASE_URL=https://gw.example/v1\n--\n" +
		"COPILOT_PROVIDER_HEADERS=X-Gateway-Key: " + gwKey + "\nX-Team: a 'team' \"name\"\n--\n" +
		"COPILOT_MODEL=gpt-4.1\n--\n" +
		"COPILOT_OFFLINE=true\n--\n" +
		"COPILOT_PROVIDER_API_KEY_COMMAND=" + shellWord(self) + " -c " + shellWord(cfg) + " credential --agent auto gw\n--\n" +
		"leftover=unset\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s\nscript:\n%s", diff, script)
	}
}

func mustExecutable(t *testing.T) string {
	t.Helper()
	p, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCopilotEnvRefusesPerUserProviders: the Copilot CLI runs the key
// command for nobody, so copilot-env refuses a provider that acts on behalf
// of each user (entra on_behalf_of, a plugin's per_user) at its auth block,
// from the config alone, and says which commands can act for a user; a
// per-user provider elsewhere in the file does not stop another's exports.
func TestCopilotEnvRefusesPerUserProviders(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	cfg := writeFile(t, "byokcred.yaml", `plugins:
  exchanger: {command: /bin/true}
providers:
  obo:
    type: openai
    base_url: https://obo.example
    model: m
    auth: {type: entra, credential: on_behalf_of, tenant_id: contoso, client_id: app, client_secret_env: APP_SECRET, scope: 'https://obo.example/.default'}
  exchanged:
    type: openai
    base_url: https://gw.example
    model: m
    auth: {type: plugin, plugin: exchanger, per_user: true}
  plain:
    type: openai
    base_url: https://api.example
    model: m
    auth: {type: static, api_key_env: KEY}
`)
	const refusal = ": this credential acts on behalf of each user, and this program has no user to supply: the Copilot CLI runs its key command for nobody\n" +
		"byokcred: byokcred chat --user-token-env NAME acts for the user whose access token is in $NAME; byokcred proxy acts for each client's user\n"
	tests := []struct {
		name     string
		provider string
		wantCode int
		wantErr  string
	}{
		{"entra on_behalf_of", "obo", ExitUsage, "byokcred: " + cfg + ":8:5: providers.obo.auth" + refusal},
		{"plugin per_user", "exchanged", ExitUsage, "byokcred: " + cfg + ":13:5: providers.exchanged.auth" + refusal},
		{"a provider with its own identity", "plain", ExitOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, map[string]string{"APP_SECRET": "s", "KEY": "k"}, "-c", cfg, "copilot-env", tc.provider)
			type outcome struct {
				Code   int
				Stderr string
			}
			if diff := cmp.Diff(outcome{tc.wantCode, tc.wantErr}, outcome{r.code, r.stderr}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if (tc.wantCode == ExitOK) != strings.Contains(r.stdout, "export COPILOT_PROVIDER_API_KEY_COMMAND=") {
				t.Errorf("stdout = %q, want exports only for the provider with its own identity", r.stdout)
			}
		})
	}
}
