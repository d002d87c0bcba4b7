package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The read-only commands describe the config without its environment, as
// validate --offline checks it: with config.example.yaml as shipped and no
// variable set, providers and models succeed and say on stderr which
// values could not be resolved; completion still completes names.
func TestDescribeCommandsNeedNoEnvironment(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	// A copy: its plugin path (bin/plugins/…, relative to the file) must
	// not resolve whether or not make build ran in this checkout.
	shipped, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	example := writeFile(t, "config.example.yaml", string(shipped))
	unresolved := "byokcred: listed without what this environment does not resolve (byokcred validate checks it):\n" +
		"  " + example + ":14:14: plugins.vault.command: plugin binary " + filepath.Join(filepath.Dir(example), "bin/plugins/byokcred-plugin-exec") + " does not exist; build or install it, or fix the path\n" +
		"  " + example + ":25:15: providers.foundry.base_url: environment variable AZURE_AI_FOUNDRY_RESOURCE_URL is not set; export it or use ${AZURE_AI_FOUNDRY_RESOURCE_URL:-default}\n" +
		"  " + example + ":53:20: providers.openai.auth.api_key_env: environment variable OPENAI_API_KEY is not set; export it or change the config\n" +
		"  " + example + ":62:21: providers.anthropic.auth.api_key_file: cannot read secret file: stat /run/secrets/anthropic-key: no such file or directory\n" +
		"  " + example + ":103:25: providers.gateway.auth.bearer_token_env: environment variable GATEWAY_TOKEN is not set; export it or change the config\n"
	unset := writeFile(t, "byokcred.yaml", `providers:
  gw:
    type: openai
    base_url: https://${GW_HOST}/v1?key=${GW_QUERY_KEY}
    model: m
    auth: {type: static, api_key_env: GW_KEY}
`)
	tests := []struct {
		name string
		args []string
		want result
	}{
		{"providers", []string{"-c", example, "providers"}, result{0, `NAME               TYPE       AUTH    BASE URL                                    MODEL
anthropic          anthropic  static  https://api.anthropic.com                   claude-sonnet-4
azure-deployment   azure      entra   https://my-resource.openai.azure.com        gpt-4o
foundry (default)  openai     entra   ${AZURE_AI_FOUNDRY_RESOURCE_URL}/openai/v1  gpt-4.1
gateway            openai     static  https://llm-gateway.internal.example/v1     llama-3.3-70b
openai             openai     static  https://api.openai.com/v1                   gpt-4.1
openai-kv          openai     static  https://api.openai.com/v1                   gpt-4.1-mini
vault-gateway      openai     plugin  https://llm-gateway.internal.example/v1     llama-3.3-70b
`, unresolved}},
		{"models", []string{"-c", example, "models"}, result{0, `MODEL                        PROVIDER TYPE  AUTH    WIRE MODEL           NAME
anthropic/claude-sonnet      anthropic      static  claude-sonnet-4      
anthropic/claude-sonnet-4    anthropic      static  claude-sonnet-4      
azure-deployment/gpt-4o      azure          entra   my-gpt4o-deployment  
foundry/gpt-4.1 (default)    openai         entra   gpt-4.1              GPT-4.1 (Foundry)
gateway/llama-3.3-70b        openai         static  llama-3.3-70b        
openai-kv/gpt-4.1-mini       openai         static  gpt-4.1-mini         
openai/gpt-4.1               openai         static  gpt-4.1              
vault-gateway/llama-3.3-70b  openai         plugin  llama-3.3-70b        
`, unresolved}},
		{"unresolved base URL shown as written, query hidden", []string{"-c", unset, "providers"}, result{0, `NAME  TYPE    AUTH    BASE URL                              MODEL
gw    openai  static  https://${GW_HOST}/v1?key=[REDACTED]  m
`, "byokcred: listed without what this environment does not resolve (byokcred validate checks it):\n" +
			"  " + unset + ":4:15: providers.gw.base_url: environment variable GW_HOST is not set; export it or use ${GW_HOST:-default}\n" +
			"  " + unset + ":6:39: providers.gw.auth.api_key_env: environment variable GW_KEY is not set; export it or change the config\n"}},
		{"completion", []string{"-c", example, "__complete", "token", "a"}, result{0, "anthropic\nazure-deployment\n:4\n", "Completion ended with directive: ShellCompDirectiveNoFileComp\n"}},
		{"model completion", []string{"-c", example, "__complete", "chat", "-m", "foundry"}, result{0, "foundry\nfoundry/gpt-4.1\n:4\n", "Completion ended with directive: ShellCompDirectiveNoFileComp\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, nil, tc.args...)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// providers -o json carries each provider's unresolved values with their
// positions.
func TestProvidersJSONUnresolved(t *testing.T) {
	t.Parallel()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  gw:
    type: openai
    base_url: https://gw.example/v1
    model: m
    auth: {type: static, api_key_env: GW_KEY}
  ok:
    type: openai
    base_url: https://ok.example/v1
    model: m
    auth: {type: static, api_key: literal}
`)
	r := run(t, nil, "-c", cfg, "-o", "json", "providers")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	type problem struct {
		Line, Column int
		Key, Message string
	}
	var got []struct {
		Name       string
		Unresolved []problem
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		Name       string
		Unresolved []problem
	}{
		{"gw", []problem{{6, 39, "providers.gw.auth.api_key_env", "environment variable GW_KEY is not set; export it or change the config"}}},
		{"ok", nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// refuseTransport fails every request: the command under test must reach
// no identity endpoint.
type refuseTransport struct{ requests atomic.Int64 }

func (rt *refuseTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.requests.Add(1)
	return nil, errors.New("test: no request expected from this command")
}

// copilot-env prints the variables without fetching a token: Entra ID
// gives bearer tokens (known from the config), a static key's kind is its
// key; a value it prints that cannot be resolved is refused, one only the
// key command reads is named on stderr.
func TestCopilotEnvFetchesNothing(t *testing.T) {
	t.Parallel()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  az:
    type: azure
    base_url: https://res.openai.azure.com
    model: gpt-4o
    auth: {type: entra, credential: client_secret, tenant_id: contoso, client_id: app, client_secret_env: APP_SECRET}
  key:
    type: azure
    base_url: https://res.openai.azure.com
    api_version: "2024-10-21"
    model: gpt-4o
    auth: {type: static, api_key_env: AZ_KEY}
  host:
    type: openai
    base_url: https://${GW_HOST}/v1
    model: m
    auth: {type: static, api_key: literal}
`)
	tests := []struct {
		name, provider string
		env            map[string]string
		code           int
		stdout, stderr []string // lines that must be there
	}{
		{"entra is a bearer token", "az", map[string]string{"APP_SECRET": "s"}, 0, []string{"export COPILOT_PROVIDER_TYPE='openai'", "export COPILOT_PROVIDER_BASE_URL='https://res.openai.azure.com/openai/v1'"}, nil},
		{"static key, variable unset", "key", nil, 0, []string{"export COPILOT_PROVIDER_TYPE='azure'", "export COPILOT_PROVIDER_AZURE_API_VERSION='2024-10-21'"},
			[]string{"byokcred: the key command will fail here until these resolve:", cfg + ":12:39: providers.key.auth.api_key_env: environment variable AZ_KEY is not set; export it or change the config"}},
		{"printed value unresolved", "host", nil, 2, nil, []string{"byokcred: " + cfg + ":15:15: providers.host.base_url: environment variable GW_HOST is not set; export it or use ${GW_HOST:-default}"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := &refuseTransport{}
			var out, errb bytes.Buffer
			code := Run(context.Background(), []string{"-c", cfg, "copilot-env", "--agent", "off", tc.provider}, Env{Stdout: &out, Stderr: &errb, HTTPClient: &http.Client{Transport: rt},
				LookupEnv: func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }})
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			for _, w := range tc.stdout {
				if !slicesContainsLine(out.String(), w) {
					t.Errorf("stdout lacks line %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.stderr {
				if !slicesContainsLine(errb.String(), w) {
					t.Errorf("stderr lacks line %q:\n%s", w, errb.String())
				}
			}
			if n := rt.requests.Load(); n != 0 {
				t.Errorf("copilot-env made %d HTTP requests; want none", n)
			}
		})
	}
}

func slicesContainsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}
