package session

import (
	"net/http"
	"strings"

	copilot "github.com/github/copilot-sdk/go"

	"github.com/byokcred/byokcred/provider"
	"github.com/byokcred/byokcred/registry"
)

// RefreshOnRejection returns a RoundTripper for the SDK's
// ClientOptions.RequestHandler that watches the runtime's model requests: when
// an endpoint answers 401 to a bearer token, the provider cache holding that
// token drops it, so the runtime's own retry (it retries a 401, asking the
// token callback again) gets a freshly issued token instead of the rejected
// one. That rescues a turn whose token was revoked before its expiry.
//
// Matching is by token value, so no URL bookkeeping is needed, and a cache
// whose current token is already a different one ignores the report: a
// burst of 401s for one old token causes one refresh. next defaults to the
// SDK's transport.
func RefreshOnRejection(providers registry.Providers, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &rejectionTransport{providers: providers, next: next}
}

// RequestHandler wraps RefreshOnRejection for copilotcli.Options or
// copilot.ClientOptions.
func RequestHandler(providers registry.Providers) *copilot.CopilotRequestHandler {
	return &copilot.CopilotRequestHandler{Transport: RefreshOnRejection(providers, nil)}
}

type rejectionTransport struct {
	providers registry.Providers
	next      http.RoundTripper
}

func (t *rejectionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || sent == "" {
		return resp, err
	}
	rejected := &provider.Token{Value: provider.NewSecret(sent)}
	set := t.providers.Current()
	for _, name := range set.Names() {
		if p, err := set.Provider(name); err == nil && p.Cache != nil {
			p.Cache.Invalidate(rejected)
		}
	}
	return resp, nil
}
