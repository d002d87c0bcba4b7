package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
)

// ClientTokenHeader is the header a client may carry the client token in
// when its other headers are taken.
const ClientTokenHeader = "X-Byokcred-Token"

// clientCredentialHeaders are removed from every request before it is
// forwarded: whatever key the client was configured with is not the
// provider's credential, and the client token must not leave the proxy.
var clientCredentialHeaders = []string{"Authorization", "Api-Key", "X-Api-Key", ClientTokenHeader}

// SetCredential puts tok into h in the header the provider type expects.
// This is the one place the proxy (and `byokcred doctor --probe`) reveals a
// credential: on its way out to the provider.
func SetCredential(h http.Header, typ string, tok *credential.Token) {
	switch name := config.CredentialHeader(typ, tok.Kind); name {
	case "Authorization":
		h.Set(name, "Bearer "+tok.Value.Reveal())
	default:
		h.Set(name, tok.Value.Reveal())
	}
}

// authorized reports whether r carries the client token, or none is
// required. Every candidate header is compared, by digest and in constant
// time, so neither timing nor length tells a prober how close a guess was.
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.ClientToken.IsZero() {
		return true
	}
	bearer := r.Header.Get("Authorization")
	if len(bearer) > 7 && strings.EqualFold(bearer[:7], "bearer ") {
		bearer = bearer[7:]
	} else {
		bearer = ""
	}
	ok := 0
	for _, c := range []string{r.Header.Get(ClientTokenHeader), bearer, r.Header.Get("Api-Key"), r.Header.Get("X-Api-Key")} {
		if c == "" {
			continue
		}
		ok |= s.clientTokenMatch(c)
	}
	return ok == 1
}

// clientTokenMatch is 1 when v is the client token, else 0: compared by
// digest, in constant time (a constant-time result, for callers that test
// several candidates without branching on each).
func (s *Server) clientTokenMatch(v string) int {
	sum := sha256.Sum256([]byte(v))
	return subtle.ConstantTimeCompare(sum[:], s.clientSum[:])
}
