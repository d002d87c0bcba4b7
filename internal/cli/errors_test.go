package cli

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/plugintest"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

// quotingAuth is a credential whose source fails with its text: an
// identity provider's or gateway's answer, which may say anything.
type quotingAuth struct {
	Text string `yaml:"text"`
}

func (a *quotingAuth) Validate(*kind.Build) {}
func (a *quotingAuth) Source(*kind.Build) (kind.Result, error) {
	return kind.Result{Source: quotingSource{a.Text}}, nil
}

type quotingSource struct{ text string }

func (s quotingSource) Token(context.Context) (*credential.Token, error) {
	return nil, errors.New(s.text)
}

func init() {
	kind.Register("test-quoting", func() kind.AuthConfig { return new(quotingAuth) })
}

// TestChatTellsErrorsApartByType: chat exits 2 (usage) for a model or
// provider that does not exist and 1 for a credential that fails, whatever
// the failure's text says. It used to look for "unknown model" in the
// message, so a gateway answering "unknown model deployment" made a
// credential failure a usage error.
func TestChatTellsErrorsApartByType(t *testing.T) {
	cfg := writeFile(t, "byokcred.yaml", `providers:
  alpha: {type: openai, base_url: https://alpha.example, model: m1, auth: {type: static, api_key: k}}
  quoter: {type: openai, base_url: https://gw.example, model: m2, auth: {type: test-quoting, text: "gateway: unknown model deployment m2"}}
`)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown model", []string{"chat", "-m", "alpha/nope", "hi"}, ExitUsage,
			`byokcred: session: unknown model "alpha/nope"; selectable: alpha/m1, quoter/m2` + "\n"},
		{"unknown provider", []string{"chat", "-m", "nope", "hi"}, ExitUsage,
			`byokcred: registry: unknown provider "nope" (configured: alpha, quoter)` + "\n"},
		{"a credential failure quoting 'unknown model'", []string{"chat", "-m", "quoter", "hi"}, ExitFailure,
			"byokcred: session: provider quoter: no token: gateway: unknown model deployment m2\n" +
				"byokcred: byokcred doctor quoter shows how its credential is found\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, append([]string{"-c", cfg}, tc.args...)...)
			type outcome struct {
				Code   int
				Stderr string
			}
			if diff := cmp.Diff(outcome{tc.wantCode, tc.wantErr}, outcome{r.code, r.stderr}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestPluginTokenErrorNamesTheProviderOnce: a failing plugin's error
// reaches the user through the real plugin host, the cache and the
// registry with the provider named once.
func TestPluginTokenErrorNamesTheProviderOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a plugin")
	}
	execPlugin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "byokcred.yaml", `plugins:
  minter: {command: `+execPlugin+`, env: {PATH: /usr/bin:/bin}}
providers:
  gateway:
    type: openai
    base_url: https://gw.example.com/v1
    model: m
    auth: {type: plugin, plugin: minter, config: {command: /bin/false, format: raw}}
`)
	r := runWithin(t, context.Background(), time.Minute, Env{LookupEnv: noEnv}, "-c", cfg, "token", "gateway")
	want := `byokcred: session: provider gateway: no token: plugins: plugin "minter": plugin reported an error: get token: exec: command /bin/false exited with status 1` + "\n" +
		"byokcred: byokcred doctor gateway shows how its credential is found\n"
	if diff := cmp.Diff(want, r.stderr); diff != "" || r.code != ExitFailure {
		t.Errorf("exit %d, want 1; stderr (-want +got):\n%s", r.code, diff)
	}
}

// TestLibraryErrorsLeaveAdviceToTheCLI: a library program's errors say
// what to change in the program or config and name no byokcred command;
// the CLI recognises them by type (a *credential.TokenError, a wrapped
// registry.ErrNeedsUser) and adds its own next step on a line of its own.
func TestLibraryErrorsLeaveAdviceToTheCLI(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	cfg := writeFile(t, "byokcred.yaml", `providers:
  quoter: {type: openai, base_url: https://gw.example, model: m, auth: {type: test-quoting, text: "gateway says no"}}
`)
	oboCfg := writeFile(t, "obo.yaml", `providers:
  obo:
    type: openai
    base_url: https://obo.example
    model: m
    auth: {type: entra, credential: on_behalf_of, tenant_id: contoso, client_id: app, client_secret_env: APP_SECRET, scope: 'https://obo.example/.default'}
`)
	env := map[string]string{"APP_SECRET": "app-secret"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	quiet := slog.New(slog.DiscardHandler)

	// The library: loading without Options.PerUser refuses the per-user
	// provider; with it, the failing source's token error.
	_, err := registry.Load(oboCfg, registry.Options{LookupEnv: lookup, Logger: quiet})
	if !errors.Is(err, registry.ErrNeedsUser) || strings.Contains(err.Error(), "byokcred ") {
		t.Errorf("registry.Load: %v; want an error wrapping registry.ErrNeedsUser naming no byokcred command", err)
	}
	set, err := registry.Load(cfg, registry.Options{LookupEnv: lookup, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	p, err := set.Provider("quoter")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Token(context.Background())
	if te := (*credential.TokenError)(nil); !errors.As(err, &te) || strings.Contains(err.Error(), "byokcred ") {
		t.Errorf("Provider.Token: %v; want a *credential.TokenError naming no byokcred command", err)
	}

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"token error", []string{"-c", cfg, "token", "quoter"}, ExitFailure,
			"byokcred: session: provider quoter: no token: gateway says no\n" +
				"byokcred: byokcred doctor quoter shows how its credential is found\n"},
		{"per-user provider without a user", []string{"-c", oboCfg, "token", "obo"}, ExitUsage,
			"byokcred: " + oboCfg + ":6:5: providers.obo.auth: this credential acts on behalf of each user, and this program has no user to supply: set registry.Options.PerUser and create each session for its user (session.Factory.SessionConfigFor)\n" +
				"byokcred: byokcred chat --user-token-env NAME acts for the user whose access token is in $NAME; byokcred proxy acts for each client's user\n"},
		// doctor is the advice: it does not point at itself.
		{"doctor", []string{"-c", cfg, "doctor", "quoter"}, ExitFailure, ""},
		// The key command's contract with the Copilot CLI: one line.
		{"key command", []string{"-c", cfg, "credential", "--agent", "off", "quoter"}, ExitFailure,
			"byokcred credential: session: provider quoter: no token: gateway says no\n"},
		{"key command, per-user provider", []string{"-c", oboCfg, "credential", "--agent", "off", "obo"}, ExitFailure,
			"byokcred credential: " + oboCfg + ":6:5: providers.obo.auth: this credential acts on behalf of each user, and this program has no user to supply: set registry.Options.PerUser and create each session for its user (session.Factory.SessionConfigFor)\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, env, tc.args...)
			type outcome struct {
				Code   int
				Stderr string
			}
			if diff := cmp.Diff(outcome{tc.wantCode, tc.wantErr}, outcome{r.code, r.stderr}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
