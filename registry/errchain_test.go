package registry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/kind"
)

var errRoot = errors.New("root cause")

// failingAuth's source fails with its configured text, wrapped around
// errRoot. With plugin and provider set, the error names them as the
// plugin host's does (a credential.ProviderNamingError).
type failingAuth struct {
	Text     string `yaml:"text"`
	Plugin   string `yaml:"plugin"`
	Provider string `yaml:"provider"`
}

func (a *failingAuth) Validate(*kind.Build) {}
func (a *failingAuth) Source(*kind.Build) (kind.Result, error) {
	return kind.Result{Source: failingSource{*a}}, nil
}

type failingSource struct{ a failingAuth }

func (s failingSource) Token(context.Context) (*credential.Token, error) {
	if s.a.Plugin != "" {
		return nil, &namingError{plugin: s.a.Plugin, provider: s.a.Provider, text: s.a.Text}
	}
	return nil, &textError{s.a.Text}
}

type textError struct{ text string }

func (e *textError) Error() string { return e.text }
func (e *textError) Unwrap() error { return errRoot }

// namingError is shaped like the plugin host's *host.Error.
type namingError struct{ plugin, provider, text string }

func (e *namingError) Error() string {
	return fmt.Sprintf("plugins: plugin %q, provider %q: %s", e.plugin, e.provider, e.text)
}
func (e *namingError) ErrorWithoutProvider() string {
	return fmt.Sprintf("plugins: plugin %q: %s", e.plugin, e.text)
}
func (e *namingError) Unwrap() error { return errRoot }

// stuckAuth's source answers only when its context ends.
type stuckAuth struct {
	Name string `yaml:"name"`
}

func (a *stuckAuth) Validate(*kind.Build) {}
func (a *stuckAuth) Source(*kind.Build) (kind.Result, error) {
	return kind.Result{Source: sourceFunc(func(ctx context.Context) (*credential.Token, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})}, nil
}

func init() {
	kind.Register("test-failing", func() kind.AuthConfig { return new(failingAuth) })
	kind.Register("test-stuck", func() kind.AuthConfig { return new(stuckAuth) })
}

var errorsNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// errorsOptions: a fixed clock and no jitter, so the first failure's next
// attempt is due exactly half the minimum backoff (1 s) later.
func errorsOptions() Options {
	return Options{
		Now:   func() time.Time { return errorsNow },
		Cache: credential.CacheOptions{Rand: func() float64 { return 0 }},
	}
}

const errorsConfig = `token_timeout: 50ms
providers:
  openai: {type: openai, base_url: https://a.example, model: m, auth: {type: test-failing, text: 'vault: 403 forbidden'}}
  gateway: {type: openai, base_url: https://a.example, model: m, auth: {type: test-failing, text: 'plugin call failed: boom', plugin: stamp, provider: gateway}}
  shares: {type: openai, base_url: https://b.example, model: m, auth: {type: test-failing, text: 'plugin call failed: boom', plugin: stamp, provider: gateway}}
  stuck: {type: openai, base_url: https://a.example, model: m, auth: {type: test-stuck, name: s}}
`

func loadErrors(t *testing.T) *Set {
	t.Helper()
	set, err := Load(configtest.Write(t, errorsConfig), errorsOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	return set
}

// tokenOf asks the named provider of set for a token within ctx.
func tokenOf(ctx context.Context, t *testing.T, set *Set, name string) error {
	t.Helper()
	p, err := set.Provider(name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Token(ctx)
	if err == nil {
		t.Fatal("Token succeeded")
	}
	return err
}

// pastDeadline is a context whose own deadline has passed: the caller's,
// not the token_timeout.
func pastDeadline(t *testing.T) context.Context {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	t.Cleanup(cancel)
	return ctx
}

// tokenErrorCases are the failures of the token path, each with its
// message: the provider named once, whichever layers named it on the way
// (the cache, a plugin host, a per-user cache), and the cause's text kept.
func tokenErrorCases(t *testing.T) []struct {
	name string
	err  func(t *testing.T) error
	want string
} {
	return []struct {
		name string
		err  func(t *testing.T) error
		want string
	}{
		{"source error through the cache",
			func(t *testing.T) error { return tokenOf(context.Background(), t, loadErrors(t), "openai") },
			"provider openai: no token: vault: 403 forbidden"},
		{"answered from the backoff",
			func(t *testing.T) error {
				set := loadErrors(t)
				tokenOf(context.Background(), t, set, "openai")
				return tokenOf(context.Background(), t, set, "openai")
			},
			"provider openai: no token: vault: 403 forbidden (next attempt in 500ms)"},
		{"plugin host error through the cache",
			func(t *testing.T) error { return tokenOf(context.Background(), t, loadErrors(t), "gateway") },
			`provider gateway: no token: plugins: plugin "stamp": plugin call failed: boom`},
		{"a provider sharing another's cache",
			func(t *testing.T) error { return tokenOf(context.Background(), t, loadErrors(t), "shares") },
			`provider shares: no token: plugins: plugin "stamp": plugin call failed: boom`},
		{"token_timeout",
			func(t *testing.T) error { return tokenOf(context.Background(), t, loadErrors(t), "stuck") },
			"provider stuck: no credential within 50ms (token_timeout): waiting for a token: context deadline exceeded"},
		{"the caller's own deadline",
			func(t *testing.T) error { return tokenOf(pastDeadline(t), t, loadErrors(t), "stuck") },
			"provider stuck: waiting for a token: context deadline exceeded"},
		{"per-user: the user's token refused",
			func(t *testing.T) error {
				_, err := revokedUser(t).Token(context.Background())
				return err
			},
			"provider gw: token " + userToken("rv", errorsNow.Add(time.Hour)).Value.Fingerprint() + " claiming user oid=rv: no token: invalid_grant: the assertion was revoked (the user's token was not accepted)"},
		{"per-user: a refused token asked again",
			func(t *testing.T) error {
				us := revokedUser(t)
				us.Token(context.Background())
				_, err := us.Token(context.Background())
				return err
			},
			"provider gw: token " + userToken("rv", errorsNow.Add(time.Hour)).Value.Fingerprint() + " claiming user oid=rv: the identity provider refused this token less than 5m0s ago; not asking again: the user's token was not accepted"},
		{"per-user provider asked without a user",
			func(t *testing.T) error {
				_, p, _ := loadPerUser(t, errorsOptions())
				_, err := p.Token(context.Background())
				return err
			},
			"provider gw: the credential acts on behalf of a user: create the session for a user (session.Factory.SessionConfigFor)"},
	}
}

// revokedUser is the source of a user whose token the identity provider
// refuses.
func revokedUser(t *testing.T) *UserSource {
	_, p, fx := loadPerUser(t, errorsOptions())
	fx.now = errorsOptions().Now
	fx.revoked = map[string]bool{"rv": true}
	us, err := p.ForUser(fixedUser{userToken("rv", errorsNow.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	return us
}

// TestTokenErrorMessages: each layer of the token path used to prefix the
// provider's name, and the repeats were cut from the text by pattern; the
// timeout's and a per-user cache's slipped through ("provider stuck: no
// credential within 50ms (token_timeout): provider: stuck: waiting ...",
// "provider gw: provider: token ..."), and a caller's own deadline was
// blamed on token_timeout.
func TestTokenErrorMessages(t *testing.T) {
	for _, tc := range tokenErrorCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.err(t).Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestTokenErrorsMatch: every failure of the token path is a
// *credential.TokenError naming the provider, its kind and when the next
// attempt is due, with the cause still matched by errors.Is.
func TestTokenErrorsMatch(t *testing.T) {
	retry := errorsNow.Add(500 * time.Millisecond)
	tests := []struct {
		name string
		err  func(t *testing.T) error
		want credential.TokenError // Err is checked by is
		is   []error
	}{
		{"cache fetch failure, with its retry time",
			func(t *testing.T) error { return tokenOf(context.Background(), t, loadErrors(t), "openai") },
			credential.TokenError{Provider: "openai", Kind: "test-failing", Op: "no token", Retry: retry},
			[]error{errRoot}},
		{"answered from the backoff",
			func(t *testing.T) error {
				set := loadErrors(t)
				tokenOf(context.Background(), t, set, "openai")
				return tokenOf(context.Background(), t, set, "openai")
			},
			credential.TokenError{Provider: "openai", Kind: "test-failing", Op: "no token", Retry: retry},
			[]error{errRoot}},
		{"a provider sharing another's cache is named itself",
			func(t *testing.T) error { return tokenOf(context.Background(), t, loadErrors(t), "shares") },
			credential.TokenError{Provider: "shares", Kind: "test-failing", Op: "no token", Retry: retry},
			[]error{errRoot}},
		{"token_timeout",
			func(t *testing.T) error { return tokenOf(context.Background(), t, loadErrors(t), "stuck") },
			credential.TokenError{Provider: "stuck", Kind: "test-stuck", Op: "no credential within 50ms (token_timeout): waiting for a token"},
			[]error{context.DeadlineExceeded}},
		{"the caller's own deadline",
			func(t *testing.T) error { return tokenOf(pastDeadline(t), t, loadErrors(t), "stuck") },
			credential.TokenError{Provider: "stuck", Kind: "test-stuck", Op: "waiting for a token"},
			[]error{context.DeadlineExceeded}},
		{"per-user rejection",
			func(t *testing.T) error {
				_, err := revokedUser(t).Token(context.Background())
				return err
			},
			credential.TokenError{Provider: "gw", Kind: "test-exchange", Op: "token " + userToken("rv", errorsNow.Add(time.Hour)).Value.Fingerprint() + " claiming user oid=rv: no token", Retry: retry},
			[]error{ErrUserRejected}},
		{"per-user rejection remembered",
			func(t *testing.T) error {
				us := revokedUser(t)
				us.Token(context.Background())
				_, err := us.Token(context.Background())
				return err
			},
			credential.TokenError{Provider: "gw", Kind: "test-exchange"},
			[]error{ErrUserRejected}},
		{"per-user provider asked without a user",
			func(t *testing.T) error {
				_, p, _ := loadPerUser(t, errorsOptions())
				_, err := p.Token(context.Background())
				return err
			},
			credential.TokenError{Provider: "gw", Kind: "test-exchange"},
			[]error{ErrNeedsUser}},
		{"too many new users: retry when the limit allows",
			func(t *testing.T) error {
				_, p, _ := loadPerUser(t, errorsOptions())
				p.users.rate, p.users.burst, p.users.bucket = 2, 1, 0
				us, err := p.ForUser(fixedUser{userToken("new", errorsNow.Add(time.Hour))})
				if err != nil {
					t.Fatal(err)
				}
				_, err = us.Token(context.Background())
				var limit *UserLimitError
				if !errors.As(err, &limit) {
					t.Errorf("errors.As(%v, *UserLimitError) = false", err)
				}
				return err
			},
			credential.TokenError{Provider: "gw", Kind: "test-exchange", Retry: retry},
			nil},
		{"the user's own token failing",
			func(t *testing.T) error {
				_, p, _ := loadPerUser(t, errorsOptions())
				us, err := p.ForUser(sourceFunc(func(context.Context) (*credential.Token, error) { return nil, errRoot }))
				if err != nil {
					t.Fatal(err)
				}
				_, err = us.Token(context.Background())
				return err
			},
			credential.TokenError{Provider: "gw", Kind: "test-exchange", Op: "the user's own token"},
			[]error{errRoot}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err(t)
			var te *credential.TokenError
			if !errors.As(err, &te) {
				t.Fatalf("errors.As(%v, *credential.TokenError) = false", err)
			}
			if diff := cmp.Diff(tc.want, *te, cmpopts.IgnoreFields(credential.TokenError{}, "Err"), cmpopts.IgnoreUnexported(credential.TokenError{})); diff != "" {
				t.Errorf("TokenError (-want +got):\n%s", diff)
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("errors.Is(%v, %v) = false", err, target)
				}
			}
		})
	}
}

// TestUnknownProvider: Set.Provider's error for a name no provider has
// matches ErrUnknownProvider and lists the names configured.
func TestUnknownProvider(t *testing.T) {
	_, err := loadErrors(t).Provider("nope")
	if !errors.Is(err, ErrUnknownProvider) {
		t.Errorf("errors.Is(%v, ErrUnknownProvider) = false", err)
	}
	want := `registry: unknown provider "nope" (configured: gateway, openai, shares, stuck)`
	if diff := cmp.Diff(want, fmt.Sprint(err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
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
