package registry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
)

// ProviderSpec describes a provider built in code: what a provider's entry
// under `providers:` in a config file says, with a token source in place of
// its `auth:` block. NewProvider checks it by the rules a file's entry is
// checked by.
type ProviderSpec struct {
	// Name names the provider (letters, digits, '_', '-', '.'): sessions
	// and the proxy select it by this name.
	Name string
	// Type is openai, azure or anthropic (config.TypeOpenAI, ...).
	Type string
	// BaseURL is the endpoint, as a file's base_url.
	BaseURL string
	// WireAPI is completions or responses (openai and azure only); "" is
	// the runtime's default.
	WireAPI string
	// APIVersion selects Azure's deployment-style routes when set.
	APIVersion string
	// Model is the model id sent for this provider; it may be "" only
	// when the set lists the provider's models (SetSpec.Models).
	Model string
	// WireModel is the provider-side name (an Azure deployment), when it
	// differs from Model.
	WireModel string
	// Headers are extra request headers (never a credential header).
	Headers map[string]string

	// Source supplies the provider's credential: an adapter's
	// (credential/azadapt, oauth2adapt, awsadapt, gcpadapt), a
	// credential.TokenSourceFunc, or any credential.TokenSource. Its tokens
	// should carry their expiry: the registry caches them and refreshes
	// ahead of it.
	Source credential.TokenSource
	// PerUser, when not nil, makes the provider act on behalf of each user
	// (OAuth 2.0 on-behalf-of, RFC 8693 token exchange), as a file's
	// per-user credential: it is called with one user's current token and
	// returns the source of that user's provider tokens, cached per user
	// (Options.PerUser and MaxUsers apply). Sessions then come from
	// session.Factory.SessionConfigFor. Source may be nil with it.
	PerUser func(user credential.TokenSource) credential.TokenSource
	// Check, when not nil, confirms the provider's own credential with its
	// issuer without a user (for PerUser: the service's application
	// credential), as Provider.Check reports it to readiness probes and
	// Set.Check (`byokcred validate`) to its callers.
	Check func(ctx context.Context) error
	// Kind names the credential in errors, logs and listings, where a
	// file's provider shows its auth type (default "code").
	Kind string
	// Refresh is kind.RefreshPerRequest ("" means it: every model request
	// asks the cache) or kind.RefreshPerSession (one token for a session's
	// life).
	Refresh string
	// SelfCaching says Source needs no cache: its tokens never expire (a
	// fixed key) or it caches and refreshes ahead itself.
	SelfCaching bool
	// Cache, when not nil, tunes the cache put around Source (its
	// template is Options.Cache).
	Cache func(*credential.CacheOptions)
	// TokenTimeout bounds each credential fetch made for a model request
	// (default config.DefaultTokenTimeout), as a file's token_timeout.
	TokenTimeout time.Duration
}

// DefaultKind is the Kind of a code-built provider that names none.
const DefaultKind = "code"

// NewProvider builds a provider from spec: its source behind the same
// refresh-ahead cache a config file's provider gets, with opts' cache
// template, logger, clock and OnFetch (and PerUser and MaxUsers, for
// spec.PerUser; the other options are about config files). Put it in a
// set (NewSet, or Options.Providers beside a config file) to hand it to
// sessions and the proxy. Every problem of spec is reported at once, each
// naming its field.
//
// The provider is reference-counted: each set that holds it keeps its
// source open, and Close lets go of the hold NewProvider returns with.
func NewProvider(spec ProviderSpec, opts Options) (*Provider, error) {
	opts.defaults()
	cp := spec.configProvider()
	var problems []string
	if err := config.ValidateProvider(cp); err != nil {
		problems = append(problems, specProblems(err)...)
	}
	if spec.Source == nil && spec.PerUser == nil {
		problems = append(problems, fmt.Sprintf("provider %q: Source: no token source; give one (credential.TokenSourceFunc, or an adapter such as credential/azadapt)", spec.Name))
	}
	switch spec.Refresh {
	case "", kind.RefreshPerRequest, kind.RefreshPerSession:
	default:
		problems = append(problems, fmt.Sprintf("provider %q: Refresh: unknown refresh %q (one of: %s, %s)", spec.Name, spec.Refresh, kind.RefreshPerRequest, kind.RefreshPerSession))
	}
	if spec.TokenTimeout < 0 {
		problems = append(problems, fmt.Sprintf("provider %q: TokenTimeout: %s is negative; leave it 0 for the default", spec.Name, spec.TokenTimeout))
	}
	if len(problems) > 0 {
		return nil, specError(problems)
	}
	res := kind.Result{Source: spec.Source, Refresh: spec.Refresh, SelfCaching: spec.SelfCaching, Cache: spec.Cache, PerUser: spec.PerUser, Check: spec.Check}
	b, err := build(spec.Name, res, opts)
	if err != nil {
		return nil, fmt.Errorf("registry: provider %q: %w", spec.Name, err)
	}
	p := &Provider{Provider: cp, AuthType: spec.Kind, tokenTimeout: spec.TokenTimeout, now: opts.Now}
	if p.AuthType == "" {
		p.AuthType = DefaultKind
	}
	p.use("code:"+spec.Name, b)
	p.hold = &holders{closer: b.closer()}
	p.hold.n.Store(1)
	return p, nil
}

func (spec ProviderSpec) configProvider() *config.Provider {
	return &config.Provider{
		Name: spec.Name, Type: spec.Type, BaseURL: spec.BaseURL, WireAPI: spec.WireAPI,
		APIVersion: spec.APIVersion, Model: spec.Model, WireModel: spec.WireModel,
		Headers: maps.Clone(spec.Headers),
	}
}

// holders counts what holds a code-built provider's source open: the
// program that built it until it calls Close, and each set that holds it.
// The last to let go closes the source.
type holders struct {
	n      atomic.Int64
	closer any
	once   sync.Once
	err    error
}

// acquire adds a holder, unless the source is closed already.
func (h *holders) acquire() bool {
	for {
		n := h.n.Load()
		if n <= 0 {
			return false
		}
		if h.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (h *holders) release() error {
	if h.n.Add(-1) != 0 {
		return nil
	}
	h.once.Do(func() {
		if c, ok := h.closer.(credential.Closer); ok {
			h.err = c.Close()
		}
	})
	return h.err
}

// setHold is a set's hold on a code-built provider: closing the set lets
// go of it.
type setHold struct{ h *holders }

func (s setHold) Close() error { return s.h.release() }

// Close lets go of the hold NewProvider returned the provider with; its
// source closes once no set holds it either. Close it once. For a provider
// of a loaded set it does nothing: the set closes it.
func (p *Provider) Close() error {
	if p.hold == nil {
		return nil
	}
	return p.hold.release()
}

// SetSpec is a set built in code: its providers, and what a config file's
// top-level keys say about them.
type SetSpec struct {
	// Providers are built by NewProvider. A provider may be in several
	// sets; each holds its source open until the set is closed.
	Providers []*Provider
	// DefaultProvider is used when no provider is named; optional with
	// one provider.
	DefaultProvider string
	// Models lists selectable models for multi-provider sessions, beside
	// each provider's own Model.
	Models []config.Model
	// DefaultModel is the provider-qualified model ("provider/id") a
	// multi-provider session starts with.
	DefaultModel string
	// RefreshOnRejection, as a file's refresh_on_rejection: a session
	// factory then refuses to make configs until its RequestHandler is in
	// use.
	RefreshOnRejection bool
}

// NewSet returns a set of code-built providers, for session.NewFactory,
// the proxy and the agent: what Load returns for a config file. Every
// problem of spec is reported at once, each naming its field. Closing the
// set lets go of its hold on each provider.
func NewSet(spec SetSpec) (*Set, error) {
	cfg := &config.Config{DefaultProvider: spec.DefaultProvider, DefaultModel: spec.DefaultModel, RefreshOnRejection: spec.RefreshOnRejection, Providers: map[string]*config.Provider{}}
	for i := range spec.Models {
		m := spec.Models[i]
		cfg.Models = append(cfg.Models, &m)
	}
	providers := map[string]*Provider{}
	var problems []string
	for i, p := range spec.Providers {
		switch {
		case p == nil:
			problems = append(problems, fmt.Sprintf("Providers[%d] is nil", i))
		case p.hold == nil:
			problems = append(problems, fmt.Sprintf("Providers[%d] (%q) belongs to a loaded set, which closes it; build it with NewProvider, or mix code-built providers into a loaded set with Options.Providers", i, p.Name))
		case providers[p.Name] != nil:
			problems = append(problems, fmt.Sprintf("Providers[%d]: provider name %q is taken by another provider; give each its own", i, p.Name))
		default:
			providers[p.Name] = p
			cfg.Providers[p.Name] = p.Provider
		}
	}
	if err := cfg.Validate(); err != nil {
		problems = append(problems, specProblems(err)...)
	}
	if len(problems) > 0 {
		return nil, specError(problems)
	}
	s := &Set{Config: cfg, providers: providers, owned: map[string]any{}, taken: map[string]bool{}, built: map[string]built{}}
	if err := s.holdAll(cfg.Names(), "Providers"); err != nil {
		return nil, err
	}
	return s, nil
}

// holdAll makes s hold the code-built providers of s named names, or none
// of them when one is closed already (then s is left as it was, for its
// caller to abandon). field names the list in the error.
func (s *Set) holdAll(names []string, field string) error {
	var closed []string
	var held []*holders
	for _, name := range names {
		p := s.providers[name]
		if !p.hold.acquire() {
			closed = append(closed, strconv.Quote(name))
			continue
		}
		held = append(held, p.hold)
	}
	if len(closed) > 0 {
		for _, h := range held {
			h.release()
		}
		return fmt.Errorf("registry: %s: provider %s is closed (Provider.Close let go of its last holder); build it again with NewProvider", field, strings.Join(closed, ", "))
	}
	for _, name := range names {
		s.own("code:"+name, setHold{s.providers[name].hold})
	}
	return nil
}

// addCode adds the code-built providers extra (Options.Providers) to s, a
// set loaded from a config file; a name in both is refused. It runs once
// the file's providers are built.
func (s *Set) addCode(extra []*Provider) error {
	if len(extra) == 0 {
		return nil
	}
	var problems []string
	for i, p := range extra {
		switch {
		case p == nil:
			problems = append(problems, fmt.Sprintf("Options.Providers[%d] is nil", i))
		case p.hold == nil:
			problems = append(problems, fmt.Sprintf("Options.Providers[%d] (%q) belongs to a loaded set, which closes it; build it with NewProvider", i, p.Name))
		case s.Config.Providers[p.Name] != nil:
			problems = append(problems, fmt.Sprintf("Options.Providers[%d]: provider name %q is in the config file too; rename one", i, p.Name))
		case s.providers[p.Name] != nil:
			problems = append(problems, fmt.Sprintf("Options.Providers[%d]: provider name %q is taken by another provider; give each its own", i, p.Name))
		default:
			s.providers[p.Name] = p
		}
	}
	if len(problems) > 0 {
		return specError(problems)
	}
	// The file's config, with the code-built providers beside its own:
	// names, models and the default provider are read from Config.
	cfg := *s.Config
	cfg.Providers = maps.Clone(cfg.Providers)
	if cfg.Providers == nil { // a file with no providers of its own
		cfg.Providers = map[string]*config.Provider{}
	}
	var names []string
	for _, p := range extra {
		cfg.Providers[p.Name] = p.Provider
		names = append(names, p.Name)
	}
	s.Config = &cfg
	return s.holdAll(names, "Options.Providers")
}

// codeField names the Go field of ProviderSpec, SetSpec or config.Model
// after the config file's key, for the problems of a spec ("" for none).
// The spec types carry the config types' field names, so the names come
// from the config types' yaml tags (a field the spec lacks, such as auth,
// has none), read on the first problem rather than when the package loads.
func codeField(key string) string { return codeFields()[key] }

var codeFields = sync.OnceValue(func() map[string]string {
	fields := map[string]string{}
	for _, pair := range [][2]reflect.Type{
		{reflect.TypeFor[config.Provider](), reflect.TypeFor[ProviderSpec]()},
		{reflect.TypeFor[config.Config](), reflect.TypeFor[SetSpec]()},
		{reflect.TypeFor[config.Model](), reflect.TypeFor[config.Model]()},
	} {
		file, spec := pair[0], pair[1]
		for f := range file.Fields() {
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if _, inSpec := spec.FieldByName(f.Name); inSpec && key != "" && key != "-" {
				fields[key] = f.Name
			}
		}
	}
	return fields
})

// goFieldOr returns key's Go field, or key itself.
func goFieldOr(key string) string {
	if f := codeField(key); f != "" {
		return f
	}
	return key
}

// specMsg is e's message for a spec: `missing key "base_url"` becomes
// `BaseURL is empty` (a spec has every field, some left empty) when the
// key is a field of the spec types.
func specMsg(e *config.Error) string {
	var mk *config.MissingKeyError
	if errors.As(e.Err, &mk) {
		if f := codeField(mk.Key); f != "" {
			return f + " is empty" + mk.Hint
		}
	}
	return e.Msg
}

// specProblems turns the config.ErrorList of a spec's check into lines that
// name Go fields instead of file positions: `provider "x": BaseURL: …`.
func specProblems(err error) []string {
	var el config.ErrorList
	if !errors.As(err, &el) {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range el {
		out = append(out, specPath(e.Path)+specMsg(e))
	}
	return out
}

// specPath returns the Go spelling of a config key path, with ": ".
func specPath(path string) string {
	if path == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(path, "providers."); ok {
		name, field, _ := strings.Cut(rest, ".")
		out := "provider " + strconv.Quote(name)
		if field != "" {
			key, sub, _ := strings.Cut(field, ".")
			out += ": " + goFieldOr(key)
			if sub != "" {
				out += "[" + strconv.Quote(sub) + "]"
			}
		}
		return out + ": "
	}
	// models[0].provider, default_model …
	key, sub, _ := strings.Cut(path, ".")
	idx := ""
	if i := strings.IndexByte(key, '['); i >= 0 {
		key, idx = key[:i], key[i:]
	}
	out := "SetSpec." + goFieldOr(key) + idx
	if sub != "" {
		out += "." + goFieldOr(sub)
	}
	return out + ": "
}

func specError(problems []string) error {
	return errors.New("registry: " + strings.Join(problems, "\nregistry: "))
}
