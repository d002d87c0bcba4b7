package registry

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/provider"
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
// Errors name the provider once.
func (p *Provider) Token(ctx context.Context) (*provider.Token, error) {
	if p.Cache != nil {
		if tok, ok := p.Cache.Fresh(); ok {
			return tok, nil
		}
	}
	if p.Source == nil {
		return nil, fmt.Errorf("provider %s: no credential source: the config was loaded offline (registry.Options.Offline)", p.Name)
	}
	timeout := p.tokenTimeout
	if timeout <= 0 {
		timeout = config.DefaultTokenTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tok, err := p.Source.Token(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("provider %s: no credential within %s (token_timeout): %w", p.Name, timeout, err)
		}
		return nil, &providerError{name: p.Name, err: err}
	}
	if tok == nil || tok.Value.IsZero() {
		return nil, fmt.Errorf("provider %s: source returned an empty credential", p.Name)
	}
	if tok.Expired(p.now()) {
		return nil, fmt.Errorf("provider %s: source returned a token that expired at %s", p.Name, tok.Expiry.Format(time.RFC3339))
	}
	return tok, nil
}

// providerError names the provider once. The layers below name it too,
// for their own callers: the cache as "provider: NAME: " (the first of the
// providers sharing it) and the plugin host as `plugin "P", provider
// "NAME": `; here those repeats are dropped from the text (errors.Is and
// errors.As still see the whole chain).
type providerError struct {
	name string
	err  error
}

var (
	cacheNaming = regexp.MustCompile(`^provider: [^:\s]+: `)
	hostNaming  = regexp.MustCompile(`(plugin "[^"]*"), provider "[^"]*": `)
)

func (e *providerError) Error() string {
	msg := cacheNaming.ReplaceAllLiteralString(e.err.Error(), "")
	if loc := hostNaming.FindStringSubmatchIndex(msg); loc != nil {
		msg = msg[:loc[0]] + msg[loc[2]:loc[3]] + ": " + msg[loc[1]:]
	}
	return "provider " + e.name + ": " + msg
}

func (e *providerError) Unwrap() error { return e.err }

// DescribeToken returns what p's auth config and source know about tok
// beyond its JWT claims (see TokenDescriber): nil when neither describes
// tokens. tok should be a token p handed out.
func (p *Provider) DescribeToken(tok *provider.Token) []TokenFact {
	var facts []TokenFact
	if d, ok := p.Auth.(TokenDescriber); ok {
		facts = append(facts, d.DescribeToken(tok)...)
	}
	if d, ok := p.raw.(TokenDescriber); ok {
		facts = append(facts, d.DescribeToken(tok)...)
	}
	return facts
}
