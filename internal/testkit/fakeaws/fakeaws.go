// Package fakeaws is a loopback stand-in for where AWS credentials come
// from: the ECS/EKS container-credentials endpoint
// (AWS_CONTAINER_CREDENTIALS_FULL_URI) serving rotating temporary
// credentials, and STS AssumeRole (AWS_ENDPOINT_URL_STS). It remembers every
// credential it issued, so a fake Bedrock endpoint can check keys signed with
// them (see internal/testkit/fakebedrock).
package fakeaws

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakehosts"
)

// Credentials is one set the server issued (or was told about with Add).
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expiry is zero for long-term keys.
	Expiry time.Time
	// Via is "container", "sts" or "static".
	Via string
	// RoleARN, ExternalID and SessionName are what an AssumeRole call asked for.
	RoleARN, ExternalID, SessionName string
	// STSHost and STSRegion, for credentials issued by STS, are the host
	// the request was sent to and the region it was signed for.
	STSHost, STSRegion string
}

// Options configure a Server.
type Options struct {
	// Lifetime of each credential set. Default one hour.
	Lifetime time.Duration
	// AuthToken is the AWS_CONTAINER_AUTHORIZATION_TOKEN. Default: random.
	AuthToken string
	// Now is the clock for expirations. Default time.Now.
	Now func() time.Time
	// WebIdentityToken is the OIDC token AssumeRoleWithWebIdentity accepts
	// (EKS IRSA's projected token). Default: random.
	WebIdentityToken string
}

// Server is a running fake credentials endpoint.
type Server struct {
	URL       string // base URL, http://127.0.0.1:PORT
	AuthToken string
	opts      Options
	srv       *http.Server

	mu        sync.Mutex
	container int
	sts       int
	issued    []Credentials
}

// Start listens on 127.0.0.1 on a free port.
func Start(opts Options) (*Server, error) {
	if opts.Lifetime <= 0 {
		opts.Lifetime = time.Hour
	}
	if opts.AuthToken == "" {
		opts.AuthToken = random(12)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WebIdentityToken == "" {
		opts.WebIdentityToken = "fakeoidc." + random(16)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeaws: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), AuthToken: opts.AuthToken, opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /creds", s.serveContainer)
	mux.HandleFunc("POST /sts/", s.serveSTS)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// ServeSTS serves the STS API under host (a regional endpoint such as
// sts.us-gov-west-1.amazonaws.com) on network n, over TLS, so that the SDK
// reaches it by the endpoint it resolves for a region, with no
// AWS_ENDPOINT_URL_STS. The caller closes the server.
func (s *Server) ServeSTS(n *fakehosts.Network, host string) *httptest.Server {
	return n.Serve(http.HandlerFunc(s.serveSTS), host)
}

// Env returns the variables that make the SDK's default chain take
// container credentials from s and send STS calls to it, with IMDS off.
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": s.URL + "/creds",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN":  s.AuthToken,
		"AWS_ENDPOINT_URL_STS":               s.URL + "/sts/",
		"AWS_EC2_METADATA_DISABLED":          "true",
	}
}

// TB is what Setenv and Isolate need of a test (testing.TB, or a demo's
// stand-in for one).
type TB interface {
	Helper()
	TempDir() string
	Fatal(args ...any)
	Setenv(key, value string)
}

// Setenv sets Env for the test, points the shared config and credentials
// files at empty temporary files and clears every other variable that would
// give the SDK credentials, so only s answers.
func (s *Server) Setenv(t TB) {
	t.Helper()
	Isolate(t)
	for k, v := range s.Env() {
		t.Setenv(k, v)
	}
}

// Isolate leaves the SDK's default chain with nothing to find: empty shared
// files, no credential variables, IMDS off.
func Isolate(t TB) {
	t.Helper()
	dir := t.TempDir()
	for k, name := range map[string]string{"AWS_CONFIG_FILE": "config", "AWS_SHARED_CREDENTIALS_FILE": "credentials"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(k, p)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
		// A machine-wide CA bundle cannot apply to the HTTP client a test
		// injects (registry.Options.HTTPClient); the fakes need none.
		"AWS_CA_BUNDLE"} {
		t.Setenv(k, "")
		os.Unsetenv(k) // t.Setenv restores it after the test
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Add records long-term (static) credentials, as if IAM had issued them, and
// returns them.
func (s *Server) Add() Credentials {
	c := Credentials{AccessKeyID: "AKIA" + strings.ToUpper(random(8)), SecretAccessKey: "fakesecret" + random(15), Via: "static"}
	s.mu.Lock()
	s.issued = append(s.issued, c)
	s.mu.Unlock()
	return c
}

// Lookup returns the credentials with access key id id.
func (s *Server) Lookup(id string) (Credentials, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.issued {
		if c.AccessKeyID == id {
			return c, true
		}
	}
	return Credentials{}, false
}

// Issued returns every credential set issued so far.
func (s *Server) Issued() []Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Credentials(nil), s.issued...)
}

// ContainerRequests counts requests to the container endpoint.
func (s *Server) ContainerRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.container
}

// STSRequests counts AssumeRole calls.
func (s *Server) STSRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sts
}

func (s *Server) issue(via string) Credentials {
	c := Credentials{
		AccessKeyID:     "ASIA" + strings.ToUpper(random(8)),
		SecretAccessKey: "fakesecret" + random(15),
		SessionToken:    "fakesession" + random(24),
		Expiry:          s.opts.Now().Add(s.opts.Lifetime).UTC().Truncate(time.Second),
		Via:             via,
	}
	return c
}

func (s *Server) serveContainer(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.container++
	s.mu.Unlock()
	if r.Header.Get("Authorization") != s.AuthToken {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"code":"AccessDenied","message":"fakeaws: wrong authorization token"}`)
		return
	}
	c := s.issue("container")
	s.mu.Lock()
	s.issued = append(s.issued, c)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"AccessKeyId": c.AccessKeyID, "SecretAccessKey": c.SecretAccessKey, "Token": c.SessionToken,
		"Expiration": c.Expiry.Format(time.RFC3339),
	})
}

// assumeRoleResponse is the answer to AssumeRole and
// AssumeRoleWithWebIdentity (element names set per action).
type assumeRoleResponse struct {
	XMLName xml.Name
	Result  struct {
		XMLName     xml.Name
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string `xml:"SecretAccessKey"`
			SessionToken    string `xml:"SessionToken"`
			Expiration      string `xml:"Expiration"`
		} `xml:"Credentials"`
		AssumedRoleUser struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
	}
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

// WebIdentityToken is the token AssumeRoleWithWebIdentity accepts: write it
// to the file AWS_WEB_IDENTITY_TOKEN_FILE names.
func (s *Server) WebIdentityToken() string { return s.opts.WebIdentityToken }

// serveSTS answers AssumeRole for a caller whose request is signed with
// credentials issued here (only the access key id of the signature is
// checked: the SDK's signer is not what these tests are about), and
// AssumeRoleWithWebIdentity (unsigned) for the web identity token.
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.sts++
	s.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		stsError(w, http.StatusBadRequest, "InvalidAction", "fakeaws: bad form")
		return
	}
	action := r.PostForm.Get("Action")
	switch action {
	case "AssumeRole":
		auth := r.Header.Get("Authorization")
		_, after, _ := strings.Cut(auth, "Credential=")
		id, _, _ := strings.Cut(after, "/")
		caller, ok := s.Lookup(id)
		if !ok || (!caller.Expiry.IsZero() && !s.opts.Now().Before(caller.Expiry)) {
			stsError(w, http.StatusForbidden, "InvalidClientTokenId", "fakeaws: unknown or expired caller credentials")
			return
		}
	case "AssumeRoleWithWebIdentity":
		if r.PostForm.Get("WebIdentityToken") != s.opts.WebIdentityToken {
			stsError(w, http.StatusBadRequest, "InvalidIdentityToken", "fakeaws: unknown web identity token")
			return
		}
	default:
		stsError(w, http.StatusBadRequest, "InvalidAction", "fakeaws: only AssumeRole and AssumeRoleWithWebIdentity")
		return
	}
	c := s.issue("sts")
	c.RoleARN, c.ExternalID, c.SessionName = r.PostForm.Get("RoleArn"), r.PostForm.Get("ExternalId"), r.PostForm.Get("RoleSessionName")
	c.STSHost = r.Host
	if _, scope, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
		if parts := strings.Split(scope, "/"); len(parts) > 2 {
			c.STSRegion = parts[2]
		}
	}
	s.mu.Lock()
	s.issued = append(s.issued, c)
	s.mu.Unlock()
	var out assumeRoleResponse
	out.XMLName = xml.Name{Space: "https://sts.amazonaws.com/doc/2011-06-15/", Local: action + "Response"}
	out.Result.XMLName = xml.Name{Local: action + "Result"}
	out.Result.Credentials.AccessKeyID = c.AccessKeyID
	out.Result.Credentials.SecretAccessKey = c.SecretAccessKey
	out.Result.Credentials.SessionToken = c.SessionToken
	out.Result.Credentials.Expiration = c.Expiry.Format(time.RFC3339)
	out.Result.AssumedRoleUser.Arn = c.RoleARN + "/" + c.SessionName
	out.Result.AssumedRoleUser.AssumedRoleID = "AROAFAKE:" + c.SessionName
	out.RequestID = random(8)
	w.Header().Set("Content-Type", "text/xml")
	xml.NewEncoder(w).Encode(out)
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>x</RequestId></ErrorResponse>`, code, msg)
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
