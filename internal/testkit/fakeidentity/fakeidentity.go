// Package fakeidentity is a loopback stand-in for Entra ID: the App Service
// managed-identity endpoint that azidentity uses when IDENTITY_ENDPOINT and
// IDENTITY_HEADER are set, and a fake `az` for AzureCLICredential. It mints
// unsigned JWT-shaped tokens with short lifetimes and remembers them, so a
// test can check that every token a model endpoint received was valid when
// it arrived.
//
// azidentity (through MSAL) caches managed-identity tokens once per process,
// keyed by scope and identity, with no way to reset it: a test must use a
// scope or client id no other test in its package uses, and cannot run twice
// in one process (go test -count=2), or it is served a token an earlier
// Server minted.
package fakeidentity

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// Issued is one token the endpoint minted.
type Issued struct {
	Token    string
	Resource string
	ClientID string
	IssuedAt time.Time
	Expiry   time.Time
	Revoked  bool
}

// Options configure a Server.
type Options struct {
	// Lifetime of each token. Default one hour.
	Lifetime time.Duration
	// LifetimeFunc, when set, decides each token's lifetime instead (a test
	// can issue a long-lived token just before an outage).
	LifetimeFunc func() time.Duration
	// Header is the IDENTITY_HEADER secret. Default: random.
	Header string
	// TenantID and ObjectID go into the token claims.
	TenantID, ObjectID string
	// Fault, when set, is asked before each request; a non-zero status is
	// answered instead of a token (inject 500s, outages). It may also sleep
	// to inject latency.
	Fault func(n int) int
}

// Server is a running fake managed-identity endpoint.
type Server struct {
	URL    string // the IDENTITY_ENDPOINT value
	Header string // the IDENTITY_HEADER value
	opts   Options
	srv    *http.Server

	mu       sync.Mutex
	requests int
	issued   []Issued
	faults   int
}

// Start listens on 127.0.0.1 on a free port.
func Start(opts Options) (*Server, error) {
	if opts.Lifetime <= 0 {
		opts.Lifetime = time.Hour
	}
	if opts.Header == "" {
		opts.Header = randomHex(8)
	}
	if opts.TenantID == "" {
		opts.TenantID = "00000000-0000-0000-0000-0000000000aa"
	}
	if opts.ObjectID == "" {
		opts.ObjectID = "00000000-0000-0000-0000-0000000000bb"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeidentity: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String() + "/msi/token", Header: opts.Header, opts: opts}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Env returns the variables that point azidentity's managed identity at s.
func (s *Server) Env() map[string]string {
	return map[string]string{"IDENTITY_ENDPOINT": s.URL, "IDENTITY_HEADER": s.Header}
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Requests counts token requests received (including faulted ones).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Faults counts requests answered with an injected fault.
func (s *Server) Faults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Issued returns the tokens minted so far.
func (s *Server) Issued() []Issued {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Issued(nil), s.issued...)
}

// Revoke makes token invalid from now on (a token revoked before expiry).
func (s *Server) Revoke(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.issued {
		if s.issued[i].Token == token {
			s.issued[i].Revoked = true
		}
	}
}

// Check reports whether token was minted here and is valid at t; the error
// says why not.
func (s *Server) Check(token string, t time.Time) error {
	_, err := s.Lookup(token, t)
	return err
}

// Lookup is Check that also returns what the token was issued for (its
// resource and client id), for a fake service that grants access by
// identity.
func (s *Server) Lookup(token string, t time.Time) (Issued, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, is := range s.issued {
		if is.Token != token {
			continue
		}
		switch {
		case is.Revoked:
			return is, fmt.Errorf("token revoked")
		case !t.Before(is.Expiry):
			return is, fmt.Errorf("token expired %s before use", t.Sub(is.Expiry))
		}
		return is, nil
	}
	return Issued{}, fmt.Errorf("token not issued by this identity endpoint")
}

// ServeHTTP implements the App Service managed identity protocol
// (api-version 2019-08-01).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.mu.Unlock()
	if r.Header.Get("X-IDENTITY-HEADER") != s.Header {
		http.Error(w, `{"error":"invalid_request","error_description":"missing or wrong X-IDENTITY-HEADER"}`, http.StatusBadRequest)
		return
	}
	q := r.URL.Query()
	resource := q.Get("resource")
	if resource == "" {
		http.Error(w, `{"error":"invalid_request","error_description":"resource is required"}`, http.StatusBadRequest)
		return
	}
	if s.opts.Fault != nil {
		if st := s.opts.Fault(n); st != 0 {
			s.mu.Lock()
			s.faults++
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(st)
			fmt.Fprintf(w, `{"error":"temporarily_unavailable","error_description":"fakeidentity: injected %d"}`, st)
			return
		}
	}
	clientID := q.Get("client_id")
	is := s.mint(resource, clientID)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"access_token": is.Token,
		"expires_on":   strconv.FormatInt(is.Expiry.Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    clientID,
	})
}

func (s *Server) mint(resource, clientID string) Issued {
	now := time.Now()
	// Whole seconds: the protocol carries expires_on in seconds, and the
	// check must agree with what the client was told.
	life := s.opts.Lifetime
	if s.opts.LifetimeFunc != nil {
		life = s.opts.LifetimeFunc()
	}
	exp := now.Add(life).Truncate(time.Second)
	tok := MintJWT(map[string]any{
		"aud": resource, "tid": s.opts.TenantID, "oid": s.opts.ObjectID, "appid": clientID,
		"iat": now.Unix(), "exp": exp.Unix(), "jti": randomHex(8),
	})
	is := Issued{Token: tok, Resource: resource, ClientID: clientID, IssuedAt: now, Expiry: exp}
	s.mu.Lock()
	s.issued = append(s.issued, is)
	s.mu.Unlock()
	return is
}

// MintJWT returns an unsigned JWT-shaped token carrying claims.
func MintJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	body, _ := json.Marshal(claims)
	return header + "." + enc.EncodeToString(body) + "." + enc.EncodeToString([]byte("fake-signature-"+randomHex(4)))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// WriteFakeAz writes an executable `az` into dir that answers
// `az account get-access-token` with token, expiring at expiry, and records
// its arguments in dir/az.args. Put dir first on PATH.
func WriteFakeAz(dir, token string, expiry time.Time) (string, error) {
	out, _ := json.Marshal(map[string]any{
		"accessToken":  token,
		"expiresOn":    expiry.Local().Format("2006-01-02 15:04:05.000000"),
		"expires_on":   expiry.Unix(),
		"subscription": "00000000-0000-0000-0000-000000000001",
		"tenant":       "00000000-0000-0000-0000-0000000000aa",
		"tokenType":    "Bearer",
	})
	script := "#!/bin/sh\n" +
		"echo \"$@\" >> '" + filepath.Join(dir, "az.args") + "'\n" +
		"case \"$*\" in *get-access-token*) ;; *) echo 'fake az: unsupported' >&2; exit 2;; esac\n" +
		"cat <<'EOF'\n" + string(out) + "\nEOF\n"
	p := filepath.Join(dir, "az")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		return "", err
	}
	return p, nil
}

// AzArgs returns the argument lines the fake az in dir was called with.
func AzArgs(dir string) []string {
	b, _ := os.ReadFile(filepath.Join(dir, "az.args"))
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Setenv points azidentity's managed identity credential at s for the rest
// of a test (t.Setenv restores the variables afterwards).
func (s *Server) Setenv(t interface{ Setenv(key, value string) }) {
	for k, v := range s.Env() {
		t.Setenv(k, v)
	}
}

// CheckRequest is Check for the bearer token a model request carried, at
// the time it arrived.
func (s *Server) CheckRequest(r *fakemodel.Request) error {
	return s.Check(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), r.Time)
}

// Authorize is a fakemodel check that accepts only a bearer token minted by
// s and valid when the request arrived, answering 401 otherwise: a model
// endpoint protected by this identity provider.
func (s *Server) Authorize(r *fakemodel.Request) int {
	if s.CheckRequest(r) != nil {
		return http.StatusUnauthorized
	}
	return 0
}
