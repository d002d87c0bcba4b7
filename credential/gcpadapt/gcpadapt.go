// Package gcpadapt hands byokcred a Google token provider: any
// cloud.google.com/go/auth TokenProvider (from credentials.DetectDefault,
// an impersonated or workload identity credential, your own) becomes a
// credential.TokenSource of bearer tokens for a registry ProviderSpec,
// such as a Vertex AI endpoint's.
package gcpadapt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/auth"

	"github.com/byokcred/byokcred/credential"
)

// TokenSource returns a source of tp's tokens, each with tp's expiry, so
// the registry's cache refreshes it ahead. Use the provider itself rather
// than one wrapped in auth.NewCachedTokenProvider where you can: a cached
// provider serves its token until shortly before expiry, so an early
// refresh would get the same token back.
func TokenSource(tp auth.TokenProvider) credential.TokenSource { return source{tp} }

type source struct{ tp auth.TokenProvider }

// Token implements credential.TokenSource.
func (s source) Token(ctx context.Context) (*credential.Token, error) {
	if s.tp == nil {
		return nil, errors.New("gcpadapt: no auth.TokenProvider")
	}
	tok, err := s.tp.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("gcpadapt: %w", err)
	}
	if tok == nil || tok.Value == "" {
		return nil, errors.New("gcpadapt: the token provider returned an empty token")
	}
	if tok.Type != "" && !strings.EqualFold(tok.Type, "bearer") {
		return nil, fmt.Errorf("gcpadapt: the token provider returned a %s token; model endpoints take bearer tokens", tok.Type)
	}
	return &credential.Token{Value: credential.NewSecret(tok.Value), Kind: credential.KindBearer, Expiry: tok.Expiry}, nil
}
