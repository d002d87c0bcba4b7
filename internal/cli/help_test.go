package cli

import (
	"runtime/debug"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

// Every command's help reads as a sentence: a capitalised Short, and a
// long help (capitalised) for every command a user runs.
func TestHelpTexts(t *testing.T) {
	t.Parallel()
	a := &app{env: &Env{}}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c == c.Root() || c.Hidden || c.Name() == "help" || c.Name() == "completion" || (c.HasParent() && c.Parent().Name() == "completion") {
			return
		}
		t.Run(c.CommandPath(), func(t *testing.T) {
			if c.Short == "" || !unicode.IsUpper([]rune(c.Short)[0]) {
				t.Errorf("Short %q does not start with a capital", c.Short)
			}
			if c.Long == "" || !unicode.IsUpper([]rune(c.Long)[0]) {
				t.Errorf("Long %q is missing or does not start with a capital", firstLine(c.Long))
			}
		})
	}
	walk(a.rootCmd())
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// -o json is refused where a command prints no JSON, rather than ignored;
// --version names a version; --socket's help names every fallback.
func TestGlobalFlags(t *testing.T) {
	t.Parallel()
	cfg := writeFile(t, "byokcred.yaml", goodConfig)
	tests := []struct {
		name string
		args []string
		code int
		want string // a line of stdout or stderr
	}{
		{"json refused by chat", []string{"-o", "json", "-c", cfg, "chat", "hi"}, 2, "byokcred: -o json: chat prints no JSON (validate, providers, models, token and doctor do); drop -o"},
		{"json refused by schema", []string{"-o", "json", "schema"}, 2, "byokcred: -o json: schema prints no JSON (validate, providers, models, token and doctor do); drop -o"},
		{"json refused by copilot-env", []string{"--output=json", "-c", cfg, "copilot-env", "oai"}, 2, "byokcred: -o json: copilot-env prints no JSON (validate, providers, models, token and doctor do); drop -o"},
		{"json honoured by providers", []string{"-o", "json", "-c", cfg, "providers"}, 0, `"name": "az",`},
		{"version", []string{"--version"}, 0, "byokcred version dev"},
		{"socket fallback in help", []string{"credential", "--help"}, 0, "--socket string   agent socket (default $BYOKCRED_AGENT_SOCK, else $XDG_RUNTIME_DIR/byokcred/agent.sock, else $TMPDIR/byokcred-UID/agent.sock)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, map[string]string{"OAI_KEY": "k", "AZ_TOKEN": "t"}, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			if !slicesContainsLine(r.stdout+"\n"+r.stderr, tc.want) {
				t.Errorf("no line %q in\nstdout: %s\nstderr: %s", tc.want, r.stdout, r.stderr)
			}
		})
	}
}

// --version: the -ldflags value, else the module version of a `go install
// …@v1.2.3`, else dev (a checkout's build says "(devel)").
func TestVersion(t *testing.T) {
	t.Parallel()
	info := func(v string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) { return &debug.BuildInfo{Main: debug.Module{Version: v}}, true }
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	tests := []struct {
		name, set string
		info      func() (*debug.BuildInfo, bool)
		want      string
	}{
		{"ldflags", "v9.9.9", info("v1.2.3"), "v9.9.9"},
		{"go install of a version", "", info("v1.2.3"), "v1.2.3"},
		{"checkout build", "", info("(devel)"), "dev"},
		{"no build info", "", none, "dev"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, versionFrom(tc.set, tc.info)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// validate warns about an azure provider without api_version whose
// base_url has a path: the runtime keeps only the host.
func TestValidateWarnsAzurePathDropped(t *testing.T) {
	t.Parallel()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  az:
    type: azure
    base_url: https://res.openai.azure.com/${TEAM_PATH}
    model: m
    auth: {type: static, api_key: k}
  dated:
    type: azure
    base_url: https://res.openai.azure.com/openai
    api_version: "2024-10-21"
    model: m
    auth: {type: static, api_key: k}
  host:
    type: azure
    base_url: https://res.openai.azure.com/
    model: m
    auth: {type: static, api_key: k}
`)
	r := run(t, map[string]string{"TEAM_PATH": "team-secret-path"}, "-c", cfg, "validate")
	want := result{0, cfg + ": OK (3 providers: az, dated, host)\n",
		"byokcred: warning: " + cfg + ":4:15: providers.az.base_url: type azure without api_version sends requests to https://res.openai.azure.com/openai/v1/…: the path /${TEAM_PATH} of base_url is dropped; set api_version for the /openai/deployments/… routes, or remove the path\n"}
	if diff := cmp.Diff(want, r, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
