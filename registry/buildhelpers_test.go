package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/kind"
)

// helpersAuth reports through the Build helpers a kind uses instead of
// reading the config by absolute path (issue 24, item 1).
type helpersAuth struct {
	Nested *yaml.Node `yaml:"nested"`
	Plugin string     `yaml:"plugin"`
}

type helpersNested struct {
	Known string `yaml:"known"`
}

func (a *helpersAuth) Validate(b *kind.Build) {
	b.ProviderErrorf("base_url", "base_url is checked against the auth block")
	if a.Nested != nil {
		var n helpersNested
		b.Decode("nested", a.Nested, &n)
		if n.Known == "bad" {
			b.Sub("nested").Errorf("known", "known is bad")
		}
	}
	if a.Plugin != "" {
		if entry, names := b.Plugin(a.Plugin); entry == nil {
			b.Errorf("plugin", "unknown plugin %q (configured: %s)", a.Plugin, strings.Join(names, ", "))
		}
	}
}

func (a *helpersAuth) Source(*kind.Build) (kind.Result, error) {
	return kind.Result{Source: credential.StaticTokenSource(&credential.Token{Kind: credential.KindBearer, Value: credential.NewSecret("k")})}, nil
}

func init() { kind.Register("test-helpers", func() kind.AuthConfig { return new(helpersAuth) }) }

// TestBuildHelpersReportAtExactPositions: Build.ProviderErrorf,
// Build.Decode and Build.Plugin report at the line and column of the key
// they name, as the kinds' reads of the raw config did.
func TestBuildHelpersReportAtExactPositions(t *testing.T) {
	path := configtest.Write(t, `plugins:
  one: {command: /bin/true}
  two: {command: /bin/true}
providers:
  p:
    type: openai
    base_url: https://a.example
    model: m
    auth:
      type: test-helpers
      plugin: three
      nested:
        known: bad
        unknown: x
`)
	_, err := Load(path, Options{})
	if err == nil {
		t.Fatal("want errors")
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		got = append(got, strings.TrimPrefix(line, path+":"))
	}
	want := []string{
		`7:15: providers.p.base_url: base_url is checked against the auth block`,
		`11:15: providers.p.auth.plugin: unknown plugin "three" (configured: one, two)`,
		`13:16: providers.p.auth.nested.known: known is bad`,
		`14:9: providers.p.auth.nested.unknown: unknown key "unknown"; did you mean "known"? (known keys: known)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
