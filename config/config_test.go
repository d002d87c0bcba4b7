package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

func lookupFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func errorLines(t *testing.T, cfg *Config) []string {
	t.Helper()
	err := cfg.Doc.Err()
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestParseValid(t *testing.T) {
	src := `default_provider: oai
token_timeout: 5s
providers:
  oai:
    type: openai
    base_url: https://${HOST}/v1
    model: gpt-4.1
    headers: {X-Team: "${TEAM:-core}"}
    auth: {type: static, api_key_env: K}
  local:
    type: anthropic
    base_url: http://127.0.0.1:8080
    model: claude
    auth: {type: static, api_key_env: K}
`
	cfg, err := Parse("f.yaml", []byte(src), lookupFrom(map[string]string{"HOST": "api.example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if lines := errorLines(t, cfg); lines != nil {
		t.Fatalf("unexpected problems:\n%s", strings.Join(lines, "\n"))
	}
	p := cfg.Providers["oai"]
	got := []string{p.Name, p.Type, p.BaseURL, p.Model, p.Headers["X-Team"], p.AuthType(), cfg.DefaultProvider}
	want := []string{"oai", "openai", "https://api.example.com/v1", "gpt-4.1", "core", "static", "oai"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if cfg.TokenTimeout != 5*time.Second {
		t.Errorf("token_timeout = %v", cfg.TokenTimeout)
	}
	if diff := cmp.Diff([]string{"local", "oai"}, cfg.Names()); diff != "" {
		t.Error(diff)
	}
}

// TestParseReportsEveryProblem checks that one pass reports every problem,
// each at its own line and column.
func TestParseReportsEveryProblem(t *testing.T) {
	src := `default_provider: nope
token_timeout: soon
providers:
  a:
    type: openai
    base_url: http://api.example.com/v1
    model: m
    wire_api: chat
    auth: {type: static}
  b:
    type: gemini
    base_ur1: https://x
    model: m
    auth: {type: static}
  c:
    type: anthropic
    base_url: https://api.anthropic.com/v1
    model: m
    api_version: "2024"
    headers: {Authorization: x}
    auth: {type: static}
  d/e:
    type: azure
    base_url: https://${MISSING_HOST}
    model: m
    auth: {type: static}
  f:
    type: openai
    base_url: ftp://x
    auth: {type: static}
`
	cfg, err := Parse("bad.yaml", []byte(src), lookupFrom(nil))
	if cfg == nil || err == nil {
		t.Fatalf("Parse = %v, %v; want the partly decoded config and an error", cfg, err)
	}
	want := []string{
		`bad.yaml:1:19: default_provider: unknown provider "nope" (configured: a, b, c, d/e, f)`,
		`bad.yaml:2:16: token_timeout: invalid duration "soon"; use a positive Go duration such as 30s or 5m`,
		`bad.yaml:6:15: providers.a.base_url: plain http to api.example.com would send the credential unencrypted; use https (plain http is allowed only to loopback hosts)`,
		`bad.yaml:8:15: providers.a.wire_api: unknown wire_api "chat" (one of: completions, responses)`,
		`bad.yaml:11:11: providers.b.type: unknown provider type "gemini" (one of: anthropic, azure, openai)`,
		`bad.yaml:12:5: providers.b.base_ur1: unknown key "base_ur1"; did you mean "base_url"? (known keys: api_version, auth, base_url, headers, model, type, wire_api, wire_model)`,
		`bad.yaml:17:15: providers.c.base_url: for anthropic leave /v1 out of base_url: the runtime appends /v1/messages`,
		`bad.yaml:19:18: providers.c.api_version: api_version applies to azure providers only; remove it`,
		`bad.yaml:20:30: providers.c.headers.Authorization: credential header "Authorization" in headers: configure the credential under auth: instead`,
		`bad.yaml:22:3: providers.d/e: provider name "d/e": use letters, digits, '_', '-' and '.', starting with a letter or digit (no '/')`,
		`bad.yaml:24:15: providers.d/e.base_url: environment variable MISSING_HOST is not set; export it or use ${MISSING_HOST:-default}`,
		`bad.yaml:27:3: providers.f: missing key "model": the model id to send (or list the provider's models under models:)`,
		`bad.yaml:29:15: providers.f.base_url: unsupported URL scheme "ftp"; use https`,
	}
	if diff := cmp.Diff(want, errorLines(t, cfg)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestParseStructuralErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{name: "syntax error has a line", src: "providers:\n  a: [\n", want: []string{"f.yaml:2:3: did not find expected node content"}},
		{name: "empty file", src: "", want: []string{"f.yaml: file is empty; it needs at least a providers: mapping"}},
		{name: "no providers", src: "default_provider: x\n", want: []string{
			`f.yaml:1:1: providers: no providers configured; add one under providers:`,
			`f.yaml:1:19: default_provider: unknown provider "x" (configured: )`,
		}},
		{name: "wrong shape", src: "providers: [a, b]\n", want: []string{
			"f.yaml:1:1: providers: no providers configured; add one under providers:",
			"f.yaml:1:12: providers: want a mapping, found a list",
		}},
		{name: "duplicate key", src: "providers:\n  a: {type: openai, type: azure, base_url: https://x, model: m, auth: {type: static}}\n", want: []string{
			`f.yaml:2:21: providers.a.type: duplicate key (first set on line 2)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("f.yaml", []byte(tc.src), lookupFrom(nil))
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			} else {
				got = errorLines(t, cfg)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRefusesAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("providers:\n  p:\n    type: openai\n    base_url: https://x\n    model: m\n    auth: {type: static, bomb: *a8}\n")
	start := time.Now()
	cfg, err := Parse("bomb.yaml", []byte(b.String()), lookupFrom(nil))
	if cfg != nil {
		// Top-level anchors are unknown keys; decoding the auth block (done
		// by the registry) is what would expand the bomb.
		var sink any
		cfg.Doc.Decode(cfg.Providers["p"].Auth, "providers.p.auth", &sink)
		err = cfg.Doc.Err()
	}
	if err == nil || !strings.Contains(err.Error(), "too large or too deeply aliased") {
		t.Fatalf("err = %v, want the bomb refused", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing the bomb took %v", d)
	}
}

func TestModels(t *testing.T) {
	const providers = `providers:
  foundry: {type: azure, base_url: https://f.example, auth: {type: static, api_key: k}}
  anthropic: {type: anthropic, base_url: https://a.example, model: claude-haiku, auth: {type: static, api_key: k}}
`
	t.Run("valid", func(t *testing.T) {
		cfg, err := Parse("m.yaml", []byte(providers+`models:
  - {id: gpt-4.1, provider: foundry, wire_model: dep-41, name: GPT-4.1 (Foundry), max_output_tokens: 1000}
  - {id: claude-sonnet, provider: anthropic}
default_model: foundry/gpt-4.1
`), lookupFrom(nil))
		if err != nil {
			t.Fatal(err)
		}
		if lines := errorLines(t, cfg); lines != nil {
			t.Fatalf("problems: %v", lines)
		}
		want := []string{"anthropic/claude-haiku", "anthropic/claude-sonnet", "foundry/gpt-4.1"}
		if diff := cmp.Diff(want, cfg.ModelRefs()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		m, ok := cfg.FindModel("foundry/gpt-4.1")
		if !ok || m.WireModel != "dep-41" || m.MaxOutputTokens != 1000 {
			t.Errorf("FindModel = %+v, %v", m, ok)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		cfg, err := Parse("m.yaml", []byte(providers+`models:
  - {id: gpt-4.1, provider: foundry}
  - {id: gpt-4.1, provider: foundry}
  - {id: x, provider: nowhere}
  - {provider: foundry}
default_model: gpt-4.1
`), lookupFrom(nil))
		if cfg == nil || err == nil {
			t.Fatalf("Parse = %v, %v; want the partly decoded config and an error", cfg, err)
		}
		want := []string{
			`m.yaml:6:10: models[1].id: model "gpt-4.1" is listed twice for provider foundry (first at models[0])`,
			`m.yaml:7:23: models[2].provider: unknown provider "nowhere" (configured: anthropic, foundry)`,
			`m.yaml:8:5: models[3]: missing key "id"`,
			`m.yaml:9:16: default_model: default_model "gpt-4.1" must be provider-qualified, provider/id (a bare id would select a Copilot-hosted model)`,
		}
		if diff := cmp.Diff(want, errorLines(t, cfg)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("unknown default model", func(t *testing.T) {
		cfg, _ := Parse("m.yaml", []byte(providers+"default_model: anthropic/opus\n"), lookupFrom(nil))
		want := []string{
			`m.yaml:2:3: providers.foundry: missing key "model": the model id to send (or list the provider's models under models:)`,
			`m.yaml:4:16: default_model: unknown model "anthropic/opus" (selectable: anthropic/claude-haiku)`,
		}
		if diff := cmp.Diff(want, errorLines(t, cfg)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

// Problems name the variable a value came from, never the value: a
// variable may hold a secret, and error text reaches terminals and CI logs.
func TestErrorsShowVariablesNotValues(t *testing.T) {
	env := map[string]string{
		"HOST":  "api.example.com-CANARY",
		"SHORT": "ws",
		"TYPE":  "CANARY-TYPE",
	}
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{
			name: "base url without a scheme",
			yaml: "providers:\n  p: {type: openai, base_url: \"${HOST}/v1\", model: m, auth: {type: static, api_key: k}}\n",
			want: []string{`s.yaml:2:31: providers.p.base_url: URL "${HOST}/v1" has no host; write it as https://host/path`},
		},
		{
			name: "short value at its own key",
			yaml: "providers:\n  p: {type: openai, base_url: \"${SHORT}://x\", model: m, auth: {type: static, api_key: k}}\n",
			want: []string{`s.yaml:2:31: providers.p.base_url: unsupported URL scheme "${SHORT}"; use https`},
		},
		{
			name: "expanded provider type",
			yaml: "providers:\n  p: {type: \"${TYPE}\", base_url: https://x, model: m, auth: {type: static, api_key: k}}\n",
			want: []string{`s.yaml:2:13: providers.p.type: type does not expand ${…}: it would be used as written; write the value itself (the README's config reference lists the keys that expand)`},
		},
		{
			name: "value reached through a nested default",
			yaml: "providers:\n  p: {type: openai, base_url: \"${NOPE:-${HOST}}/v1\", model: m, auth: {type: static, api_key: k}}\n",
			want: []string{`s.yaml:2:31: providers.p.base_url: URL "${HOST}/v1" has no host; write it as https://host/path`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("s.yaml", []byte(tc.yaml), lookupFrom(env))
			if err == nil {
				err = cfg.Doc.Err()
			}
			if err == nil {
				t.Fatal("no error")
			}
			if diff := cmp.Diff(tc.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// An auth type may quote, at one key, a value expanded into another (the
// registry reports provisioning errors at the auth block): long values are
// replaced wherever they appear, short ones only at their own key.
func TestDocScrubsValuesAtOtherKeys(t *testing.T) {
	d := NewDoc("s.yaml", lookupFrom(map[string]string{"TENANT": "tenant-CANARY", "N": "42"}))
	var root yaml.Node
	if err := yaml.Unmarshal([]byte("auth: {tenant: '${TENANT}', n: '${N}'}\n"), &root); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Auth struct {
			Tenant string `yaml:"tenant" byok:"expand"`
			N      string `yaml:"n" byok:"expand"`
		} `yaml:"auth"`
	}
	d.Decode(&root, "", &v)
	d.Errorf("auth", "cannot reach tenant %s with %s retries", v.Auth.Tenant, v.Auth.N)
	d.Errorf("auth.n", "n=%s", v.Auth.N)
	want := []string{
		"s.yaml:1:1: auth: cannot reach tenant ${TENANT} with 42 retries",
		"s.yaml:1:32: auth.n: n=${N}",
	}
	if diff := cmp.Diff(want, strings.Split(d.Err().Error(), "\n")); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// TestLoadReturnsTheProblems: a file with problems is an error from Load
// itself, not only a list hidden in cfg.Doc for the caller to remember.
func TestLoadReturnsTheProblems(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("providers:\n  p: {type: openia, base_url: https://x, model: m, auth: {type: static, api_key: k}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, lookupFrom(nil))
	want := path + `:2:13: providers.p.type: unknown provider type "openia"; did you mean "openai"? (one of: anthropic, azure, openai)`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if cfg == nil || cfg.Providers["p"] == nil {
		t.Fatalf("cfg = %v: the partly decoded config comes with the error, for the registry", cfg)
	}
}

// TestScrubber: text about a block, produced after loading (a plugin's
// errors about its config), is scrubbed like Doc.Errorf's problems.
func TestScrubber(t *testing.T) {
	env := map[string]string{"URL": "http://gw-CANARY.internal/token", "STYLE": "basc", "T": "5", "OTHER": "7"}
	d := NewDoc("s.yaml", lookupFrom(env))
	var root yaml.Node
	src := "plugins:\n  p: {env: {URL: '${URL}'}}\nproviders:\n  a: {auth: {config: {auth_style: '${STYLE}', list: ['${T}']}}}\n  b: {auth: {config: {n: '${OTHER}'}}}\n"
	if err := yaml.Unmarshal([]byte(src), &root); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Plugins map[string]struct {
			Env map[string]string `yaml:"env" byok:"expand"`
		} `yaml:"plugins"`
		Providers map[string]struct {
			Auth struct {
				Config map[string]any `yaml:"config"`
			} `yaml:"auth"`
		} `yaml:"providers"`
	}
	d.Decode(&root, "", &v)
	scrub := d.Scrubber("providers.a.auth", "plugins.p")
	tests := []struct{ name, in, want string }{
		{"long value anywhere", "token_url http://gw-CANARY.internal/token is not https", "token_url ${URL} is not https"},
		{"short value of the block, quoted", `auth_style must be one of auto, header, params, not "basc"`, `auth_style must be one of auto, header, params, not "${STYLE}"`},
		{"short value of the block, not quoted", "retry 5 times; basc", "retry 5 times; basc"},
		{"short value in a list of the block", `timeout: "5" is not a duration`, `timeout: "${T}" is not a duration`},
		{"short value of another block", `n: "7" is not a number`, `n: "7" is not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, scrub(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
