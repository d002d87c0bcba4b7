package registry

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/provider"
)

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestRegisterPanics(t *testing.T) {
	tests := []struct {
		name    string
		regName string
		f       func() AuthConfig
		want    string
	}{
		{"empty name", "", func() AuthConfig { return new(StaticAuth) }, "empty auth type name"},
		{"duplicate", "static", func() AuthConfig { return new(StaticAuth) }, "called twice for auth type static"},
		{"nil constructor", "x-nil", nil, "nil constructor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(r.(string), tc.want) {
					t.Errorf("panic = %v, want %q", r, tc.want)
				}
			}()
			Register(tc.regName, tc.f)
		})
	}
}

// echoAuth is a third-party auth type registered the way users would.
type echoAuth struct {
	Value string `yaml:"value"`
}

func (a *echoAuth) Validate(ctx *Context) {
	if a.Value == "" {
		ctx.Errorf("value", "value is required")
	}
}

func (a *echoAuth) Source(*Context) (provider.TokenSource, error) {
	return provider.NewStaticSource(provider.StaticOptions{Kind: provider.KindBearer, Value: provider.NewSecret(a.Value)})
}

func init() { Register("test-echo", func() AuthConfig { return new(echoAuth) }) }

func TestThirdPartyAuthTypeAndSharing(t *testing.T) {
	path := writeConfig(t, `providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: test-echo, value: tok-1}}
  b: {type: openai, base_url: https://b.example, model: m, auth: {type: test-echo, value: tok-1}}
  c: {type: openai, base_url: https://c.example, model: m, auth: {type: test-echo, value: tok-2}}
`)
	set, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	src := func(n string) provider.TokenSource { p, _ := set.Provider(n); return p.Source }
	if src("a") != src("b") {
		t.Error("identical auth blocks got different sources")
	}
	if src("a") == src("c") {
		t.Error("different auth blocks share a source")
	}
	tok, err := src("c").Token(context.Background())
	if err != nil || tok.Value.Reveal() != "tok-2" {
		t.Errorf("token = %v, %v", tok, err)
	}
}

func TestLoadReportsAuthProblems(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.key")
	os.WriteFile(loose, []byte("k"), 0o644)
	os.Chmod(loose, 0o644)
	path := writeConfig(t, `providers:
  a:
    type: openai
    base_url: https://a.example
    model: m
    auth: {type: statik}
  b:
    type: openai
    base_url: https://a.example
    model: m
    auth:
      type: static
      api_key_env: NOT_SET_ANYWHERE
  c:
    type: openai
    base_url: https://a.example
    model: m
    auth: {type: static, api_key: x, bearer_token_env: Y}
  d:
    type: openai
    base_url: https://a.example
    model: m
    auth: {type: static, api_key_file: `+loose+`}
  e:
    type: openai
    base_url: https://a.example
    model: m
    auth: {api_key: x}
  f:
    type: openai
    base_url: https://a.example
    model: m
    auth: {type: test-echo, value: "", extra: 1}
`)
	_, err := Load(path, Options{LookupEnv: lookup(nil)})
	if err == nil {
		t.Fatal("want errors")
	}
	if !sort.StringsAreSorted(Types()) || !slices.Contains(Types(), "static") {
		t.Fatalf("Types() = %v, want a sorted list with static", Types())
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
	want := []string{
		`c.yaml:6:18: providers.a.auth.type: unknown auth type "statik" (known: ` + strings.Join(Types(), ", ") + `)`,
		`c.yaml:13:20: providers.b.auth.api_key_env: environment variable NOT_SET_ANYWHERE is not set; export it or change the config`,
		`c.yaml:18:5: providers.c.auth: static auth takes exactly one of api_key, api_key_env, api_key_file, bearer_token, bearer_token_env, bearer_token_file; 2 are set`,
		`c.yaml:23:40: providers.d.auth.api_key_file: provider: secret file ` + loose + ` is readable by group or others (mode 0644); run: chmod 600 ` + loose,
		`c.yaml:28:5: providers.e.auth: missing key "type" (known auth types: ` + strings.Join(Types(), ", ") + `)`,
		`c.yaml:33:36: providers.f.auth.value: value is required`,
		`c.yaml:33:40: providers.f.auth.extra: unknown key "extra" (known keys: value)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s\ngot:\n%s", diff, strings.Join(got, "\n"))
	}
}

func TestProviderSelection(t *testing.T) {
	path := writeConfig(t, `providers:
  one: {type: openai, base_url: https://a.example, model: m, auth: {type: static, api_key: k}}
  two: {type: openai, base_url: https://a.example, model: m, auth: {type: static, api_key: k}}
`)
	set, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Provider(""); err == nil || !strings.Contains(err.Error(), "no default_provider is set; name one of: one, two") {
		t.Errorf("err = %v", err)
	}
	if _, err := set.Provider("three"); err == nil || !strings.Contains(err.Error(), `unknown provider "three" (configured: one, two)`) {
		t.Errorf("err = %v", err)
	}
	if p, err := set.Provider("two"); err != nil || p.Name != "two" {
		t.Errorf("Provider(two) = %v, %v", p, err)
	}
}
