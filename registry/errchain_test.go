package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/configtest"
	"github.com/byokcred/byokcred/provider"
)

var errRoot = errors.New("root cause")

// failingAuth's source fails with its configured text, wrapped around
// errRoot, the way a plugin host's error arrives through the cache.
type failingAuth struct {
	Text string `yaml:"text"`
}

func (a *failingAuth) Validate(*Build) {}
func (a *failingAuth) Source(*Build) (provider.TokenSource, error) {
	return failingSource{a.Text}, nil
}

type failingSource struct{ text string }

func (s failingSource) Token(context.Context) (*provider.Token, error) {
	return nil, &textError{s.text}
}

type textError struct{ text string }

func (e *textError) Error() string { return e.text }
func (e *textError) Unwrap() error { return errRoot }

func init() { Register("test-failing", func() AuthConfig { return new(failingAuth) }) }

// The provider is named once in a token error: the cache's and the plugin
// host's own naming of it are dropped, each layer keeps one prefix.
func TestTokenErrorNamesTheProviderOnce(t *testing.T) {
	tests := []struct {
		name, provider, text, want string
	}{
		{"plugin host error through the cache", "gateway", `plugins: plugin "stamp", provider "gateway": plugin call failed: boom`,
			`provider gateway: no token: plugins: plugin "stamp": plugin call failed: boom`},
		{"plain source error through the cache", "openai", "vault: 403 forbidden",
			"provider openai: no token: vault: 403 forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := configtest.Write(t, "providers:\n  "+tc.provider+": {type: openai, base_url: https://a.example, model: m, auth: {type: test-failing, text: '"+tc.text+"'}}\n")
			set, err := Load(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			p, err := set.Provider(tc.provider)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Token(context.Background())
			if err == nil {
				t.Fatal("Token succeeded")
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if !errors.Is(err, errRoot) {
				t.Error("the chain lost its root cause")
			}
		})
	}
}

// An offline set (validate --offline) has no sources: asking it for a
// token is an error, not a nil dereference.
func TestOfflineSetGivesNoTokens(t *testing.T) {
	path := configtest.Write(t, "providers:\n  p: {type: openai, base_url: https://a.example, model: m, auth: {type: test-failing, text: x}}\n")
	set, err := Load(path, Options{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	p, err := set.Provider("p")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Token(context.Background())
	want := "provider p: no credential source: the config was loaded offline (registry.Options.Offline)"
	if err == nil || err.Error() != want {
		t.Errorf("Token() error = %v, want %q", err, want)
	}
}
