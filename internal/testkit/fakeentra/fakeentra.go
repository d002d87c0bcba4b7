// Package fakeentra is a loopback Entra ID authority over TLS for tests of
// the on-behalf-of flow: an OpenID configuration and a token endpoint that
// implements the OBO grant (urn:ietf:params:oauth:grant-type:jwt-bearer,
// requested_token_use=on_behalf_of), and the client credentials grant of a
// service principal (whose tokens name the user "app:CLIENT_ID"). It checks the application's client
// secret or client assertion and the user's assertion, and answers with a
// token whose claims name the user. It is served as login.microsoftonline.com,
// or the host a test names (a national cloud's authority, a private one),
// through internal/testkit/fakehosts: the real azidentity reaches it through the HTTP client
// a test injects (registry.Options.HTTPClient: Server.Client), with every
// authority check MSAL makes in production.
package fakeentra

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakehosts"
)

// Options configure the authority.
type Options struct {
	// TenantID, ClientID: the application (the service acting for users).
	TenantID, ClientID string
	// ClientSecret, when set, is the application's accepted secret.
	ClientSecret string
	// ClientAssertions are accepted federated client assertions.
	ClientAssertions []string
	// Lifetime of the tokens it mints (default one hour).
	Lifetime time.Duration
	// Host is the authority's host name (default Host, the public cloud's):
	// login.microsoftonline.us for Azure Government, login.chinacloudapi.cn
	// for Azure China, any other name for a private cloud (which MSAL
	// reaches only with instance discovery off).
	Host string
	// Network serves the authority (default: a network of its own), so
	// that one client reaches it and the other fakes a test runs.
	Network *fakehosts.Network
}

// Host is the authority's host name: the public cloud's, which azidentity
// uses by default.
const Host = "login.microsoftonline.com"

// Server is the fake authority.
type Server struct {
	opts Options
	srv  *httptest.Server
	net  *fakehosts.Network
	// URL is the authority host (https://login.microsoftonline.com/ by
	// default).
	URL string

	mu sync.Mutex
	// users maps a user token to its user; minted maps an OBO token to the
	// user it was minted for.
	users    map[string]*user
	minted   map[string]minted
	requests map[string]int // OBO grants per user oid
	refused  []string       // why requests were refused
	apps     int            // client credentials grants given
}

type user struct {
	oid     string
	expiry  time.Time
	revoked bool
}

type minted struct {
	oid, aud string
	expiry   time.Time
}

// Start serves the authority as opts.Host on 127.0.0.1 over TLS.
func Start(opts Options) *Server {
	if opts.Lifetime <= 0 {
		opts.Lifetime = time.Hour
	}
	if opts.Network == nil {
		opts.Network = fakehosts.New()
	}
	if opts.Host == "" {
		opts.Host = Host
	}
	s := &Server{opts: opts, net: opts.Network, users: map[string]*user{}, minted: map[string]minted{}, requests: map[string]int{}}
	s.srv = s.net.Serve(s, opts.Host)
	s.URL = "https://" + opts.Host + "/"
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Client reaches the authority (and the other fakes of its network): the
// HTTP client a test gives registry.Options.HTTPClient.
func (s *Server) Client() *http.Client { return s.net.Client() }

// UserToken issues user oid's access token for the application (what the
// user's client would send the service), valid for life.
func (s *Server) UserToken(oid string, life time.Duration) string {
	exp := time.Now().Add(life)
	tok := jwt(map[string]any{
		"aud": "api://" + s.opts.ClientID, "iss": s.issuer(), "tid": s.opts.TenantID,
		"oid": oid, "sub": "sub-" + oid, "exp": exp.Unix(), "jti": randomHex(8),
	})
	s.mu.Lock()
	s.users[tok] = &user{oid: oid, expiry: exp}
	s.mu.Unlock()
	return tok
}

// Revoke makes every token of user oid unusable as an assertion.
func (s *Server) Revoke(oid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.oid == oid {
			u.revoked = true
		}
	}
}

// Audience returns the resource an OBO token was minted for (its scope
// without /.default), "" for a token s did not mint.
func (s *Server) Audience(token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.minted[token].aud
}

// Requests returns how many OBO grants user oid was given.
func (s *Server) Requests(oid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[oid]
}

// AppGrants returns how many client credentials grants (the application's
// own tokens, no user) were given.
func (s *Server) AppGrants() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apps
}

// Refused returns why requests were refused.
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// Check returns the user a token was minted for by the OBO grant, or an
// error if s did not mint it or it has expired: the check a model endpoint
// makes.
func (s *Server) Check(token string, now time.Time) (oid string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.minted[token]
	switch {
	case !ok:
		return "", fmt.Errorf("fakeentra: token not minted by the OBO grant")
	case !now.Before(m.expiry):
		return "", fmt.Errorf("fakeentra: token for %s expired at %s", m.oid, m.expiry.Format(time.RFC3339))
	}
	return m.oid, nil
}

func (s *Server) issuer() string { return s.URL + s.opts.TenantID + "/v2.0" }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	base := s.URL + s.opts.TenantID
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/"+s.opts.TenantID+"/v2.0/.well-known/openid-configuration":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"issuer":                 s.issuer(),
		})
	case r.Method == http.MethodPost && r.URL.Path == "/"+s.opts.TenantID+"/oauth2/v2.0/token":
		s.token(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.refuse(w, "invalid_request", "unreadable form")
		return
	}
	f := r.PostForm
	clientCredentials := f.Get("grant_type") == "client_credentials"
	if !clientCredentials && (f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || f.Get("requested_token_use") != "on_behalf_of") {
		s.refuse(w, "unsupported_grant_type", "only the on-behalf-of and client credentials grants are served")
		return
	}
	if f.Get("client_id") != s.opts.ClientID {
		s.refuse(w, "invalid_client", "unknown client_id")
		return
	}
	if !s.clientAuthenticated(f.Get("client_secret"), f.Get("client_assertion")) {
		s.refuse(w, "invalid_client", "AADSTS7000215: invalid client secret or assertion")
		return
	}
	var scope string
	for _, sc := range strings.Fields(f.Get("scope")) {
		if strings.HasSuffix(sc, "/.default") {
			scope = sc
		}
	}
	if scope == "" {
		s.refuse(w, "invalid_scope", "no resource scope")
		return
	}
	now := time.Now()
	s.mu.Lock()
	u, ok := s.users[f.Get("assertion")]
	if clientCredentials {
		// The application's own token: its "user" is the application.
		u, ok = &user{oid: "app:" + s.opts.ClientID, expiry: now.Add(time.Hour)}, true
	}
	var why string
	switch {
	case !ok:
		why = "AADSTS50013: assertion is not a token this authority issued"
	case u.revoked:
		why = "AADSTS50173: the grant for user " + u.oid + " was revoked"
	case !now.Before(u.expiry):
		why = "AADSTS500133: assertion for user " + u.oid + " is not within its valid time range"
	}
	if why != "" {
		s.mu.Unlock()
		s.refuse(w, "invalid_grant", why)
		return
	}
	s.requests[u.oid]++
	if clientCredentials {
		s.apps++
	}
	exp := now.Add(s.opts.Lifetime)
	aud := strings.TrimSuffix(scope, "/.default")
	tok := jwt(map[string]any{"aud": aud, "iss": s.issuer(), "tid": s.opts.TenantID, "oid": u.oid, "sub": "sub-" + u.oid, "azp": s.opts.ClientID, "exp": exp.Unix(), "jti": randomHex(8)})
	s.minted[tok] = minted{oid: u.oid, aud: aud, expiry: exp}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"token_type": "Bearer", "scope": scope, "access_token": tok,
		"expires_in": int(s.opts.Lifetime.Seconds()), "ext_expires_in": int(s.opts.Lifetime.Seconds()),
	})
}

func (s *Server) clientAuthenticated(secret, assertion string) bool {
	if secret != "" {
		return s.opts.ClientSecret != "" && secret == s.opts.ClientSecret
	}
	for _, a := range s.opts.ClientAssertions {
		if assertion != "" && assertion == a {
			return true
		}
	}
	return false
}

// refuse answers the way Entra does, quoting no part of the request.
func (s *Server) refuse(w http.ResponseWriter, code, desc string) {
	s.mu.Lock()
	s.refused = append(s.refused, code+": "+desc)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": desc, "error_codes": []int{50013}})
}

func jwt(claims map[string]any) string {
	enc := base64.RawURLEncoding
	body, _ := json.Marshal(claims)
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT","kid":"fake"}`)) + "." + enc.EncodeToString(body) + "." + enc.EncodeToString([]byte("fake-signature-"+randomHex(8)))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
