// Package session turns configured providers into Copilot SDK session
// configs: the provider part of a copilot.SessionConfig, with the credential in
// the field the runtime expects for the provider's type.
package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	copilot "github.com/github/copilot-sdk/go"
	"github.com/github/copilot-sdk/go/rpc"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

// Factory builds session configs from configured providers. It is safe for
// concurrent use.
type Factory struct {
	// src is read at every callback call, so after a reload the next
	// request of an existing session uses the new config.
	src registry.Providers
	// routed is set once f made the request handler the runtime routes its
	// model requests through (RequestHandler, RefreshOnRejection), which
	// a config's refresh_on_rejection needs.
	routed atomic.Bool
}

// Options configure a Factory. None exist yet; the parameter keeps
// NewFactory's signature stable as options are added.
type Options struct{}

// NewFactory returns a factory over providers: a *registry.Set, built in
// code (registry.NewSet) or loaded from a config file, or a *registry.Live.
func NewFactory(providers registry.Providers, opts Options) *Factory {
	return &Factory{src: providers}
}

// SessionConfig returns a copy of base (nil means an empty config) with
// Provider and Model set for the named provider ("" for the default one).
// Everything else in base — tools, permissions, streaming — stays the
// caller's choice.
//
// A config that sets refresh_on_rejection is refused unless f's
// RequestHandler (or RefreshOnRejection) was made first: the runtime must
// route its requests through it.
//
// It acquires one credential now, through the same path requests use, so a
// broken credential fails here with a clear error instead of on the first
// model request.
func (f *Factory) SessionConfig(ctx context.Context, name string, base *copilot.SessionConfig) (*copilot.SessionConfig, error) {
	if err := f.checkRejection(); err != nil {
		return nil, err
	}
	set, release := registry.Acquire(f.src) // held for the first token's fetch
	defer release()
	p, err := set.Provider(name)
	if err != nil {
		return nil, err
	}
	pc, err := f.ProviderConfig(ctx, p)
	if err != nil {
		return nil, err
	}
	cfg := copilot.SessionConfig{}
	if base != nil {
		cfg = *base
	}
	if cfg.Providers != nil {
		return nil, errors.New("session: base config sets Providers; a single-provider session cannot also have named providers")
	}
	cfg.Provider = pc
	cfg.Model = p.Model
	return &cfg, nil
}

// ProviderConfig returns the SDK provider config for p.
//
// Bearer tokens always go through BearerTokenProvider, so every model request
// carries a currently valid token; the static BearerToken field is set only
// for refresh: per_session (with type azure it silently wins over the
// callback, so the two are never combined). API keys for openai-type
// providers go through the callback too — the header is the same
// `Authorization: Bearer` — so a rotated key file reaches live sessions. For
// azure and anthropic an API key travels in its own header (`api-key`,
// `x-api-key`), which only the static APIKey field produces: those keys are
// read when the session is created.
func (f *Factory) ProviderConfig(ctx context.Context, p *registry.Provider) (*copilot.ProviderConfig, error) {
	cred, err := f.credential(ctx, p)
	if err != nil {
		return nil, err
	}
	return providerConfig(p, cred), nil
}

func providerConfig(p *registry.Provider, cred wiring) *copilot.ProviderConfig {
	return &copilot.ProviderConfig{
		Type:                p.Type,
		WireAPI:             p.WireAPI,
		BaseURL:             p.BaseURL,
		ModelID:             p.Model,
		WireModel:           p.WireModel,
		Headers:             copyHeaders(p.Headers),
		Azure:               azureOptions(p),
		APIKey:              cred.apiKey,
		BearerToken:         cred.bearer,
		BearerTokenProvider: cred.callback,
	}
}

// NamedProviderConfig returns p as a named provider of a multi-provider
// session, with the same credential wiring as ProviderConfig.
func (f *Factory) NamedProviderConfig(ctx context.Context, p *registry.Provider) (copilot.NamedProviderConfig, error) {
	cred, err := f.credential(ctx, p)
	if err != nil {
		return copilot.NamedProviderConfig{}, err
	}
	return copilot.NamedProviderConfig{
		Name:                p.Name,
		Type:                p.Type,
		WireAPI:             p.WireAPI,
		BaseURL:             p.BaseURL,
		Headers:             copyHeaders(p.Headers),
		Azure:               azureOptions(p),
		APIKey:              cred.apiKey,
		BearerToken:         cred.bearer,
		BearerTokenProvider: cred.callback,
	}, nil
}

// MultiSessionConfig returns a copy of base (nil means an empty config) for a
// session that can use every selectable model of the config: Providers (one
// per provider that serves a model, each with its own credential), Models,
// and Model set to the provider-qualified model ("" selects default_model).
// A credential is acquired for each provider now, so a broken one fails here.
func (f *Factory) MultiSessionConfig(ctx context.Context, model string, base *copilot.SessionConfig) (*copilot.SessionConfig, error) {
	if err := f.checkRejection(); err != nil {
		return nil, err
	}
	set, release := registry.Acquire(f.src) // held for the first tokens' fetches
	defer release()
	cfgFile := set.Config
	if model == "" {
		model = cfgFile.DefaultModel
	}
	if model == "" {
		return nil, fmt.Errorf("session: %w and no default_model set; choose one of: %s", ErrNoModel, strings.Join(cfgFile.ModelRefs(), ", "))
	}
	if _, err := lookupModel(cfgFile, model); err != nil {
		return nil, err
	}
	cfg := copilot.SessionConfig{}
	if base != nil {
		cfg = *base
	}
	if cfg.Provider != nil {
		return nil, errors.New("session: base config sets Provider; the runtime rejects Provider together with Providers")
	}
	cfg.Providers, cfg.Models = nil, nil
	inUse := map[string]bool{}
	for _, m := range cfgFile.AllModels() {
		cfg.Models = append(cfg.Models, copilot.ProviderModelConfig{
			ID: m.ID, Provider: m.Provider, WireModel: m.WireModel, Name: m.Name,
			MaxPromptTokens: m.MaxPromptTokens, MaxOutputTokens: m.MaxOutputTokens,
		})
		if !inUse[m.Provider] {
			inUse[m.Provider] = true
			p, err := set.Provider(m.Provider)
			if err != nil {
				return nil, err
			}
			np, err := f.NamedProviderConfig(ctx, p)
			if err != nil {
				return nil, err
			}
			cfg.Providers = append(cfg.Providers, np)
		}
	}
	cfg.Model = model
	return &cfg, nil
}

// The errors of choosing a model, for errors.Is: the caller's mistake, not
// a failure (the CLI exits 2 for them). A credential that fails is a
// *credential.TokenError instead, and an unknown provider name
// registry.ErrUnknownProvider.
var (
	// ErrUnknownModel: the model asked for is none of the config's
	// selectable models (the message lists them).
	ErrUnknownModel = errors.New("unknown model")
	// ErrNoModel: a multi-provider session was asked for with no model
	// while the config sets no default_model.
	ErrNoModel = errors.New("no model given")
)

func lookupModel(cfg *config.Config, ref string) (*config.Model, error) {
	m, ok := cfg.FindModel(ref)
	if !ok {
		hint := ""
		if !strings.Contains(ref, "/") {
			hint = " (models are provider-qualified, provider/id: a bare id would select a Copilot-hosted model)"
		}
		return nil, fmt.Errorf("session: %w %q%s; selectable: %s", ErrUnknownModel, ref, hint, strings.Join(cfg.ModelRefs(), ", "))
	}
	return m, nil
}

// SwitchModel moves a live multi-provider session to the model ref
// ("provider/id"), checking it first: the runtime's own error for an unknown
// or bare id is confusing.
func (f *Factory) SwitchModel(ctx context.Context, s *copilot.Session, ref string) error {
	if _, err := lookupModel(f.src.Current().Config, ref); err != nil {
		return err
	}
	if err := s.SetModel(ctx, ref, nil); err != nil {
		return fmt.Errorf("session: switching to %s: %w", ref, err)
	}
	return nil
}

// wiring is where a provider's credential goes in the SDK config: exactly
// one of the three fields is set.
type wiring struct {
	apiKey, bearer string
	callback       copilot.BearerTokenProvider
}

func (f *Factory) credential(ctx context.Context, p *registry.Provider) (wiring, error) {
	tok, err := f.Token(ctx, p)
	if err != nil {
		return wiring{}, err
	}
	return wire(p, tok, func() copilot.BearerTokenProvider { return f.Callback(p.Name) }), nil
}

func wire(p *registry.Provider, tok *credential.Token, callback func() copilot.BearerTokenProvider) wiring {
	switch {
	case p.CredentialHeader(tok.Kind) != "Authorization":
		// Azure's api-key and Anthropic's x-api-key: only the SDK's static
		// APIKey field produces those headers.
		return wiring{apiKey: tok.Value.Reveal()}
	case p.Refresh == kind.RefreshPerSession:
		// The SDK guide's pattern, on request: one token for the session's
		// life. The session fails when it expires.
		return wiring{bearer: tok.Value.Reveal()}
	default:
		return wiring{callback: callback()}
	}
}

func azureOptions(p *registry.Provider) *copilot.AzureProviderOptions {
	if p.APIVersion == "" {
		return nil
	}
	return &copilot.AzureProviderOptions{APIVersion: p.APIVersion}
}

func copyHeaders(h map[string]string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}

// Token fetches a currently valid token for p within ctx and the config's
// token_timeout: the path every model request takes. The SDK callback
// carries no context, so without that bound a stuck source would hang a
// model request until the caller's own deadline.
func (f *Factory) Token(ctx context.Context, p *registry.Provider) (*credential.Token, error) {
	tok, err := p.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	return tok, nil
}

// Callback returns the BearerTokenProvider for the named provider: the
// runtime calls it before every model request. The provider is looked up in
// the current config at each call (so a reload reaches live sessions), and
// each call is bounded by the token timeout.
func (f *Factory) Callback(name string) copilot.BearerTokenProvider {
	// The provider is resolved once per config generation, not per call:
	// the runtime calls this before every model request, and a map lookup
	// is a fair share of a warm call's cost.
	type resolved struct {
		set *registry.Set
		p   *registry.Provider
	}
	var last atomic.Pointer[resolved]
	return func(args copilot.ProviderTokenArgs) (string, error) {
		// Never hand one provider's credential to another's request: the
		// SDK routes by name, and a mismatch means a wiring bug.
		if args.ProviderName != "" && args.ProviderName != "default" && args.ProviderName != name {
			return "", fmt.Errorf("session: token requested for provider %q from the callback of %q", args.ProviderName, name)
		}
		// Held for the fetch: a reload meanwhile must not close the
		// source this request waits on.
		set, release := registry.Acquire(f.src)
		defer release()
		r := last.Load()
		if r == nil || r.set != set {
			p, err := set.Provider(name)
			if err != nil {
				return "", err
			}
			r = &resolved{set: set, p: p}
			last.Store(r)
		}
		tok, err := f.Token(context.Background(), r.p)
		if err != nil {
			return "", err
		}
		return tok.Value.Reveal(), nil
	}
}

// ToolFree returns a session config with no tools and every permission
// request denied: the right default for a credential tool's own chats, where
// the model must not get a shell on the user's machine.
func ToolFree() *copilot.SessionConfig {
	return &copilot.SessionConfig{
		AvailableTools:      []string{},
		OnPermissionRequest: DenyAll,
	}
}

// DenyAll is a permission handler that refuses every request.
func DenyAll(copilot.PermissionRequest, copilot.PermissionInvocation) (rpc.PermissionDecision, error) {
	return &rpc.PermissionDecisionDeniedInteractivelyByUser{}, nil
}

// Reply sends prompt on s, waits for the turn to finish, and returns the
// assistant's final message.
func Reply(ctx context.Context, s *copilot.Session, prompt string) (string, error) {
	ev, err := s.SendAndWait(ctx, copilot.MessageOptions{Prompt: prompt})
	if err != nil {
		return "", fmt.Errorf("session: %w", err)
	}
	if ev == nil {
		return "", errors.New("session: the turn ended without an assistant message")
	}
	if d, ok := ev.Data.(*copilot.AssistantMessageData); ok {
		return d.Content, nil
	}
	return "", fmt.Errorf("session: the turn ended with %T instead of an assistant message", ev.Data)
}
