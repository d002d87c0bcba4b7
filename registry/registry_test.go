package registry

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestRegisterPanics(t *testing.T) {
	tests := []struct {
		name    string
		regName string
		f       func() kind.AuthConfig
		want    string
	}{
		{"empty name", "", func() kind.AuthConfig { return new(echoAuth) }, "empty auth type name"},
		{"duplicate", "test-echo", func() kind.AuthConfig { return new(echoAuth) }, "called twice for auth type test-echo"},
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
			kind.Register(tc.regName, tc.f)
		})
	}
}

// echoAuth is a third-party auth type registered the way users would.
type echoAuth struct {
	Value string `yaml:"value"`
}

func (a *echoAuth) Validate(b *kind.Build) {
	if a.Value == "" {
		b.Errorf("value", "value is required")
	}
}

func (a *echoAuth) Source(*kind.Build) (kind.Result, error) {
	return kind.Result{Source: credential.StaticTokenSource(&credential.Token{Kind: credential.KindBearer, Value: credential.NewSecret(a.Value)})}, nil
}

func init() { kind.Register("test-echo", func() kind.AuthConfig { return new(echoAuth) }) }

func TestThirdPartyAuthTypeAndSharing(t *testing.T) {
	path := configtest.Write(t, `providers:
  a: {type: openai, base_url: https://a.example, model: m, auth: {type: test-echo, value: tok-1}}
  b: {type: openai, base_url: https://b.example, model: m, auth: {type: test-echo, value: tok-1}}
  c: {type: openai, base_url: https://c.example, model: m, auth: {type: test-echo, value: tok-2}}
`)
	set, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	src := func(n string) credential.TokenSource { p, _ := set.Provider(n); return p.Source }
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
	path := configtest.Write(t, `providers:
  a:
    type: openai
    base_url: https://a.example
    model: m
    auth: {type: statik}
  e:
    type: openai
    base_url: https://a.example
    model: m
    auth: {value: x}
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
	if !sort.StringsAreSorted(kind.Types()) || !slices.Contains(kind.Types(), "test-echo") {
		t.Fatalf("kind.Types() = %v, want a sorted list with test-echo", kind.Types())
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
	want := []string{
		`c.yaml:6:18: providers.a.auth.type: unknown auth type "statik"; did you mean "static"? (known: ` + strings.Join(kind.Types(), ", ") + `; every built-in one is registered by import _ "github.com/byokcred/byokcred/builtin")`,
		`c.yaml:11:5: providers.e.auth: missing key "type" (known auth types: ` + strings.Join(kind.Types(), ", ") + `)`,
		`c.yaml:16:36: providers.f.auth.value: value is required`,
		`c.yaml:16:40: providers.f.auth.extra: unknown key "extra" (known keys: value)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s\ngot:\n%s", diff, strings.Join(got, "\n"))
	}
}

func TestProviderSelection(t *testing.T) {
	path := configtest.Write(t, `providers:
  one: {type: openai, base_url: https://a.example, model: m, auth: {type: test-echo, value: k}}
  two: {type: openai, base_url: https://a.example, model: m, auth: {type: test-echo, value: k}}
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

func TestUnknownTypeSaysWhatToImport(t *testing.T) {
	tests := []struct {
		name  string
		known []string
		want  string
	}{
		// This test program does not link package builtin, as a library
		// program that imports only the kinds it uses.
		{"some registered", []string{"entra", "static"}, `unknown auth type "statik"; did you mean "static"? (known: entra, static; every built-in one is registered by import _ "github.com/byokcred/byokcred/builtin")`},
		{"none registered", nil, `unknown auth type "statik": no auth types are registered in this program; import the packages of the ones it uses, or every built-in one with import _ "github.com/byokcred/byokcred/builtin"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, unknownType("statik", tc.known).Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestMissingTypeSaysWhatToImport: an auth block without a type, in a
// program that registered no kind, said "(known auth types: )".
func TestMissingTypeSaysWhatToImport(t *testing.T) {
	tests := []struct {
		name  string
		known []string
		want  string
	}{
		{"some registered", []string{"entra", "static"}, `missing key "type" (known auth types: entra, static)`},
		{"none registered", nil, `missing key "type": no auth types are registered in this program; import the packages of the ones it uses, or every built-in one with import _ "github.com/byokcred/byokcred/builtin"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, missingType(tc.known).Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
