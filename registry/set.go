package registry

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
)

// Options configure loading.
type Options struct {
	// LookupEnv resolves ${VAR} references and *_env keys. Default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Offline checks the config without building sources: nothing is
	// read, fetched or started (`validate --offline`, CI without the
	// production secrets). Problems of the environment (config.Error's
	// Environment: unset variables, missing files and plugin binaries) are
	// not reported. The Set returned names its providers but has no
	// sources: it cannot give tokens.
	Offline bool
	// Logger receives operational logs: refresh failures, reloads and
	// their failures, plugin output. Default: slog.Default(), so a library
	// program sees what the CLI prints (pass a logger with a discarding
	// handler to silence it).
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Cache is the template for the token cache put around each source
	// (Name, Now and Logger are filled in per provider).
	Cache credential.CacheOptions
	// OnFetch, when set, is told of every fetch a provider's cache makes
	// (see metrics.Metrics.OnFetch).
	OnFetch func(provider string, took time.Duration, err error)
	// PerUser says the program creates sessions for users (see
	// Provider.ForUser): without it, a credential that acts on behalf of a
	// user (on-behalf-of, token exchange) is refused at load, since nothing
	// could ever supply its user.
	PerUser bool
	// MaxUsers bounds the per-user caches of each per-user credential
	// (default DefaultMaxUsers); the least recently used user goes first.
	MaxUsers int
	// HTTPClient carries every request the credential kinds and secret
	// stores make through their SDKs (identity endpoints, Entra, Key Vault,
	// Secret Manager, Secrets Manager), as azcore's ClientOptions.Transport
	// and x/oauth2's context client do: a program sets it for a proxy, a
	// private CA or tests that serve fakes. Nil leaves each SDK its own
	// default client. Its Transport (nil: http.DefaultTransport) is what the
	// SDKs that take a RoundTripper get.
	HTTPClient *http.Client
	// Providers are built in code (NewProvider) and join the config
	// file's providers in every set Load, New and a Live build, so one
	// session can use both; each set holds them open until it is closed.
	// A name in both is refused.
	Providers []*Provider
}

func (o *Options) defaults() {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Provider is a configured provider with its credential source: one of a
// config file's, or one built in code (NewProvider).
type Provider struct {
	*config.Provider
	// AuthType is the auth block's `type:` (a code-built provider's
	// ProviderSpec.Kind).
	AuthType string
	// Auth is the decoded auth block (nil for a code-built provider).
	Auth kind.AuthConfig
	// Source supplies the provider's credentials. Providers with identical
	// auth blocks share one Source. It is the Cache, when there is one.
	Source credential.TokenSource
	// Cache is the token cache around the auth type's source (nil for
	// sources that need none, such as static keys).
	Cache *credential.Cache
	// Refresh is RefreshPerRequest or RefreshPerSession.
	Refresh string

	// users holds the per-user caches of a credential that acts on behalf
	// of users (nil otherwise); Source then refuses to serve.
	users *userCaches
	// result is what the auth type built (kind.Result): its own source
	// (inside Cache, when there is one), its health check and how it
	// describes tokens.
	result kind.Result
	// key identifies the built source among the set's (see configKey):
	// providers that share it are checked once.
	key string

	tokenTimeout time.Duration
	now          func() time.Time
	// hold is set for a provider built in code (NewProvider): the sets
	// that hold it and its builder share its source.
	hold *holders
}

// KindSource returns the source the provider's auth type built
// (kind.Result.Source), before the registry's cache (nil for a per-user
// credential that built none of its own): the conformance kit (kindtest) calls it directly, since through the
// cache neither a caller's cancellation nor concurrent calls would reach
// the kind. Programs use Token.
func (p *Provider) KindSource() credential.TokenSource { return p.result.Source }

// Set is a loaded config: every provider with its source. It is safe for
// concurrent use.
type Set struct {
	Config *config.Config

	providers map[string]*Provider

	// prev is the set this one replaces during a reload: sources and shared
	// state with the same key are carried over instead of rebuilt, so caches
	// stay warm and plugin processes keep running.
	prev *Set

	mu sync.Mutex
	// owned holds everything this set must close, by key: "src:<config
	// key>" for sources, "state:<key>" for shared state.
	owned   map[string]any
	taken   map[string]bool // owned keys carried over from prev
	built   map[string]built
	ordered []string // owned keys in creation order, for closing in reverse
}

type built struct {
	result kind.Result // what the auth type built, before any cache
	src    credential.TokenSource
	cache  *credential.Cache
	users  *userCaches
	deps   []string // shared state keys the source uses
}

// use makes b the provider's source.
func (rp *Provider) use(key string, b built) {
	rp.key, rp.result = key, b.result
	rp.Source, rp.Cache, rp.users = b.src, b.cache, b.users
	rp.Refresh = b.result.Refresh
	if rp.Refresh == "" {
		rp.Refresh = kind.RefreshPerRequest
	}
}

// Load reads path and builds its providers. Every problem in the file is
// reported at once, as a config.ErrorList of FILE:LINE:COL lines.
func Load(path string, opts Options) (*Set, error) {
	opts.defaults()
	cfg, err := config.Load(path, opts.LookupEnv)
	if cfg == nil {
		return nil, err
	}
	// A config with problems is still checked here, so that the auth
	// blocks' problems join the same list (cfg.Doc).
	return New(cfg, opts)
}

// New builds the providers of a decoded config: decode each auth block
// strictly, validate everything, and only then build sources.
func New(cfg *config.Config, opts Options) (*Set, error) {
	return newSet(cfg, opts, nil, false)
}

// newSet builds the set of cfg. With checkValid (LoadChecked), a file with
// problems still gets the sources of the providers that have none of their
// own, so that their checks (a plugin's `config:` block) join the list:
// the set is then returned with the problems, for Check and Close only.
func newSet(cfg *config.Config, opts Options, prev *Set, checkValid bool) (*Set, error) {
	opts.defaults()
	s := &Set{Config: cfg, providers: map[string]*Provider{}, prev: prev, owned: map[string]any{}, taken: map[string]bool{}, built: map[string]built{}}
	ctxs := map[string]*kind.Build{}
	hosts := map[string]*buildHost{}
	for _, name := range cfg.Names() {
		p := cfg.Providers[name]
		rp := &Provider{Provider: p, AuthType: p.AuthType(), tokenTimeout: cfg.TokenTimeout, now: opts.Now}
		s.providers[name] = rp
		if p.Auth == nil {
			continue // reported by config
		}
		ctx, host := newBuild(s)
		ctx.Provider, ctx.Path, ctx.LookupEnv, ctx.Logger, ctx.Now, ctx.Offline, ctx.HTTPClient = p, p.Path()+".auth", opts.LookupEnv, opts.Logger, opts.Now, opts.Offline, opts.HTTPClient
		ctxs[name], hosts[name] = ctx, host
		if rp.AuthType == "" {
			ctx.Errorf("", "%v", missingType(kind.Types()))
			continue
		}
		auth, err := newAuthConfig(rp.AuthType)
		if err != nil {
			ctx.Errorf("type", "%v", err)
			continue
		}
		rp.Auth = auth
		cfg.Doc.Decode(p.Auth, ctx.Path, rp.Auth, "type")
		rp.Auth.Validate(ctx)
	}
	withdrawCodeProviders(cfg.Doc, opts.Providers)
	err := cfg.Doc.Err()
	if opts.Offline {
		err = withoutEnvironment(err)
	}
	var invalid func(name string) bool
	switch {
	case err != nil && checkValid && !opts.Offline:
		invalid = withProblems(err)
	case err != nil:
		return nil, err
	}
	if opts.Offline {
		if err := s.addCode(opts.Providers); err != nil {
			return nil, err
		}
		return s, nil
	}
	for _, name := range cfg.Names() {
		if invalid != nil && invalid(name) {
			continue
		}
		rp := s.providers[name]
		key := configKey(rp.AuthType, rp.Auth)
		if b, ok := s.built[key]; ok {
			rp.use(key, b)
			continue
		}
		if b, ok := s.takeFromPrev(key); ok {
			s.built[key] = b
			rp.use(key, b)
			continue
		}
		hosts[name].used = nil
		res, err := rp.Auth.Source(ctxs[name])
		if err != nil {
			ctxs[name].Errorf("", "%v", err)
			continue
		}
		if res.Source == nil && res.PerUser == nil {
			ctxs[name].Errorf("", "auth type %s built no token source (kind.Result.Source)", rp.AuthType)
			continue
		}
		if ua, ok := rp.Auth.(kind.UserActor); ok && ua.ActsForEachUser() != (res.PerUser != nil) {
			// Commands that describe the config without building it
			// (copilot-env) go by the declaration: it must be true.
			if c, ok := res.Source.(credential.Closer); ok {
				c.Close()
			}
			built := "without"
			if res.PerUser != nil {
				built = "with"
			}
			ctxs[name].Errorf("", "auth type %s says ActsForEachUser() = %t, but its Source built a Result %s PerUser (kind.UserActor): make them agree", rp.AuthType, ua.ActsForEachUser(), built)
			continue
		}
		b, err := build(name, res, opts)
		if err != nil {
			ctxs[name].Errorf("", "%w", err) // ErrNeedsUser stays recognisable
			continue
		}
		b.deps = hosts[name].used
		s.built[key] = b
		s.own("src:"+key, b.closer())
		rp.use(key, b)
	}
	if invalid != nil {
		return s, cfg.Doc.Err()
	}
	if err := cfg.Doc.Err(); err != nil {
		s.abandon()
		return nil, err
	}
	if err := s.addCode(opts.Providers); err != nil {
		s.abandon()
		return nil, err
	}
	s.prev = nil
	return s, nil
}

// Processes returns the processes run by the set's shared state, sorted by
// name.
func (s *Set) Processes() []kind.Process {
	s.mu.Lock()
	var reporters []kind.ProcessReporter
	for _, v := range s.owned {
		if r, ok := v.(kind.ProcessReporter); ok {
			reporters = append(reporters, r)
		}
	}
	s.mu.Unlock()
	var out []kind.Process
	for _, r := range reporters {
		out = append(out, r.Processes()...)
	}
	slices.SortFunc(out, func(a, b kind.Process) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Names returns the provider names, sorted.
func (s *Set) Names() []string { return s.Config.Names() }

// Provider returns the named provider; "" means the default provider (the
// config's default_provider, or the only provider).
func (s *Set) Provider(name string) (*Provider, error) {
	if name == "" {
		name = s.Config.DefaultProvider
	}
	if name == "" {
		if len(s.providers) == 1 {
			for _, p := range s.providers {
				return p, nil
			}
		}
		return nil, fmt.Errorf("registry: several providers are configured and no default_provider is set; name one of: %s", strings.Join(s.Names(), ", "))
	}
	p, ok := s.providers[name]
	if !ok {
		return nil, fmt.Errorf("registry: %w %q (configured: %s)", ErrUnknownProvider, name, strings.Join(s.Names(), ", "))
	}
	return p, nil
}

func (s *Set) shared(key string, create func() any) any {
	s.mu.Lock()
	v, ok := s.owned["state:"+key]
	s.mu.Unlock()
	if ok {
		return v
	}
	if s.prev != nil {
		s.prev.mu.Lock()
		pv, ok := s.prev.owned["state:"+key]
		delete(s.prev.owned, "state:"+key)
		s.prev.mu.Unlock()
		if ok {
			s.own("state:"+key, pv)
			s.mu.Lock()
			s.taken["state:"+key] = true
			s.mu.Unlock()
			return pv
		}
	}
	v = create()
	s.own("state:"+key, v)
	return v
}

func (s *Set) own(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.owned[key]; !dup {
		s.ordered = append(s.ordered, key)
	}
	s.owned[key] = v
}

// takeFromPrev moves the source built for key out of the previous set.
func (s *Set) takeFromPrev(key string) (built, bool) {
	if s.prev == nil {
		return built{}, false
	}
	p := s.prev
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.built[key]
	if !ok {
		return built{}, false
	}
	if _, owned := p.owned["src:"+key]; !owned {
		return built{}, false
	}
	delete(p.owned, "src:"+key)
	delete(p.built, key)
	s.mu.Lock()
	defer s.mu.Unlock()
	// The shared state the source depends on (a plugin process) moves with
	// it, unless another carried-over source already brought it.
	for _, dep := range b.deps {
		k := "state:" + dep
		if v, ok := p.owned[k]; ok {
			delete(p.owned, k)
			s.ordered = append(s.ordered, k)
			s.owned[k] = v
			s.taken[k] = true
		}
	}
	s.ordered = append(s.ordered, "src:"+key)
	s.owned["src:"+key] = b.src
	s.taken["src:"+key] = true
	return b, true
}

// Current returns s itself: a Set is a fixed snapshot, while a Live returns
// whichever set is current. Consumers that accept either take a Current()
// method.
func (s *Set) Current() *Set { return s }

// Close releases every source's resources (background refreshers, plugin
// processes) that were not carried over into a newer set. The set must not
// be used afterwards.
func (s *Set) Close() error {
	s.mu.Lock()
	var closers []credential.Closer
	seen := map[string]bool{}
	for i := len(s.ordered) - 1; i >= 0; i-- {
		key := s.ordered[i]
		if seen[key] {
			continue // handed away and back during a rejected reload
		}
		seen[key] = true
		if v, ok := s.owned[key]; ok {
			if c, ok := v.(credential.Closer); ok {
				closers = append(closers, c)
			}
		}
	}
	s.owned, s.ordered, s.prev = map[string]any{}, nil, nil
	s.mu.Unlock()
	var errs []error
	for _, c := range closers {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// abandon closes what a failed build created and hands back to the previous
// set whatever it had taken from it, so a rejected reload leaves the old
// set whole.
func (s *Set) abandon() {
	if p := s.prev; p != nil {
		p.mu.Lock()
		s.mu.Lock()
		for key := range s.taken {
			v, ok := s.owned[key]
			if !ok {
				continue
			}
			p.owned[key] = v
			p.ordered = append(p.ordered, key)
			if ck, isSrc := strings.CutPrefix(key, "src:"); isSrc {
				p.built[ck] = s.built[ck]
			}
			delete(s.owned, key)
		}
		s.mu.Unlock()
		p.mu.Unlock()
	}
	s.Close()
}

// withdrawCodeProviders withdraws the file's problems that the providers a
// program adds in code answer: a models: entry or default_provider naming
// one (the file is parsed before the registry knows them), no providers in
// the file. Problems naming any other provider stay as they are.
func withdrawCodeProviders(doc *config.Doc, code []*Provider) {
	names := map[string]bool{}
	for _, p := range code {
		if p != nil {
			names[p.Name] = true
		}
	}
	if len(names) == 0 {
		return
	}
	doc.Withdraw(func(e *config.Error) bool {
		var up *config.UnknownProviderError
		return errors.Is(e, config.ErrNoProviders) || errors.As(e, &up) && names[up.Name]
	})
}

// withProblems returns whether a provider cannot be built for its check
// alongside the problems of err (a config.ErrorList): one with a problem
// in its own block, or any provider when a problem lies where a source may
// depend on it (a `plugins:` entry, a problem with no key: one whose
// source would fail for another block's reason is left for the next pass,
// not reported twice).
func withProblems(err error) func(name string) bool {
	var el config.ErrorList
	if !errors.As(err, &el) {
		return func(string) bool { return true }
	}
	bad := map[string]bool{}
	for _, e := range el {
		switch {
		case e.Path == "", e.Path == "plugins", strings.HasPrefix(e.Path, "plugins."):
			return func(string) bool { return true }
		case strings.HasPrefix(e.Path, "providers."):
			name, _, _ := strings.Cut(strings.TrimPrefix(e.Path, "providers."), ".")
			bad[name] = true
		}
	}
	return func(name string) bool { return bad[name] }
}

// withoutEnvironment drops the problems of the environment from a
// config.ErrorList (nil when none is left).
func withoutEnvironment(err error) error {
	var el config.ErrorList
	if !errors.As(err, &el) {
		return err
	}
	var kept config.ErrorList
	for _, e := range el {
		if !e.Environment {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return kept
}
