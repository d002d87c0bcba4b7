package plugin

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/registry"

	"github.com/byokcred/byokcred/internal/testkit/plugintest"
)

func TestPluginValidation(t *testing.T) {
	path := configtest.Write(t, `plugins:
  good: {command: /bin/true}
  nocmd: {args: [x]}
  badsum: {command: /bin/true, sha256: abc}
providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: vault}}
  b: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin}}
`)
	_, err := registry.Load(path, registry.Options{})
	if err == nil {
		t.Fatal("want errors")
	}
	var got []string
	for _, line := range strings.Split(err.Error(), "\n") {
		_, msg, _ := strings.Cut(line, ": ")
		got = append(got, msg)
	}
	want := []string{
		"plugins.nocmd: missing key \"command\": the plugin binary",
		"plugins.badsum.sha256: sha256 must be 64 hex digits (the output of sha256sum)",
		`providers.a.auth.plugin: unknown plugin "vault" (configured under plugins: badsum, good, nocmd)`,
		`providers.b.auth: missing key "plugin": the name of an entry under plugins:`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestPluginProcessSurvivesReload: a reload that leaves a plugin entry alone
// keeps its process (and its providers' caches); changing the entry
// replaces the process; closing leaves none.
func TestPluginProcessSurvivesReload(t *testing.T) {
	bin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	defer plugintest.Cleanup()
	cfg := func(timeout string) string {
		return `plugins:
  p: {command: ` + bin + `, env: {PATH: /usr/bin:/bin}, call_timeout: ` + timeout + `}
providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: p, config: {command: /bin/echo, args: [tok-a]}}}
  b: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: p, config: {command: /bin/echo, args: [tok-b]}}}
`
	}
	path := configtest.Write(t, cfg("5s"))
	live, err := registry.NewLive(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := func() []string {
		var out []string
		for _, n := range []string{"a", "b"} {
			p, _ := live.Current().Provider(n)
			tok, err := p.Source.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tok.Value.Reveal())
		}
		return out
	}
	if diff := cmp.Diff([]string{"tok-a", "tok-b"}, tokens()); diff != "" {
		t.Fatal(diff)
	}
	before := plugintest.PIDs(bin)
	if len(before) != 1 {
		t.Fatalf("processes = %v, want one shared by both providers", before)
	}
	os.WriteFile(path, []byte(cfg("5s")+"default_provider: a\n"), 0o600)
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	tokens()
	if after := plugintest.PIDs(bin); !cmp.Equal(before, after) {
		t.Errorf("unchanged plugin entry: processes %v → %v, want the same process", before, after)
	}
	os.WriteFile(path, []byte(cfg("6s")), 0o600)
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	tokens()
	after := plugintest.PIDs(bin)
	if len(after) != 1 || after[0] == before[0] {
		t.Errorf("changed plugin entry: processes %v → %v, want one new process", before, after)
	}
	live.Close()
	if left := plugintest.PIDs(bin); len(left) != 0 {
		t.Errorf("processes left after Close: %v", left)
	}
}

// TestPluginConfigErrorsShowVariablesNotValues: a plugin's errors about its
// config show ${NAME} where a value came from an environment variable,
// like the loader's own errors (a variable may hold a secret).
func TestPluginConfigErrorsShowVariablesNotValues(t *testing.T) {
	execBin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	oauthBin, err := plugintest.Build("oauth2")
	if err != nil {
		t.Fatal(err)
	}
	defer plugintest.Cleanup()
	env := map[string]string{
		"EXEC_TIMEOUT": "CANARY-timeout-4f1e",
		"SHORT":        "abc",
		"TOOL":         "CANARY-tool-9b2d",
		"STYLE":        "CANARY-style-77aa",
		"IDP_HOST":     "idp-CANARY-31c5.example",
		"CLIENT":       "client-CANARY-0d9e",
	}
	path := configtest.Write(t, `plugins:
  exec: {command: `+execBin+`, env: {PATH: /usr/bin:/bin}}
  oauth2: {command: `+oauthBin+`}
providers:
  timeout: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: exec, config: {command: /bin/echo, timeout: "${EXEC_TIMEOUT}"}}}
  short: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: exec, config: {command: /bin/echo, format: "${SHORT}"}}}
  tool: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: exec, config: {command: "${TOOL}"}}}
  style: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: oauth2, config: {token_url: https://idp.example/token, client_id: c, client_secret: s, auth_style: "${STYLE}"}}}
  http: {type: openai, base_url: https://a.example, model: m, auth: {type: plugin, plugin: oauth2, config: {token_url: "http://${IDP_HOST}/token", client_id: "${CLIENT}", client_secret: s}}}
`)
	set, err := registry.Load(path, registry.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	want := map[string]string{
		"timeout": `exec: config key "timeout": "${EXEC_TIMEOUT}" is not a positive duration such as "30s"`,
		"short":   `exec: config key "format" must be one of auto, raw, exec_credential, credential_process, azure_cli, gcloud, not "${SHORT}"`,
		"tool":    `exec: command "${TOOL}" not found in PATH`,
		"style":   `oauth2: config key "auth_style" must be one of auto, header, params, not "${STYLE}"`,
		"http":    `oauth2: token_url: plain http to ${IDP_HOST} would send the credential unencrypted; use https (plain http is allowed only to loopback hosts)`,
	}
	got := map[string]string{}
	for _, name := range set.Names() {
		p, err := set.Provider(name)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = p.Source.Token(ctx)
		cancel()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		msg := err.Error()
		for k, v := range env {
			if len(v) > 3 && strings.Contains(msg, v) || strings.Contains(msg, `"`+v+`"`) {
				t.Errorf("%s: error shows the value of %s: %s", name, k, msg)
			}
		}
		// Only the part that the test is about.
		got[name] = msg
		if strings.Contains(msg, want[name]) {
			got[name] = want[name]
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
