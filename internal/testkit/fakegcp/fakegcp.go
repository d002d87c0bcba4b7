// Package fakegcp is a loopback stand-in for Google's identity services as
// cloud.google.com/go/auth reaches them: the metadata server (through
// GCE_METADATA_HOST), an STS token exchange (RFC 8693, for an
// external_account file's token_url) and IAM Credentials'
// generateAccessToken (for service-account impersonation). It mints opaque
// access tokens with short lifetimes and remembers them, so a test can check
// that every token a model endpoint received was valid when it arrived.
package fakegcp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// Issued is one token the server minted.
type Issued struct {
	Token string
	// Via is "metadata", "oauth2" (a service-account key), "sts" or "iam".
	Via string
	// Account is the service account the token speaks for ("" for an STS
	// federated token).
	Account  string
	Scopes   string
	IssuedAt time.Time
	Expiry   time.Time
}

// Options configure a Server.
type Options struct {
	// Lifetime of each token (whole seconds). Default one hour.
	Lifetime time.Duration
	// Project and Email are the metadata server's project id and default
	// service account.
	Project, Email string
	// SubjectToken is the only subject token the STS accepts.
	SubjectToken string
	// Audience is the only audience the STS accepts ("" accepts any).
	Audience string
}

// Server is a running fake.
type Server struct {
	// URL is http://127.0.0.1:PORT; Host the GCE_METADATA_HOST value.
	URL, Host string
	opts      Options
	srv       *http.Server

	mu       sync.Mutex
	requests map[string]int
	issued   []Issued
	rejected []string
}

// Start listens on 127.0.0.1 on a free port.
func Start(opts Options) (*Server, error) {
	if opts.Lifetime <= 0 {
		opts.Lifetime = time.Hour
	}
	if opts.Project == "" {
		opts.Project = "byok-test-project"
	}
	if opts.Email == "" {
		opts.Email = "vertex@" + opts.Project + ".iam.gserviceaccount.com"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakegcp: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), Host: ln.Addr().String(), opts: opts, requests: map[string]int{}}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Env returns the variable that points the SDK's metadata client at s.
func (s *Server) Env() map[string]string {
	return map[string]string{"GCE_METADATA_HOST": s.Host}
}

// Setenv points the metadata client at s for the rest of a test.
func (s *Server) Setenv(t interface{ Setenv(key, value string) }) {
	for k, v := range s.Env() {
		t.Setenv(k, v)
	}
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Requests counts requests by kind: "metadata-token", "project-id",
// "email", "oauth2", "sts", "iam", "subject".
func (s *Server) Requests(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[kind]
}

// Issued returns the tokens minted so far.
func (s *Server) Issued() []Issued {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Issued(nil), s.issued...)
}

// Rejected returns why requests were refused, in order.
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejected...)
}

// Check reports whether token was minted here and is valid at t.
func (s *Server) Check(token string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkLocked(token, t)
}

func (s *Server) checkLocked(token string, t time.Time) error {
	for _, is := range s.issued {
		if is.Token == token {
			if !t.Before(is.Expiry) {
				return fmt.Errorf("token expired %s before use", t.Sub(is.Expiry))
			}
			return nil
		}
	}
	return fmt.Errorf("token not issued by this server")
}

// CheckRequest is Check for the bearer token a model request carried.
func (s *Server) CheckRequest(r *fakemodel.Request) error {
	return s.Check(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), r.Time)
}

// Authorize is a fakemodel check answering 401 unless the request carries a
// token minted here and valid when it arrived: Vertex AI behind this
// identity provider.
func (s *Server) Authorize(r *fakemodel.Request) int {
	if s.CheckRequest(r) != nil {
		return http.StatusUnauthorized
	}
	return 0
}

func (s *Server) count(kind string) {
	s.mu.Lock()
	s.requests[kind]++
	s.mu.Unlock()
}

func (s *Server) reject(w http.ResponseWriter, status int, why string) {
	s.mu.Lock()
	s.rejected = append(s.rejected, why)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": why})
}

// ServeHTTP implements the three services.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const md = "/computeMetadata/v1/"
	switch {
	case strings.HasPrefix(r.URL.Path, md):
		s.metadata(w, r, strings.TrimPrefix(r.URL.Path, md))
	case r.URL.Path == "/v1/token":
		s.sts(w, r)
	case r.URL.Path == "/token":
		s.oauth2(w, r)
	case r.URL.Path == "/subject-token":
		// A URL-sourced subject token (an external_account file's
		// credential_source.url), behind a header the file names.
		s.count("subject")
		if r.Header.Get("Metadata") != "true" {
			s.reject(w, http.StatusForbidden, "subject token request without its header")
			return
		}
		fmt.Fprint(w, s.opts.SubjectToken)
	case strings.HasSuffix(r.URL.Path, ":generateAccessToken"):
		s.iam(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request, what string) {
	w.Header().Set("Metadata-Flavor", "Google")
	if r.Header.Get("Metadata-Flavor") != "Google" {
		s.reject(w, http.StatusForbidden, "missing Metadata-Flavor: Google")
		return
	}
	switch what {
	case "instance/service-accounts/default/token":
		s.count("metadata-token")
		scopes := r.URL.Query().Get("scopes")
		is := s.mint("metadata", s.opts.Email, scopes)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": is.Token, "expires_in": int(time.Until(is.Expiry).Round(time.Second).Seconds()), "token_type": "Bearer",
		})
	case "project/project-id":
		s.count("project-id")
		fmt.Fprint(w, s.opts.Project)
	case "instance/service-accounts/default/email":
		s.count("email")
		fmt.Fprint(w, s.opts.Email)
	default:
		http.NotFound(w, r)
	}
}

// sts is an RFC 8693 token exchange that accepts only opts.SubjectToken.
func (s *Server) sts(w http.ResponseWriter, r *http.Request) {
	s.count("sts")
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		s.reject(w, http.StatusBadRequest, "want a POSTed form")
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange":
		s.reject(w, http.StatusBadRequest, "grant_type "+f.Get("grant_type"))
		return
	case f.Get("subject_token") != s.opts.SubjectToken || s.opts.SubjectToken == "":
		// Never echo the subject token: it is a credential.
		s.reject(w, http.StatusUnauthorized, "subject token not accepted")
		return
	case s.opts.Audience != "" && f.Get("audience") != s.opts.Audience:
		s.reject(w, http.StatusBadRequest, "audience "+f.Get("audience"))
		return
	}
	is := s.mint("sts", "", f.Get("scope"))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": is.Token, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"token_type": "Bearer", "expires_in": int(time.Until(is.Expiry).Round(time.Second).Seconds()),
	})
}

// oauth2 is Google's OAuth2 token endpoint for a service-account key (the
// key file's token_uri): a JWT assertion signed with the key, whose issuer
// is the service account. The signature is not checked; the issuer must be
// opts.Email.
func (s *Server) oauth2(w http.ResponseWriter, r *http.Request) {
	s.count("oauth2")
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		s.reject(w, http.StatusBadRequest, "want a POSTed form")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		s.reject(w, http.StatusBadRequest, "grant_type "+g)
		return
	}
	var claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		s.reject(w, http.StatusBadRequest, "assertion is not a JWT")
		return
	}
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(body, &claims) != nil || claims.Iss != s.opts.Email {
		s.reject(w, http.StatusUnauthorized, "assertion issuer "+claims.Iss)
		return
	}
	is := s.mint("oauth2", claims.Iss, claims.Scope)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": is.Token, "token_type": "Bearer", "expires_in": int(time.Until(is.Expiry).Round(time.Second).Seconds()),
	})
}

// ServiceAccountKey returns a service-account key file whose token_uri is
// s, with a fresh RSA key (its PEM is returned too, for canary checks).
func (s *Server) ServiceAccountKey() (file []byte, keyPEM string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	file, _ = json.Marshal(map[string]string{
		"type": "service_account", "project_id": s.opts.Project, "private_key_id": "0123456789abcdef",
		"private_key": keyPEM, "client_email": s.opts.Email, "client_id": "1234567890",
		"token_uri": s.URL + "/token",
	})
	return file, keyPEM
}

// iam is generateAccessToken: the caller's own token, minted here, buys a
// token of the service account named in the path.
func (s *Server) iam(w http.ResponseWriter, r *http.Request) {
	s.count("iam")
	caller := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	err := s.checkLocked(caller, time.Now())
	s.mu.Unlock()
	if err != nil {
		s.reject(w, http.StatusUnauthorized, "generateAccessToken caller: "+err.Error())
		return
	}
	i := strings.Index(r.URL.Path, "/serviceAccounts/")
	account := strings.TrimSuffix(r.URL.Path[i+len("/serviceAccounts/"):], ":generateAccessToken")
	var body struct {
		Scope []string `json:"scope"`
	}
	json.NewDecoder(r.Body).Decode(&body)
	is := s.mint("iam", account, strings.Join(body.Scope, " "))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"accessToken": is.Token, "expireTime": is.Expiry.UTC().Format(time.RFC3339)})
}

func (s *Server) mint(via, account, scopes string) Issued {
	now := time.Now()
	// Whole seconds: expires_in is in seconds, and Check must agree with
	// what the client was told.
	exp := now.Add(s.opts.Lifetime).Truncate(time.Second)
	b := make([]byte, 12)
	rand.Read(b)
	is := Issued{Token: "ya29.fake-" + via + "-" + hex.EncodeToString(b), Via: via, Account: account, Scopes: scopes, IssuedAt: now, Expiry: exp}
	s.mu.Lock()
	s.issued = append(s.issued, is)
	s.mu.Unlock()
	return is
}
