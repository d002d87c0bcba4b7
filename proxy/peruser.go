package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/registry"
)

// errNoUserToken is a per-user provider's request without a usable
// `Authorization: Bearer` user token.
var errNoUserToken = errors.New("missing or malformed user token")

// errClientTokenAsUser is a per-user provider's request whose
// `Authorization: Bearer` is the proxy's client token rather than the
// user's own token.
var errClientTokenAsUser = errors.New("the Authorization: Bearer token is the proxy's client token, not a user's token")

// userToken exchanges the client's own bearer token (the user's access
// token for the proxy's application) for one minted on the user's behalf.
// The user's token is never forwarded: Authorization is one of the client
// credential headers the rewrite strips.
//
// Once the exchange succeeded (the identity provider accepted the user's
// token), the token's claims go into x for the audit line.
func (s *Server) userToken(r *http.Request, p *registry.Provider, x *exchange) (*credential.Token, error) {
	h := r.Header.Get("Authorization")
	if len(h) <= 7 || !strings.EqualFold(h[:7], "bearer ") {
		return nil, errNoUserToken
	}
	v := strings.TrimSpace(h[7:])
	if v == "" || strings.ContainsAny(v, " \t,") {
		return nil, errNoUserToken
	}
	if !s.opts.ClientToken.IsZero() {
		// The client token authenticates the client to the proxy and never
		// leaves it: sent as the assertion, it would reach the identity
		// provider.
		if s.clientTokenMatch(v) == 1 {
			return nil, errClientTokenAsUser
		}
	}
	ut := &credential.Token{Value: credential.NewSecret(v), Kind: credential.KindBearer}
	us, err := p.ForUser(userBearer{ut})
	if err != nil {
		return nil, err
	}
	tok, err := us.Token(r.Context())
	if err != nil {
		return nil, err
	}
	if c, ok := credential.ParseClaims(ut.Value); ok {
		x.user = &c
	}
	return tok, nil
}

// userError is the answer to a request whose user token could not be
// exchanged: 401 with what the client can act on when the token is the
// problem, 429 with Retry-After when too many new user tokens arrive at
// once, 503 when the identity provider is the problem; never its full
// answer. retryAfter is 0 unless the client should wait.
//
// The new-user limit answers 429 rather than 503: it is the proxy turning
// away unknown tokens, not the identity provider failing, and model
// clients (OpenAI's and Anthropic's SDKs, the Copilot CLI) wait and retry
// a 429 with its Retry-After, as they do for the model's own rate limits.
func userError(p *registry.Provider, err error) (status int, msg string, retryAfter time.Duration) {
	var limit *registry.UserLimitError
	switch {
	case errors.Is(err, errNoUserToken):
		return http.StatusUnauthorized, fmt.Sprintf("proxy: provider %s acts on behalf of the caller: send your access token for this proxy's application as Authorization: Bearer", p.Name), 0
	case errors.Is(err, errClientTokenAsUser):
		return http.StatusUnauthorized, fmt.Sprintf("proxy: provider %s acts on behalf of the caller: Authorization: Bearer must carry your own access token for this proxy's application, not the proxy's client token (send that as %s, api-key or x-api-key)", p.Name, ClientTokenHeader), 0
	case errors.Is(err, registry.ErrUserRejected):
		return http.StatusUnauthorized, fmt.Sprintf("proxy: provider %s: your access token was not accepted (expired, revoked or not issued for this proxy's application); sign in again", p.Name), 0
	case errors.As(err, &limit):
		return http.StatusTooManyRequests, fmt.Sprintf("proxy: provider %s: too many new access tokens to exchange at once; try again shortly", p.Name), limit.RetryAfter
	}
	return http.StatusServiceUnavailable, fmt.Sprintf("proxy: provider %s: could not obtain a token on your behalf; try again later", p.Name), 0
}

type userBearer struct{ tok *credential.Token }

func (u userBearer) Token(context.Context) (*credential.Token, error) { return u.tok, nil }
