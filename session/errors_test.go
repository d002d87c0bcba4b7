package session_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	copilot "github.com/github/copilot-sdk/go"
	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

var errGateway = errors.New("gateway: 503")

// downAuth is a credential whose identity provider is down.
type downAuth struct {
	Name string `yaml:"name"`
}

func (a *downAuth) Validate(*kind.Build) {}
func (a *downAuth) Source(*kind.Build) (kind.Result, error) {
	return kind.Result{Source: downSource{}}, nil
}

type downSource struct{}

func (downSource) Token(context.Context) (*credential.Token, error) {
	return nil, fmt.Errorf("unknown model deployment: %w", errGateway)
}

func init() { kind.Register("test-down", func() kind.AuthConfig { return new(downAuth) }) }

// TestFactoryErrorsMatch: the factory's errors are told apart with
// errors.Is and errors.As — a model or provider that does not exist, no
// model at all, a credential that fails — and say the same as before.
func TestFactoryErrorsMatch(t *testing.T) {
	t.Parallel()
	// A factory per case: a failed fetch is answered from the backoff
	// when asked again.
	factory := func(t *testing.T) *session.Factory {
		set, err := registry.Load(configtest.Write(t, `providers:
  alpha: {type: openai, base_url: https://alpha.example, model: m1, auth: {type: static, api_key: k}}
  down: {type: openai, base_url: https://down.example, model: m2, auth: {type: test-down, name: d}}
`), registry.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { set.Close() })
		return session.NewFactory(set, session.Options{})
	}
	ctx := context.Background()
	tests := []struct {
		name    string
		err     func(f *session.Factory) error
		is      error
		wantMsg string
	}{
		{"unknown model", func(f *session.Factory) error { _, err := f.MultiSessionConfig(ctx, "alpha/nope", nil); return err },
			session.ErrUnknownModel, `session: unknown model "alpha/nope"; selectable: alpha/m1, down/m2`},
		{"bare model id", func(f *session.Factory) error { _, err := f.MultiSessionConfig(ctx, "m1", nil); return err },
			session.ErrUnknownModel, `session: unknown model "m1" (models are provider-qualified, provider/id: a bare id would select a Copilot-hosted model); selectable: alpha/m1, down/m2`},
		{"no model", func(f *session.Factory) error { _, err := f.MultiSessionConfig(ctx, "", nil); return err },
			session.ErrNoModel, "session: no model given and no default_model set; choose one of: alpha/m1, down/m2"},
		{"unknown provider", func(f *session.Factory) error { _, err := f.SessionConfig(ctx, "nope", nil); return err },
			registry.ErrUnknownProvider, `registry: unknown provider "nope" (configured: alpha, down)`},
		{"credential failure", func(f *session.Factory) error { _, err := f.SessionConfig(ctx, "down", nil); return err },
			errGateway, "session: provider down: no token: unknown model deployment: gateway: 503"},
		{"credential failure in a model request", func(f *session.Factory) error {
			_, err := f.Callback("down")(copilot.ProviderTokenArgs{ProviderName: "down"})
			return err
		}, errGateway, "session: provider down: no token: unknown model deployment: gateway: 503"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err(factory(t))
			if !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
			if diff := cmp.Diff(tc.wantMsg, fmt.Sprint(err)); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			// Only a credential's failure is a TokenError, whatever its
			// text says.
			var te *credential.TokenError
			if got, want := errors.As(err, &te), tc.is == errGateway; got != want {
				t.Errorf("errors.As(%v, *credential.TokenError) = %v, want %v", err, got, want)
			}
			if te != nil && (te.Provider != "down" || te.Kind != "test-down") {
				t.Errorf("TokenError names provider %q of kind %q, want down of test-down", te.Provider, te.Kind)
			}
		})
	}
}
