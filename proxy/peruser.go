package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/byokcred/byokcred/provider"
	"github.com/byokcred/byokcred/registry"
)

// errNoUserToken is a per-user provider's request without a usable
// `Authorization: Bearer` user token.
var errNoUserToken = errors.New("missing or malformed user token")

// userToken exchanges the client's own bearer token (the user's access
// token for the proxy's application) for one minted on the user's behalf.
// The user's token is never forwarded: Authorization is one of the client
// credential headers the rewrite strips.
func (s *Server) userToken(r *http.Request, p *registry.Provider) (*provider.Token, error) {
	h := r.Header.Get("Authorization")
	if len(h) <= 7 || !strings.EqualFold(h[:7], "bearer ") {
		return nil, errNoUserToken
	}
	v := strings.TrimSpace(h[7:])
	if v == "" || strings.ContainsAny(v, " \t,") {
		return nil, errNoUserToken
	}
	us, err := p.ForUser(userBearer{&provider.Token{Value: provider.NewSecret(v), Kind: provider.KindBearer}})
	if err != nil {
		return nil, err
	}
	return us.Token(r.Context())
}

// userError is the answer to a request whose user token could not be
// exchanged: 401 with what the client can act on when the token is the
// problem, 503 when the identity provider is; never its full answer.
func userError(p *registry.Provider, err error) (int, string) {
	switch {
	case errors.Is(err, errNoUserToken):
		return http.StatusUnauthorized, fmt.Sprintf("proxy: provider %s acts on behalf of the caller: send your access token for this proxy's application as Authorization: Bearer", p.Name)
	case errors.Is(err, registry.ErrUserRejected):
		return http.StatusUnauthorized, fmt.Sprintf("proxy: provider %s: your access token was not accepted (expired, revoked or not issued for this proxy's application); sign in again", p.Name)
	}
	return http.StatusServiceUnavailable, fmt.Sprintf("proxy: provider %s: could not obtain a token on your behalf; try again later", p.Name)
}

type userBearer struct{ tok *provider.Token }

func (u userBearer) Token(context.Context) (*provider.Token, error) { return u.tok, nil }
