package session

import (
	"errors"
	"net/http"
	"strings"

	copilot "github.com/github/copilot-sdk/go"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/registry"
)

// RefreshOnRejection returns a RoundTripper for the SDK's
// ClientOptions.RequestHandler that watches the runtime's model requests: when
// an endpoint answers 401 to a bearer token, the cache of f's providers
// holding that token drops it, so the runtime's own retry (it retries a 401,
// asking the token callback again) gets a freshly issued token instead of
// the rejected one. That rescues a turn whose token was revoked before its
// expiry. From then on f honours a config's refresh_on_rejection.
//
// Matching is by token value, so no URL bookkeeping is needed, and a cache
// whose current token is already a different one ignores the report: a
// burst of 401s for one old token causes one refresh. next defaults to the
// SDK's transport.
func (f *Factory) RefreshOnRejection(next http.RoundTripper) http.RoundTripper {
	f.routed.Store(true)
	if next == nil {
		next = http.DefaultTransport
	}
	return &rejectionTransport{providers: f.src, next: next}
}

// RequestHandler wraps RefreshOnRejection for copilotcli.Options or
// copilot.ClientOptions: start the runtime whose sessions f configures with
// it.
func (f *Factory) RequestHandler() *copilot.CopilotRequestHandler {
	return &copilot.CopilotRequestHandler{Transport: f.RefreshOnRejection(nil)}
}

// checkRejection fails when the config sets refresh_on_rejection but f made
// no rejection-watching transport: the runtime was started without it, and
// the setting would silently do nothing. What f knows is its own: nothing
// another factory, or an earlier runtime, did counts.
func (f *Factory) checkRejection() error {
	if !f.src.Current().Config.RefreshOnRejection {
		return nil
	}
	if f.routed.Load() {
		return nil
	}
	return errors.New("session: the config sets refresh_on_rejection, but the runtime's model requests do not pass through byokcred: " +
		"start the runtime with copilotcli.Options{RequestHandler: factory.RequestHandler()}, from this factory, " +
		"before asking for a session config (or remove refresh_on_rejection)")
}

type rejectionTransport struct {
	providers registry.Providers
	next      http.RoundTripper
}

func (t *rejectionTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sent := sentCredential(req.Header)
	resp, err := t.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || sent == "" {
		return resp, err
	}
	rejected := &credential.Token{Value: credential.NewSecret(sent)}
	set := t.providers.Current()
	for _, name := range set.Names() {
		if p, err := set.Provider(name); err == nil && p.Cache != nil {
			p.Cache.Invalidate(rejected)
		}
	}
	return resp, nil
}

// sentCredential is the credential a model request carries: a bearer token,
// or an API key in azure's or anthropic's own header (read once per session
// by the runtime: dropping a rejected one lets the next session read the
// rotated key instead of the cached one).
func sentCredential(h http.Header) string {
	if v, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok && v != "" {
		return v
	}
	if v := h.Get("Api-Key"); v != "" {
		return v
	}
	return h.Get("X-Api-Key")
}
