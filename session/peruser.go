package session

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	copilot "github.com/github/copilot-sdk/go"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/registry"
)

// SessionConfigFor is SessionConfig for a session that acts for one user:
// user returns that user's current access token (the application keeps it
// fresh, as with an x/oauth2 TokenSource), and every model request of the
// session carries a token minted on behalf of that user by the provider's
// per-user credential (entra on_behalf_of, token exchange). The user is
// bound to the session's callback: there is no process-wide "current user"
// to set, so one session can never be served another user's token.
//
// The provider must be a per-user one, and a per-user provider serves only
// sessions created this way: SessionConfig refuses it, SessionConfigFor
// refuses a provider with an identity of its own. One token is minted now,
// so a rejected user token fails here.
func (f *Factory) SessionConfigFor(ctx context.Context, name string, user credential.TokenSource, base *copilot.SessionConfig) (*copilot.SessionConfig, error) {
	set, release := registry.Acquire(f.src) // held for the first token's fetch
	defer release()
	p, err := set.Provider(name)
	if err != nil {
		return nil, err
	}
	us, err := p.ForUser(user)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	tok, err := us.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	cfg := copilot.SessionConfig{}
	if base != nil {
		cfg = *base
	}
	if cfg.Providers != nil {
		return nil, errors.New("session: base config sets Providers; a single-provider session cannot also have named providers")
	}
	cfg.Provider = providerConfig(p, wire(p, tok, func() copilot.BearerTokenProvider { return f.callbackFor(p.Name, user, set, us) }))
	cfg.Model = p.Model
	return &cfg, nil
}

// callbackFor is Callback for one user's session. first is the user source
// in firstSet; after a reload the provider is looked up again.
func (f *Factory) callbackFor(name string, user credential.TokenSource, firstSet *registry.Set, first *registry.UserSource) copilot.BearerTokenProvider {
	type resolved struct {
		set *registry.Set
		us  *registry.UserSource
	}
	var last atomic.Pointer[resolved]
	last.Store(&resolved{set: firstSet, us: first})
	return func(args copilot.ProviderTokenArgs) (string, error) {
		if args.ProviderName != "" && args.ProviderName != "default" && args.ProviderName != name {
			return "", fmt.Errorf("session: token requested for provider %q from the callback of %q", args.ProviderName, name)
		}
		set, release := registry.Acquire(f.src) // held for the fetch, as in Callback
		defer release()
		r := last.Load()
		if r.set != set {
			p, err := set.Provider(name)
			if err != nil {
				return "", err
			}
			us, err := p.ForUser(user)
			if err != nil {
				return "", fmt.Errorf("session: %w", err)
			}
			r = &resolved{set: set, us: us}
			last.Store(r)
		}
		tok, err := r.us.Token(context.Background())
		if err != nil {
			return "", fmt.Errorf("session: %w", err)
		}
		return tok.Value.Reveal(), nil
	}
}
