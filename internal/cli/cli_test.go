package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/plugintest"
)

const canary = "CANARY-cli-9d8c7b6a5f4e3d2c1b0a"

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Env{Stdout: &out, Stderr: &errb, LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	return result{code, out.String(), errb.String()}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodConfig = `default_provider: oai
providers:
  oai:
    type: openai
    base_url: https://api.example.com/v1
    model: gpt-4.1
    auth: {type: static, api_key_env: OAI_KEY}
  az:
    type: azure
    base_url: https://res.openai.azure.com
    model: gpt-4o
    auth: {type: static, bearer_token: "${AZ_TOKEN}"}
`

func TestCommands(t *testing.T) {
	cfg := writeFile(t, "byokcred.yaml", goodConfig)
	env := map[string]string{"OAI_KEY": canary, "AZ_TOKEN": canary + "-az", "BYOKCRED_CONFIG": cfg}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string // substrings
		wantStderr []string
	}{
		{name: "validate ok", args: []string{"validate"}, wantStdout: []string{cfg + ": OK (2 providers: az, oai)"}},
		{name: "providers table", args: []string{"providers"}, wantStdout: []string{
			"NAME", "az", "azure", "static", "https://res.openai.azure.com", "gpt-4o", "oai (default)", "openai",
		}},
		{name: "token masked", args: []string{"token", "oai"}, wantStdout: []string{"provider:  oai", "kind:      api_key", "expires:   never", "value:     CANA…(31 chars, sha256:"}},
		{name: "token default provider", args: []string{"token"}, wantStdout: []string{"provider:  oai"}},
		{name: "token bearer", args: []string{"-c", cfg, "token", "az"}, wantStdout: []string{"kind:      bearer"}},
		{name: "unknown provider is a usage error", args: []string{"token", "nope"}, wantCode: ExitUsage, wantStderr: []string{`unknown provider "nope" (configured: az, oai)`}},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: ExitUsage, wantStderr: []string{"unknown command"}},
		{name: "unknown flag", args: []string{"token", "--nope"}, wantCode: ExitUsage, wantStderr: []string{"unknown flag"}},
		{name: "bad log level", args: []string{"--log-level", "loud", "validate"}, wantCode: ExitUsage, wantStderr: []string{"--log-level"}},
		{name: "missing config file", args: []string{"-c", "/nonexistent/x.yaml", "validate"}, wantCode: ExitUsage, wantStderr: []string{"byokcred: config: /nonexistent/x.yaml does not exist; pass -c FILE or set BYOKCRED_CONFIG (config.example.yaml is a start)\n"}},
		{name: "missing config file, described", args: []string{"-c", "/nonexistent/x.yaml", "providers"}, wantCode: ExitUsage, wantStderr: []string{"x.yaml does not exist; pass -c FILE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, env, tc.args...)
			if r.code != tc.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.wantCode, r.stdout, r.stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stdout+r.stderr, canary) {
				t.Errorf("canary secret printed:\nstdout: %s\nstderr: %s", r.stdout, r.stderr)
			}
		})
	}
}

func TestTokenShowAndJSON(t *testing.T) {
	cfg := writeFile(t, "byokcred.yaml", goodConfig)
	env := map[string]string{"OAI_KEY": canary, "AZ_TOKEN": "x"}
	r := run(t, env, "-c", cfg, "token", "oai", "--show")
	if diff := cmp.Diff(result{0, canary + "\n", ""}, r, cmp.AllowUnexported(result{})); diff != "" {
		t.Errorf("--show (-want +got):\n%s", diff)
	}
	for _, show := range []bool{false, true} {
		args := []string{"-c", cfg, "token", "oai", "--json"}
		if show {
			args = append(args, "--show")
		}
		r := run(t, env, args...)
		var got tokenOutput
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("--json output %q: %v", r.stdout, err)
		}
		want := tokenOutput{Provider: "oai", Kind: "api_key", Masked: !show, Value: canary}
		if !show {
			want.Value = got.Value
			if strings.Contains(r.stdout, canary) {
				t.Errorf("--json without --show printed the secret: %s", r.stdout)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("--json show=%v (-want +got):\n%s", show, diff)
		}
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	cfg := writeFile(t, "bad.yaml", `providers:
  a:
    type: openai
    base_url: http://api.example.com
    model: m
    auth: {type: static, api_key: "`+canary+`", api_kye: x}
  b:
    type: anthropic
    base_url: https://api.anthropic.com
    model: m
    auth: {type: static, api_key_env: MISSING}
`)
	r := run(t, nil, "-c", cfg, "validate")
	if r.code != ExitUsage {
		t.Errorf("exit code = %d, want %d", r.code, ExitUsage)
	}
	want := []string{
		"byokcred: " + cfg + ":4:15: providers.a.base_url: plain http to api.example.com would send the credential unencrypted; use https (plain http is allowed only to loopback hosts)",
		"  " + cfg + `:6:70: providers.a.auth.api_kye: unknown key "api_kye"; did you mean "api_key"? (known keys: api_key, api_key_env, api_key_file, api_key_secret, bearer_token, bearer_token_env, bearer_token_file, bearer_token_secret)`,
		"  " + cfg + ":11:39: providers.b.auth.api_key_env: environment variable MISSING is not set; export it or change the config",
	}
	if diff := cmp.Diff(want, strings.Split(strings.TrimSpace(r.stderr), "\n")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if strings.Contains(r.stdout+r.stderr, canary) {
		t.Error("canary secret printed")
	}
}

// TestChatEndToEnd runs `byokcred chat` through the real Copilot runtime.
func TestChatEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	fake, err := fakemodel.Start(fakemodel.Options{Reply: "chat reply from loopback"})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  local:
    type: anthropic
    base_url: `+fake.URL+`
    model: claude-sonnet-4
    auth: {type: static, api_key_env: KEY}
`)
	t.Setenv("KEY", canary) // the runtime inherits the process environment
	r := run(t, map[string]string{"KEY": canary}, "-c", cfg, "chat", "-m", "local", "hello", "there")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if diff := cmp.Diff("chat reply from loopback\n", r.stdout); diff != "" {
		t.Error(diff)
	}
	reqs := fake.Requests()
	if len(reqs) == 0 {
		t.Fatal("no request reached the endpoint")
	}
	if h, v := reqs[0].Credential(); h != "x-api-key" || v != canary {
		t.Errorf("credential header %q value match=%v", h, v == canary)
	}
	if strings.Contains(r.stdout+r.stderr, canary) {
		t.Error("canary secret printed")
	}
}

func TestTokenShowsEntraClaims(t *testing.T) {
	idp, err := fakeidentity.Start(fakeidentity.Options{TenantID: "tenant-1234", ObjectID: "object-5678"})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	idp.Setenv(t)
	cfg := writeFile(t, "byokcred.yaml", `providers:
  foundry:
    type: azure
    base_url: https://res.openai.azure.com
    model: gpt-4.1
    auth: {type: entra, credential: managed_identity, client_id: app-42}
`)
	r := run(t, nil, "-c", cfg, "token", "foundry")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, w := range []string{"kind:       bearer", "expires:    ", "audience:   https://cognitiveservices.azure.com", "tenant:     tenant-1234", "object id:  object-5678", "app id:     app-42", "without a signature check"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, r.stdout)
		}
	}
	issued := idp.Issued()
	if len(issued) != 1 || strings.Contains(r.stdout+r.stderr, issued[0].Token) {
		t.Errorf("want one token minted and never printed")
	}
	r = run(t, nil, "-c", cfg, "token", "foundry", "--show")
	if strings.TrimSpace(r.stdout) != idp.Issued()[len(idp.Issued())-1].Token {
		t.Errorf("--show did not print the token")
	}
}

// TestChatMovesOneSessionBetweenProviders runs `chat -m a/x PROMPT --then
// b/y PROMPT` through the real runtime.
func TestChatMovesOneSessionBetweenProviders(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	first, err := fakemodel.Start(fakemodel.Options{Reply: "first says hi"})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := fakemodel.Start(fakemodel.Options{Reply: "second says hi"})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  alpha:
    type: openai
    base_url: `+first.URL+`
    model: m1
    auth: {type: static, api_key: alpha-key}
  beta:
    type: anthropic
    base_url: `+second.URL+`
    auth: {type: static, api_key: beta-key}
models:
  - {id: claude, provider: beta}
`)
	r := run(t, nil, "-c", cfg, "models")
	for _, w := range []string{"alpha/m1", "beta/claude", "anthropic", "static"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("models output lacks %q:\n%s", w, r.stdout)
		}
	}
	r = run(t, nil, "-c", cfg, "chat", "-m", "alpha/m1", "hello", "--then", "beta/claude and you?")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if diff := cmp.Diff("[alpha/m1] first says hi\n[beta/claude] second says hi\n", r.stdout); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(first.Requests()) != 1 || len(second.Requests()) != 1 {
		t.Errorf("requests: first %d, second %d", len(first.Requests()), len(second.Requests()))
	}
	r = run(t, nil, "-c", cfg, "chat", "-m", "alpha/nope", "hello")
	if r.code != ExitUsage || !strings.Contains(r.stderr, `unknown model "alpha/nope"`) {
		t.Errorf("unknown model: exit %d, stderr %s", r.code, r.stderr)
	}
}

// TestExampleConfigValidates keeps config.example.yaml loadable: with its
// variables, files, plugin binary and the tools its plugin runs provided,
// it has no problem — including the plugin's own check of its config blocks.
func TestExampleConfigValidates(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	keyFile := writeFile(t, "anthropic.key", "k")
	env := map[string]string{
		"AZURE_AI_FOUNDRY_RESOURCE_URL": "https://res.openai.azure.com", "OPENAI_API_KEY": "k",
		"ANTHROPIC_KEY_FILE": keyFile, "GATEWAY_TOKEN": "t",
	}
	example, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// validate starts the plugin to check its config blocks, and the exec
	// plugin checks that each command is installed: the real plugin where
	// make build puts it, and a stand-in `vault` on the plugin's PATH.
	tools := t.TempDir()
	if err := os.WriteFile(filepath.Join(tools, "vault"), []byte("#!/bin/sh\necho tok\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(example), "PATH: /usr/local/bin:/usr/bin:/bin", "PATH: "+tools+":/usr/bin:/bin", 1)
	cfg := writeFile(t, "config.example.yaml", text)
	bin := filepath.Join(filepath.Dir(cfg), "bin", "plugins", "byokcred-plugin-exec")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	execPlugin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(execPlugin, bin); err != nil {
		t.Fatal(err)
	}
	r := run(t, env, "-c", cfg, "validate")
	if r.code != 0 || !strings.Contains(r.stdout, ": OK (") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

func TestOutputJSON(t *testing.T) {
	cfg := writeFile(t, "byokcred.yaml", goodConfig)
	env := map[string]string{"OAI_KEY": canary, "AZ_TOKEN": "t"}
	r := run(t, env, "-c", cfg, "providers", "-o", "json")
	var providers []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &providers); err != nil || len(providers) != 2 || providers[1]["name"] != "oai" || providers[1]["default"] != true {
		t.Errorf("providers -o json: %v %s", err, r.stdout)
	}
	r = run(t, env, "-c", cfg, "models", "-o", "json")
	var models []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &models); err != nil || len(models) != 2 || models[0]["model"] != "az/gpt-4o" {
		t.Errorf("models -o json: %v %s", err, r.stdout)
	}
	bad := writeFile(t, "bad.yaml", "providers:\n  a: {type: gemini, base_url: https://x, model: m, auth: {type: static, api_key: k}}\n")
	r = run(t, env, "-c", bad, "validate", "-o", "json")
	var v validateOutput
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	want := validateOutput{File: bad, Problems: []problemOutput{{Line: 2, Column: 13, Key: "providers.a.type", Message: `unknown provider type "gemini" (one of: anthropic, azure, openai)`}}}
	if diff := cmp.Diff(want, v); diff != "" || r.code != ExitUsage || r.stderr != "" {
		t.Errorf("validate -o json exit %d stderr %q (-want +got):\n%s", r.code, r.stderr, diff)
	}
	if r := run(t, env, "-c", cfg, "providers", "-o", "yaml"); r.code != ExitUsage {
		t.Errorf("-o yaml: exit %d", r.code)
	}
}

func TestIsCobraUsage(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"unknown command", errors.New(`unknown command "frob" for "byokcred"`), true},
		{"too many args", errors.New("accepts at most 1 arg(s), received 2"), true},
		{"too few args", errors.New("requires at least 1 arg(s), only received 0"), true},
		{"invalid positional", errors.New(`invalid argument "x" for "byokcred completion"`), true},
		{"EINVAL from a write", fmt.Errorf("chat: write /dev/pts/9: %w", syscall.EINVAL), false},
		{"bare EINVAL", syscall.EINVAL, false},
		{"runtime text", errors.New("session: the runtime accepts no such model"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := isCobraUsage(tc.err); got != tc.want {
				t.Errorf("isCobraUsage(%q) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
