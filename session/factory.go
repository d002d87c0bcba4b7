// Package session turns configured providers into Copilot SDK session
// configs: the provider part of a copilot.SessionConfig, with the credential in
// the field the runtime expects for the provider's type.
package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	copilot "github.com/github/copilot-sdk/go"
	"github.com/github/copilot-sdk/go/rpc"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/provider"
	"github.com/byokcred/byokcred/registry"
)

// Factory builds session configs from a registry.Set. It is safe for
// concurrent use.
type Factory struct {
	set *registry.Set
	// tokenTimeout bounds each credential fetch the runtime triggers: the SDK
	// callback carries no context, so without a bound a stuck source would
	// hang a model request until the caller's own deadline.
	tokenTimeout time.Duration
	now          func() time.Time
}

// Options configure a Factory.
type Options struct {
	// TokenTimeout overrides the config's token_timeout.
	TokenTimeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// NewFactory returns a factory over set.
func NewFactory(set *registry.Set, opts Options) *Factory {
	f := &Factory{set: set, tokenTimeout: opts.TokenTimeout, now: opts.Now}
	if f.tokenTimeout <= 0 {
		f.tokenTimeout = set.Config.TokenTimeout
	}
	if f.tokenTimeout <= 0 {
		f.tokenTimeout = config.DefaultTokenTimeout
	}
	if f.now == nil {
		f.now = time.Now
	}
	return f
}

// SessionConfig returns a copy of base (nil means an empty config) with
// Provider and Model set for the named provider ("" for the default one).
// Everything else in base — tools, permissions, streaming — stays the
// caller's choice.
//
// It acquires one credential now, through the same path requests use, so a
// broken credential fails here with a clear error instead of on the first
// model request.
func (f *Factory) SessionConfig(ctx context.Context, name string, base *copilot.SessionConfig) (*copilot.SessionConfig, error) {
	p, err := f.set.Provider(name)
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
// carries a currently valid token; the static BearerToken field is never set
// (with type azure it would silently win over the callback). API keys for
// openai-type providers go the same way — the header is the same
// `Authorization: Bearer` — so a rotated key file reaches live sessions. For
// azure and anthropic an API key travels in its own header (`api-key`,
// `x-api-key`), which only the static APIKey field produces: those keys are
// read when the session is created.
func (f *Factory) ProviderConfig(ctx context.Context, p *registry.Provider) (*copilot.ProviderConfig, error) {
	tok, err := f.Token(ctx, p)
	if err != nil {
		return nil, err
	}
	pc := &copilot.ProviderConfig{
		Type:      p.Type,
		WireAPI:   p.WireAPI,
		BaseURL:   p.BaseURL,
		ModelID:   p.Model,
		WireModel: p.WireModel,
		Headers:   copyHeaders(p.Headers),
	}
	if p.APIVersion != "" {
		pc.Azure = &copilot.AzureProviderOptions{APIVersion: p.APIVersion}
	}
	switch {
	case tok.Kind == provider.KindAPIKey && p.Type != config.TypeOpenAI:
		pc.APIKey = tok.Value.Reveal()
	case p.Refresh == registry.RefreshPerSession:
		// The SDK guide's pattern, on request: one token for the session's
		// life. The session fails when it expires.
		pc.BearerToken = tok.Value.Reveal()
	default:
		pc.BearerTokenProvider = f.Callback(p)
	}
	return pc, nil
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

// Token fetches a currently valid token for p within ctx and the factory's
// token timeout: the path every model request takes.
func (f *Factory) Token(ctx context.Context, p *registry.Provider) (*provider.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, f.tokenTimeout)
	defer cancel()
	tok, err := p.Source.Token(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("session: provider %s: no credential within %s (token_timeout): %w", p.Name, f.tokenTimeout, err)
		}
		return nil, fmt.Errorf("session: provider %s: %w", p.Name, err)
	}
	if tok == nil || tok.Value.IsZero() {
		return nil, fmt.Errorf("session: provider %s: source returned an empty credential", p.Name)
	}
	if tok.Expired(f.now()) {
		return nil, fmt.Errorf("session: provider %s: source returned a token that expired at %s", p.Name, tok.Expiry.Format(time.RFC3339))
	}
	return tok, nil
}

// Callback returns the BearerTokenProvider for p: the runtime calls it before
// every model request. Each call is bounded by the token timeout.
func (f *Factory) Callback(p *registry.Provider) copilot.BearerTokenProvider {
	return func(copilot.ProviderTokenArgs) (string, error) {
		// Fast path: a fresh cached token, with no context, timer or
		// allocation. The runtime calls this before every model request.
		if p.Cache != nil {
			if tok, ok := p.Cache.Fresh(); ok {
				return tok.Value.Reveal(), nil
			}
		}
		tok, err := f.Token(context.Background(), p)
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
