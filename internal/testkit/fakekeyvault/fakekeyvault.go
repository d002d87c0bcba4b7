// Package fakekeyvault is a loopback stand-in for an Azure Key Vault's
// secrets API, spoken as the real azsecrets client expects it: TLS (azcore
// sends bearer tokens over https only), the challenge flow (a request
// without a token gets 401 with `WWW-Authenticate: Bearer authorization=…,
// resource=…`, and the client retries with a token for that resource), and
// Key Vault's error JSON. It is served under a real vault host name
// (NAME.vault.azure.net, internal/testkit/fakehosts), so azsecrets verifies the
// challenge's resource against the vault's host as it does in production;
// the client reaches it through the HTTP client a test injects
// (registry.Options.HTTPClient: Server.Client). Tokens are checked by a
// function the test gives, typically internal/testkit/fakeidentity's Lookup.
package fakekeyvault

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakehosts"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
)

// Resource is the resource a Key Vault challenge names in the public cloud:
// the audience tokens must have.
const Resource = "https://vault.azure.net"

// ManagedIdentity is the token check of a vault whose readers sign in with
// idp's managed identities: a token idp minted for the vault's resource and
// still valid; the identity is the client id ("system-assigned" for the
// system-assigned identity).
func ManagedIdentity(idp *fakeidentity.Server) func(token string) (identity string, err error) {
	return func(tok string) (string, error) {
		is, err := idp.Lookup(tok, time.Now())
		if err != nil {
			return "", err
		}
		if is.Resource != Resource {
			return "", fmt.Errorf("token for %s, not for the vault", is.Resource)
		}
		if is.ClientID == "" {
			return "system-assigned", nil
		}
		return is.ClientID, nil
	}
}

// Options configure a Server.
type Options struct {
	// Check validates a bearer token and returns the identity it stands
	// for (what Deny names); an error is answered with 401. Required.
	Check func(token string) (identity string, err error)
	// TenantID goes into the challenge's authorization URI. Default: a
	// fixed test tenant.
	TenantID string
	// Now stamps versions' created and updated times. Default time.Now.
	Now func() time.Time
	// Name is the vault's name: it is served as NAME.SUFFIX.
	// Default "fakevault".
	Name string
	// Suffix is the cloud's Key Vault host suffix: vault.azure.net (the
	// default), vault.usgovcloudapi.net (Azure Government), vault.azure.cn
	// (Azure China).
	Suffix string
	// ChallengeResource is the resource the 401 challenge names. Default
	// https://SUFFIX (Resource in the public cloud); a test of the client's
	// verification names another.
	ChallengeResource string
	// Network serves the vault (default: a network of its own), so that
	// one client reaches it and the other fakes a test runs.
	Network *fakehosts.Network
}

// Server is a running fake vault.
type Server struct {
	// URL is the vault URL, https://NAME.SUFFIX.
	URL  string
	opts Options
	srv  *httptest.Server
	net  *fakehosts.Network

	mu         sync.Mutex
	secrets    map[string]*secret // by lower-cased name: Key Vault names ignore case
	denied     map[string]bool
	down       bool
	requests   int
	challenges int
	reads      int
	rejected   []string
}

type secret struct {
	name     string
	versions []*version // last is current
}

type version struct {
	id, value string
	created   time.Time
	disabled  bool
}

// Start starts a TLS server on 127.0.0.1 for NAME.SUFFIX, with a
// certificate of the network's test CA.
func Start(opts Options) *Server {
	if opts.Check == nil {
		panic("fakekeyvault: Options.Check is required")
	}
	if opts.TenantID == "" {
		opts.TenantID = "00000000-0000-0000-0000-0000000000aa"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Name == "" {
		opts.Name = "fakevault"
	}
	if opts.Suffix == "" {
		opts.Suffix = "vault.azure.net"
	}
	if opts.ChallengeResource == "" {
		opts.ChallengeResource = "https://" + opts.Suffix
	}
	if opts.Network == nil {
		opts.Network = fakehosts.New()
	}
	s := &Server{opts: opts, net: opts.Network, secrets: map[string]*secret{}, denied: map[string]bool{}}
	host := opts.Name + "." + opts.Suffix
	s.srv = s.net.Serve(s, host)
	s.URL = "https://" + host
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Client reaches the vault (and the other fakes of its network): the HTTP
// client a test gives registry.Options.HTTPClient.
func (s *Server) Client() *http.Client { return s.net.Client() }

// SecretURL is the secret identifier of name (with version, when given).
func (s *Server) SecretURL(name, version string) string {
	u := s.URL + "/secrets/" + name
	if version != "" {
		u += "/" + version
	}
	return u
}

// Set stores value as a new version of name, which becomes current, and
// returns the version id (32 hex digits, as Key Vault's).
func (s *Server) Set(name, value string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[strings.ToLower(name)]
	if sec == nil {
		sec = &secret{name: name}
		s.secrets[strings.ToLower(name)] = sec
	}
	id := randomHex(16)
	sec.versions = append(sec.versions, &version{id: id, value: value, created: s.opts.Now().Truncate(time.Second)})
	return id
}

// Disable disables one version of name (the current one when version is
// ""): reading it is then refused with 403 SecretDisabled.
func (s *Server) Disable(name, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.find(name, version); v != nil {
		v.disabled = true
	}
}

// Deny refuses identity's reads with 403, as a vault does for an identity
// with neither an RBAC role nor an access policy.
func (s *Server) Deny(identity string) { s.mu.Lock(); s.denied[identity] = true; s.mu.Unlock() }

// Allow undoes Deny.
func (s *Server) Allow(identity string) { s.mu.Lock(); delete(s.denied, identity); s.mu.Unlock() }

// Down makes every request fail with 503 (true) or recovers (false).
func (s *Server) Down(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

// Requests counts requests received, challenges and faults included.
func (s *Server) Requests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.requests }

// Challenges counts requests answered with the 401 challenge because they
// carried no token.
func (s *Server) Challenges() int { s.mu.Lock(); defer s.mu.Unlock(); return s.challenges }

// Reads counts secret values served.
func (s *Server) Reads() int { s.mu.Lock(); defer s.mu.Unlock(); return s.reads }

// Rejected returns why requests that carried a token were refused (401 or
// 403), in order.
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}

// find returns a version of name ("" = current), or nil. s.mu is held.
func (s *Server) find(name, id string) *version {
	sec := s.secrets[strings.ToLower(name)]
	if sec == nil || len(sec.versions) == 0 {
		return nil
	}
	if id == "" {
		return sec.versions[len(sec.versions)-1]
	}
	for _, v := range sec.versions {
		if strings.EqualFold(v.id, id) {
			return v
		}
	}
	return nil
}

// ServeHTTP answers GET /secrets/{name}[/{version}]?api-version=….
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if s.down {
		// Asks azcore to retry at once (as a throttled vault's Retry-After
		// does), so that tests see the SDK's retries without its back-off.
		w.Header().Set("Retry-After-Ms", "1")
		kvError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The service is temporarily unavailable.", "")
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		s.challenges++
		s.challenge(w, "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	token, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		s.rejected = append(s.rejected, "not a bearer token")
		s.challenge(w, "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	identity, err := s.opts.Check(token)
	if err != nil {
		s.rejected = append(s.rejected, err.Error())
		s.challenge(w, "AKV10032: Invalid issuer or token.")
		return
	}
	if s.denied[identity] {
		s.rejected = append(s.rejected, "denied: "+identity)
		kvError(w, http.StatusForbidden, "Forbidden", "Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nCaller: appid="+identity+"\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'", "ForbiddenByRbac")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		kvError(w, http.StatusBadRequest, "BadParameter", "The request URI contains an invalid or missing api-version.", "")
		return
	}
	parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/secrets/"), "/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/secrets/") || parts[0] == "" || len(parts) > 2 {
		kvError(w, http.StatusNotFound, "NotFound", "Not found: "+r.URL.Path, "")
		return
	}
	if r.Method != http.MethodGet {
		kvError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "only GET is served here", "")
		return
	}
	name, id := parts[0], ""
	if len(parts) == 2 {
		id = parts[1]
	}
	v := s.find(name, id)
	if v == nil {
		what := name
		if id != "" {
			what += "/" + id
		}
		kvError(w, http.StatusNotFound, "SecretNotFound", "A secret with (name/id) "+what+" was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command.", "")
		return
	}
	if v.disabled {
		kvError(w, http.StatusForbidden, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
		return
	}
	s.reads++
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(map[string]any{
		"value": v.value,
		"id":    "https://" + r.Host + "/secrets/" + s.secrets[strings.ToLower(name)].name + "/" + v.id,
		"attributes": map[string]any{
			"enabled": true, "created": v.created.Unix(), "updated": v.created.Unix(),
			"recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90,
		},
	})
}

// challenge answers 401 with the Bearer challenge that tells the client
// which authority and resource to get a token for.
func (s *Server) challenge(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"`, s.opts.TenantID, s.opts.ChallengeResource))
	kvError(w, http.StatusUnauthorized, "Unauthorized", msg, "")
}

// kvError writes Key Vault's error body; inner is the innererror code
// ("" for none).
func kvError(w http.ResponseWriter, status int, code, msg, inner string) {
	e := map[string]any{"code": code, "message": msg}
	if inner != "" {
		e["innererror"] = map[string]string{"code": inner}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
