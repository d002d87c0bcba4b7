package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
)

// countingSource hands out numbered bearer tokens valid for ttl from now.
type countingSource struct {
	n      atomic.Int64
	ttl    time.Duration
	now    func() time.Time
	closed atomic.Int64
}

func (s *countingSource) Token(context.Context) (*credential.Token, error) {
	n := s.n.Add(1)
	return &credential.Token{Value: credential.NewSecret("tok-" + string(rune('0'+n))), Kind: credential.KindBearer, Expiry: s.now().Add(s.ttl)}, nil
}

func (s *countingSource) Close() error { s.closed.Add(1); return nil }

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func validSpec(name string, src credential.TokenSource) ProviderSpec {
	return ProviderSpec{Name: name, Type: config.TypeOpenAI, BaseURL: "https://" + name + ".example", Model: "m", Source: src}
}

// TestNewProviderSpecProblems: a spec is checked by the rules of a file's
// provider entry, every problem at once, each naming its Go field.
func TestNewProviderSpecProblems(t *testing.T) {
	t.Parallel()
	src := credential.StaticTokenSource(&credential.Token{Value: credential.NewSecret("k"), Kind: credential.KindAPIKey})
	tests := []struct {
		name string
		spec ProviderSpec
		want []string
	}{
		{"empty", ProviderSpec{}, []string{
			`registry: provider "": provider name "": use letters, digits, '_', '-' and '.', starting with a letter or digit (no '/')`,
			`registry: provider "": Type is empty (one of: anthropic, azure, openai)`,
			`registry: provider "": BaseURL is empty`,
			`registry: provider "": Source: no token source; give one (credential.TokenSourceFunc, or an adapter such as credential/azadapt)`,
		}},
		{"bad fields", ProviderSpec{Name: "a", Type: "azure", BaseURL: "https://a.example/chat/completions", WireAPI: "chat", APIVersion: "2024", Model: "gpt 4",
			Headers: map[string]string{"Api-Key": "x"}, Source: src, Refresh: "hourly", TokenTimeout: -time.Second}, []string{
			`registry: provider "a": WireAPI: unknown wire_api "chat" (one of: completions, responses)`,
			`registry: provider "a": APIVersion: api_version "2024" is not an Azure OpenAI API version: use a date such as 2024-10-21 or 2025-04-01-preview, or preview or latest`,
			`registry: provider "a": Model: model "gpt 4" holds a space, a control or an invisible character; model names are single words such as gpt-4.1`,
			`registry: provider "a": BaseURL: base_url ends in the endpoint path /chat/completions, which the runtime appends itself (requests would go to …/chat/completions/chat/completions): remove /chat/completions from base_url`,
			`registry: provider "a": Headers["Api-Key"]: credential header "Api-Key" in headers: configure the credential under auth: instead`,
			`registry: provider "a": Refresh: unknown refresh "hourly" (one of: per_request, per_session)`,
			`registry: provider "a": TokenTimeout: -1s is negative; leave it 0 for the default`,
		}},
		{"anthropic with /v1", ProviderSpec{Name: "c", Type: "anthropic", BaseURL: "https://c.example/v1", Model: "claude", Source: src}, []string{
			`registry: provider "c": BaseURL: for anthropic leave /v1 out of base_url: the runtime appends /v1/messages`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := NewProvider(tc.spec, Options{Logger: quiet()})
			if err == nil {
				p.Close()
				t.Fatal("NewProvider accepted the spec")
			}
			if diff := cmp.Diff(tc.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestNewProviderCachesAndRefreshesAhead: a code-built provider's source
// sits behind the registry's cache: one fetch serves many requests, and the
// next comes before the token expires.
func TestNewProviderCachesAndRefreshesAhead(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New()
	src := &countingSource{ttl: time.Hour, now: clock.Now}
	var fetches atomic.Int64
	p, err := NewProvider(ProviderSpec{Name: "code", Type: "openai", BaseURL: "https://code.example", Model: "m", Source: src, Kind: "mine"},
		Options{Logger: quiet(), Now: clock.Now, OnFetch: func(name string, _ time.Duration, _ error) { fetches.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for range 3 {
		if _, err := p.Token(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if p.Cache == nil {
		t.Fatal("no cache around a code-built source")
	}
	st := p.Cache.Stats()
	aheadOfExpiry := !st.RefreshAt.IsZero() && st.RefreshAt.Before(st.Expiry)
	clock.Advance(time.Hour + time.Minute) // past expiry: the next request fetches
	tok, err := p.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Kind, Refresh, Token string
		Fetches, SourceCalls int64
		AheadOfExpiry        bool
	}
	want := summary{Kind: "mine", Refresh: "per_request", Token: "tok-2", Fetches: 2, SourceCalls: 2, AheadOfExpiry: true}
	got := summary{p.AuthType, p.Refresh, tok.Value.Reveal(), fetches.Load(), src.n.Load(), aheadOfExpiry}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestCodeProviderHolders: a code-built provider's source stays open while
// its builder or any set holds it, and closes when the last lets go.
func TestCodeProviderHolders(t *testing.T) {
	t.Parallel()
	src := &countingSource{ttl: time.Hour, now: time.Now}
	p, err := NewProvider(validSpec("held", src), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	s1, err := NewSet(SetSpec{Providers: []*Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	s2, err := NewSet(SetSpec{Providers: []*Provider{p}})
	if err != nil {
		t.Fatal(err)
	}
	var closedAfter []int64
	for _, c := range []func() error{p.Close, s1.Close, s2.Close} {
		if err := c(); err != nil {
			t.Fatal(err)
		}
		closedAfter = append(closedAfter, src.closed.Load())
	}
	if diff := cmp.Diff([]int64{0, 0, 1}, closedAfter); diff != "" {
		t.Errorf("source closes after builder, set 1, set 2 (-want +got):\n%s", diff)
	}
	_, err = NewSet(SetSpec{Providers: []*Provider{p}})
	want := `registry: Providers: provider "held" is closed (Provider.Close let go of its last holder); build it again with NewProvider`
	if err == nil || err.Error() != want {
		t.Errorf("a set of a closed provider: err = %v, want %s", err, want)
	}
}

// TestNewSetProblems: a set built in code is checked as a file's top-level
// keys are.
func TestNewSetProblems(t *testing.T) {
	t.Parallel()
	src := credential.StaticTokenSource(&credential.Token{Value: credential.NewSecret("k"), Kind: credential.KindAPIKey})
	a, err := NewProvider(validSpec("a", src), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	noModel := validSpec("b", src)
	noModel.Model = ""
	b, err := NewProvider(noModel, Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	loaded, err := Load(configtest.Write(t, "providers:\n  y: {type: openai, base_url: https://y.example, model: m, auth: {type: test-echo, value: k}}\n"), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer loaded.Close()
	y, _ := loaded.Provider("y")
	tests := []struct {
		name string
		spec SetSpec
		want []string
	}{
		{"empty", SetSpec{}, []string{"registry: SetSpec.Providers: no providers configured; add one under providers:"}},
		{"bad", SetSpec{Providers: []*Provider{a, a, nil, y, b}, DefaultProvider: "z", DefaultModel: "m", Models: []config.Model{{ID: "x", Provider: "q"}}}, []string{
			`registry: Providers[1]: provider name "a" is taken by another provider; give each its own`,
			`registry: Providers[2] is nil`,
			`registry: Providers[3] ("y") belongs to a loaded set, which closes it; build it with NewProvider, or mix code-built providers into a loaded set with Options.Providers`,
			`registry: SetSpec.DefaultProvider: unknown provider "z" (configured: a, b)`,
			`registry: SetSpec.Models[0].Provider: unknown provider "q" (configured: a, b)`,
			`registry: provider "b": Model is empty: the model id to send (or list the provider's models under models:)`,
			`registry: SetSpec.DefaultModel: default_model "m" must be provider-qualified, provider/id (a bare id would select a Copilot-hosted model)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSet(tc.spec)
			if err == nil {
				s.Close()
				t.Fatal("NewSet accepted the spec")
			}
			if diff := cmp.Diff(tc.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigFileWithCodeProviders: code-built providers join a config
// file's in one set, across reloads, and a name in both is refused.
func TestConfigFileWithCodeProviders(t *testing.T) {
	t.Parallel()
	src := &countingSource{ttl: time.Hour, now: time.Now}
	code, err := NewProvider(validSpec("code", src), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	path := configtest.Write(t, `default_provider: file
providers:
  file: {type: openai, base_url: https://f.example, model: m, auth: {type: test-echo, value: file-tok}}
models:
  - {id: m2, provider: file}
`)
	live, err := NewLive(path, Options{Logger: quiet(), Providers: []*Provider{code}})
	if err != nil {
		t.Fatal(err)
	}
	code.Close() // the live set holds it now
	set := live.Current()
	var toks []string
	for _, name := range set.Names() {
		p, err := set.Provider(name)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := p.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, name+"="+tok.Value.Reveal())
	}
	if diff := cmp.Diff([]string{"code=tok-1", "file=file-tok"}, toks); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"code/m", "file/m", "file/m2"}, set.Config.ModelRefs()); diff != "" {
		t.Errorf("models (-want +got):\n%s", diff)
	}
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	p, err := live.Current().Provider("code")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	closedBeforeClose := src.closed.Load()
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{0, 1, 1}, []int64{closedBeforeClose, src.closed.Load(), src.n.Load()}); diff != "" {
		t.Errorf("closed before, after Live.Close, fetches across the reload (-want +got):\n%s", diff)
	}

	clash, err := NewProvider(validSpec("file", src), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer clash.Close()
	twin, err := NewProvider(validSpec("twin", src), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer twin.Close()
	_, err = Load(path, Options{Logger: quiet(), Providers: []*Provider{clash, twin, twin}})
	want := "registry: Options.Providers[0]: provider name \"file\" is in the config file too; rename one\n" +
		"registry: Options.Providers[2]: provider name \"twin\" is taken by another provider; give each its own"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// TestFileModelsNameCodeProviders: a file's models:, default_provider
// and default_model may name a provider the program adds in code
// (Options.Providers), as they name the file's own; a name neither has is
// refused with the file-only message at its position, and a file with no
// providers of its own is accepted when the program adds some.
func TestFileModelsNameCodeProviders(t *testing.T) {
	t.Parallel()
	code, err := NewProvider(validSpec("code", &countingSource{ttl: time.Hour, now: time.Now}), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer code.Close()
	const withFile = `default_provider: code
default_model: code/m2
providers:
  file: {type: openai, base_url: https://f.example, model: m, auth: {type: test-echo, value: file-tok}}
models:
  - {id: m2, provider: code}
  - {id: m3, provider: file}
`
	tests := []struct {
		name       string
		config     string
		code       []*Provider
		wantModels []string
		wantErr    string // FILE stands for the config's path
	}{
		{"models and defaults name a code provider", withFile, []*Provider{code}, []string{"code/m", "code/m2", "file/m", "file/m3"}, ""},
		{"no providers in the file", `models:
  - {id: m2, provider: code}
`, []*Provider{code}, []string{"code/m", "code/m2"}, ""},
		{"a file-only program: the same problems as before", withFile, nil, nil,
			`FILE:1:19: default_provider: unknown provider "code" (configured: file)` + "\n" +
				`FILE:6:24: models[0].provider: unknown provider "code" (configured: file)`},
		{"a name neither has", `providers:
  file: {type: openai, base_url: https://f.example, model: m, auth: {type: test-echo, value: file-tok}}
models:
  - {id: m2, provider: nowhere}
`, []*Provider{code}, nil, `FILE:4:24: models[0].provider: unknown provider "nowhere" (configured: file)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := configtest.Write(t, tc.config)
			set, err := Load(path, Options{Logger: quiet(), Providers: tc.code})
			var gotModels []string
			gotErr := ""
			if err != nil {
				gotErr = strings.ReplaceAll(err.Error(), path, "FILE")
			} else {
				gotModels = set.Config.ModelRefs()
				set.Close()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantModels, gotModels); diff != "" {
				t.Errorf("models (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCodeProviderInSetsConcurrently: sets are built and closed around one
// provider from many goroutines (the race detector watches), and the source
// outlives them all until its builder lets go.
func TestCodeProviderInSetsConcurrently(t *testing.T) {
	t.Parallel()
	src := &countingSource{ttl: time.Hour, now: time.Now}
	p, err := NewProvider(validSpec("shared", src), Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			s, err := NewSet(SetSpec{Providers: []*Provider{p}})
			if err != nil {
				t.Error(err)
				return
			}
			sp, err := s.Provider("")
			if err == nil {
				_, err = sp.Token(context.Background())
			}
			if err != nil {
				t.Error(err)
			}
			s.Close()
		})
	}
	wg.Wait()
	openAfterSets := src.closed.Load() == 0
	p.Close()
	if !openAfterSets || src.closed.Load() != 1 {
		t.Errorf("source open after the sets closed: %v; closed after the builder let go: %d times (want 1)", openAfterSets, src.closed.Load())
	}
}

// TestCodeBuiltPerUser: a code-built provider with PerUser mints each
// user's tokens from that user's token, caches them per user, and is
// refused without Options.PerUser, as a file's per-user credential is.
func TestCodeBuiltPerUser(t *testing.T) {
	t.Parallel()
	var minted atomic.Int64
	exchange := func(user credential.TokenSource) credential.TokenSource {
		return credential.TokenSourceFunc(func(ctx context.Context) (*credential.Token, error) {
			ut, err := user.Token(ctx)
			if err != nil {
				return nil, err
			}
			minted.Add(1)
			return &credential.Token{Value: credential.NewSecret("for-" + ut.Value.Reveal()), Kind: credential.KindBearer, Expiry: time.Now().Add(time.Hour)}, nil
		})
	}
	spec := ProviderSpec{Name: "obo", Type: "openai", BaseURL: "https://obo.example", Model: "m", PerUser: exchange}
	_, err := NewProvider(spec, Options{Logger: quiet()})
	want := `registry: provider "obo": this credential acts on behalf of each user, and this program has no user to supply: set registry.Options.PerUser and create each session for its user (session.Factory.SessionConfigFor)`
	if err == nil || err.Error() != want {
		t.Fatalf("without Options.PerUser: err = %v, want %s", err, want)
	}
	if !errors.Is(err, ErrNeedsUser) {
		t.Errorf("errors.Is(%v, ErrNeedsUser) = false, want true", err)
	}
	p, err := NewProvider(spec, Options{Logger: quiet(), PerUser: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	user := func(v string) credential.TokenSource {
		return credential.StaticTokenSource(&credential.Token{Value: credential.NewSecret(v), Kind: credential.KindBearer, Expiry: time.Now().Add(time.Hour)})
	}
	var got []string
	for _, u := range []string{"alice", "bob", "alice"} {
		us, err := p.ForUser(user(u))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := us.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tok.Value.Reveal())
	}
	_, ownErr := p.Token(context.Background())
	if diff := cmp.Diff([]string{"for-alice", "for-bob", "for-alice"}, got); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
	if minted.Load() != 2 || !errors.Is(ownErr, ErrNeedsUser) {
		t.Errorf("minted %d (want 2: one per user), token without a user: %v (want ErrNeedsUser)", minted.Load(), ownErr)
	}
}

func TestNamedFields(t *testing.T) {
	t.Parallel()
	missing := func(key, hint string) *config.Error {
		mk := &config.MissingKeyError{Key: key, Hint: hint}
		return &config.Error{Msg: mk.Error(), Err: fmt.Errorf("%w", mk)}
	}
	tests := []struct {
		name string
		in   *config.Error
		want string
	}{
		{"spec field", missing("base_url", ""), `BaseURL is empty`},
		{"with a hint", missing("model", ": the model id to send"), `Model is empty: the model id to send`},
		{"not a spec field", missing("auth", ": how to authenticate"), `missing key "auth": how to authenticate`},
		{"another problem", &config.Error{Msg: `unknown type "x"`}, `unknown type "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, specMsg(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
