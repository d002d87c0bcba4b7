package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
)

// Providers is what consumers (session factories, the proxy, metrics) read
// providers from: a *Set (fixed) or a *Live (reloadable). Reading Current
// at each use is what lets a reload reach live sessions.
type Providers interface {
	Current() *Set
}

var (
	_ Providers = (*Set)(nil)
	_ Providers = (*Live)(nil)
)

// Token returns a currently valid credential for p: a fresh cached token at
// once (one atomic load, no allocation: this is on every model request's
// path), otherwise a fetch bounded by ctx and the config's token_timeout.
// Its errors are *credential.TokenError naming the provider once, with the
// cause in the chain.
func (p *Provider) Token(ctx context.Context) (*credential.Token, error) {
	if p.Cache != nil {
		if tok, ok := p.Cache.Fresh(); ok {
			return tok, nil
		}
	}
	if p.Source == nil {
		return nil, &credential.TokenError{Provider: p.Name, Kind: p.AuthType, Op: "no credential source: the config was loaded offline (registry.Options.Offline)"}
	}
	timeout := p.timeout()
	fetchCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tok, err := p.Source.Token(fetchCtx)
	if err != nil {
		return nil, p.tokenError(ctx, timeout, "", err)
	}
	if tok == nil || tok.Value.IsZero() {
		return nil, &credential.TokenError{Provider: p.Name, Kind: p.AuthType, Op: "source returned an empty credential"}
	}
	if tok.Expired(p.now()) {
		return nil, &credential.TokenError{Provider: p.Name, Kind: p.AuthType, Op: "source returned a token that expired at " + tok.Expiry.Format(time.RFC3339)}
	}
	return tok, nil
}

func (p *Provider) timeout() time.Duration {
	if p.tokenTimeout <= 0 {
		return config.DefaultTokenTimeout
	}
	return p.tokenTimeout
}

// tokenError is err, the failed fetch of a token for p, as a TokenError
// that names p and its kind once. The cache's own TokenError (named after
// the first of the providers sharing the cache, or after the user, for a
// per-user cache) is copied with p's name, never changed: every waiter of
// a fetch shares it. Any other error becomes the cause. user, when not "",
// names the user the token was for. caller is the requester's context: a
// deadline that passed while the caller's had not is token_timeout's, and
// the message says so.
func (p *Provider) tokenError(caller context.Context, timeout time.Duration, user string, err error) *credential.TokenError {
	var te credential.TokenError
	if cached, ok := err.(*credential.TokenError); ok {
		te = *cached
	} else {
		te = credential.TokenError{Err: err}
	}
	te.Provider, te.Kind = p.Name, p.AuthType
	if user != "" {
		te.Op = joinOp(user, te.Op)
	}
	if errors.Is(err, context.DeadlineExceeded) && caller.Err() == nil {
		te.Op = joinOp(fmt.Sprintf("no credential within %s (token_timeout)", timeout), te.Op)
	}
	return &te
}

func joinOp(outer, inner string) string {
	if inner == "" {
		return outer
	}
	return outer + ": " + inner
}

// DescribeToken returns what p's auth type knows about tok beyond its JWT
// claims (kind.Result.Describe): nil when it does not describe tokens. tok
// should be a token p handed out.
func (p *Provider) DescribeToken(tok *credential.Token) []kind.TokenFact {
	if p.result.Describe == nil {
		return nil
	}
	return p.result.Describe(tok)
}
