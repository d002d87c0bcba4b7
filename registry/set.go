package registry

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/provider"
)

// Options configure loading.
type Options struct {
	// LookupEnv resolves ${VAR} references and *_env keys. Default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Logger receives operational logs. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Cache is the template for the token cache put around each source
	// (Name, Now and Logger are filled in per provider).
	Cache provider.CacheOptions
	// OnFetch, when set, is told of every fetch a provider's cache makes
	// (see metrics.Metrics.OnFetch).
	OnFetch func(provider string, took time.Duration, err error)
}

func (o *Options) defaults() {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Provider is a configured provider with its credential source.
type Provider struct {
	*config.Provider
	// AuthType is the auth block's `type:`.
	AuthType string
	// Auth is the decoded auth block.
	Auth AuthConfig
	// Source supplies the provider's credentials. Providers with identical
	// auth blocks share one Source. It is the Cache, when there is one.
	Source provider.TokenSource
	// Cache is the token cache around the auth type's source (nil for
	// sources that need none, such as static keys).
	Cache *provider.Cache
	// Refresh is RefreshPerRequest or RefreshPerSession.
	Refresh string
}

// SelfCaching is implemented by auth configs whose sources need no token
// cache: their tokens do not expire (static keys) or they follow changes
// themselves.
type SelfCaching interface {
	SelfCaching() bool
}

// cacheTuner is implemented by auth configs that set options of the cache
// around their source (a plugin's max_age).
type cacheTuner interface {
	tuneCache(*provider.CacheOptions)
}

// RefreshModer is implemented by auth configs that let the user choose
// between per-request and per-session tokens.
type RefreshModer interface {
	RefreshMode() string
}

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
	src   provider.TokenSource
	cache *provider.Cache
	deps  []string // shared state keys the source uses
}

// Load reads path and builds its providers. Every problem in the file is
// reported at once, as a config.ErrorList of FILE:LINE:COL lines.
func Load(path string, opts Options) (*Set, error) {
	opts.defaults()
	cfg, err := config.Load(path, opts.LookupEnv)
	if err != nil {
		return nil, err
	}
	return New(cfg, opts)
}

// New builds the providers of a decoded config: decode each auth block
// strictly, validate everything, and only then build sources.
func New(cfg *config.Config, opts Options) (*Set, error) {
	return newSet(cfg, opts, nil)
}

func newSet(cfg *config.Config, opts Options, prev *Set) (*Set, error) {
	opts.defaults()
	s := &Set{Config: cfg, providers: map[string]*Provider{}, prev: prev, owned: map[string]any{}, taken: map[string]bool{}, built: map[string]built{}}
	ctxs := map[string]*Context{}
	for _, name := range cfg.Names() {
		p := cfg.Providers[name]
		rp := &Provider{Provider: p, AuthType: p.AuthType()}
		s.providers[name] = rp
		if p.Auth == nil {
			continue // reported by config
		}
		ctx := &Context{Provider: p, Path: p.Path() + ".auth", LookupEnv: opts.LookupEnv, Logger: opts.Logger, Now: opts.Now, Config: cfg, set: s}
		ctxs[name] = ctx
		if rp.AuthType == "" {
			ctx.Errorf("", "missing key \"type\" (known auth types: %s)", strings.Join(Types(), ", "))
			continue
		}
		newConfig, err := lookupType(rp.AuthType)
		if err != nil {
			ctx.Errorf("type", "%v", err)
			continue
		}
		rp.Auth = newConfig()
		cfg.Doc.Decode(p.Auth, ctx.Path, rp.Auth, "type")
		rp.Auth.Validate(ctx)
	}
	if err := cfg.Doc.Err(); err != nil {
		return nil, err
	}
	for _, name := range cfg.Names() {
		rp := s.providers[name]
		rp.Refresh = RefreshPerRequest
		if m, ok := rp.Auth.(RefreshModer); ok {
			rp.Refresh = m.RefreshMode()
		}
		key := configKey(rp.AuthType, rp.Auth)
		if b, ok := s.built[key]; ok {
			rp.Source, rp.Cache = b.src, b.cache
			continue
		}
		if b, ok := s.takeFromPrev(key); ok {
			s.built[key] = b
			rp.Source, rp.Cache = b.src, b.cache
			continue
		}
		ctxs[name].used = nil
		src, err := rp.Auth.Source(ctxs[name])
		if err != nil {
			ctxs[name].Errorf("", "%v", err)
			continue
		}
		b := built{deps: ctxs[name].used}
		if sc, ok := rp.Auth.(SelfCaching); ok && sc.SelfCaching() {
			b.src = src
		} else {
			co := opts.Cache
			co.Name, co.Now, co.Logger = name, opts.Now, opts.Logger.With("provider", name)
			// Refresh on a timer: an agent idle for an hour must still find a
			// valid token in hand when it wakes.
			co.Proactive = true
			if t, ok := rp.Auth.(cacheTuner); ok {
				t.tuneCache(&co)
			}
			if opts.OnFetch != nil {
				co.OnFetch = func(took time.Duration, err error) { opts.OnFetch(name, took, err) }
			}
			b.cache = provider.NewCache(src, co)
			b.src = b.cache // closing the cache closes src too
		}
		s.built[key] = b
		s.own("src:"+key, b.src)
		rp.Source, rp.Cache = b.src, b.cache
	}
	if err := cfg.Doc.Err(); err != nil {
		s.abandon()
		return nil, err
	}
	s.prev = nil
	return s, nil
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
		return nil, fmt.Errorf("registry: unknown provider %q (configured: %s)", name, strings.Join(s.Names(), ", "))
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
	var closers []provider.Closer
	seen := map[string]bool{}
	for i := len(s.ordered) - 1; i >= 0; i-- {
		key := s.ordered[i]
		if seen[key] {
			continue // handed away and back during a rejected reload
		}
		seen[key] = true
		if v, ok := s.owned[key]; ok {
			if c, ok := v.(provider.Closer); ok {
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
