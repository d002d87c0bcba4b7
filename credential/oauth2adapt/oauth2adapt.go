// Package oauth2adapt hands byokcred a golang.org/x/oauth2 TokenSource
// (client credentials, a JWT config, an oauth2.Config's refreshing source,
// your own) as a credential.TokenSource for a registry ProviderSpec.
package oauth2adapt

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/oauth2"

	"github.com/byokcred/byokcred/credential"
)

// TokenSource returns a source of ts's access tokens as bearer tokens,
// each with ts's expiry, so the registry's cache refreshes it ahead.
//
// An oauth2.TokenSource takes no context: the call runs on its own
// goroutine and a caller whose ctx ends gets ctx's error at once (the call
// finishes in the background). Give ts the context of x/oauth2's own
// options (oauth2.HTTPClient) for its HTTP client. Prefer the source
// under oauth2.ReuseTokenSource: that one serves its cached token until
// 10 s before expiry, so an early refresh would get the same token back.
func TokenSource(ts oauth2.TokenSource) credential.TokenSource {
	return source{ts}
}

type source struct{ ts oauth2.TokenSource }

type result struct {
	tok *oauth2.Token
	err error
}

// Token implements credential.TokenSource.
func (s source) Token(ctx context.Context) (*credential.Token, error) {
	if s.ts == nil {
		return nil, errors.New("oauth2adapt: no oauth2.TokenSource")
	}
	done := make(chan result, 1)
	go func() {
		tok, err := s.ts.Token()
		done <- result{tok, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("oauth2adapt: waiting for the oauth2 token source: %w", ctx.Err())
	}
	if r.err != nil {
		return nil, fmt.Errorf("oauth2adapt: %w", r.err)
	}
	if r.tok == nil || r.tok.AccessToken == "" {
		return nil, errors.New("oauth2adapt: the oauth2 token source returned no access token")
	}
	return &credential.Token{Value: credential.NewSecret(r.tok.AccessToken), Kind: credential.KindBearer, Expiry: r.tok.Expiry}, nil
}
