// Package fakesecretmanager is a loopback stand-in for Google Secret
// Manager's REST API v1 as a client reads a secret: `GET
// /v1/{secret}/versions/{version}:access`, for global
// (projects/P/secrets/S) and regional (projects/P/locations/L/secrets/S)
// secrets. Bearer tokens must have been minted by a fakegcp server, and each
// secret admits only the service accounts allowed on it (the
// roles/secretmanager.secretAccessor binding). Answers and errors have
// Google's JSON shapes. It is served over TLS under Google's host names
// (secretmanager.googleapis.com and the regional
// secretmanager.LOCATION.rep.googleapis.com, internal/testkit/fakehosts), which the
// store reaches through the HTTP client a test injects
// (registry.Options.HTTPClient: Server.Client).
package fakesecretmanager

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/internal/testkit/fakehosts"
)

// Host is Secret Manager's global endpoint's host.
const Host = "secretmanager.googleapis.com"

// Locations are the regions whose endpoints the fake serves besides Host,
// unless Options.Locations says otherwise.
var Locations = []string{"europe-west4", "us-central1", "us-east1"}

// Options configure a Server.
type Options struct {
	// GCP minted the tokens the server accepts (required).
	GCP *fakegcp.Server
	// ProjectID and ProjectNumber name the one project: requests may use
	// either, answers use the number, as Google's do. Defaults:
	// byok-test-project and 123456789012.
	ProjectID, ProjectNumber string
	// Locations are the regions whose endpoints are served (default
	// Locations).
	Locations []string
	// Network serves the endpoints (default: a network of its own), so
	// that one client reaches them and the other fakes a test runs.
	Network *fakehosts.Network
}

// Server is a running fake.
type Server struct {
	// URL is the global endpoint, https://secretmanager.googleapis.com.
	URL  string
	opts Options
	srv  *httptest.Server
	net  *fakehosts.Network

	mu        sync.Mutex
	secrets   map[string]*secret // by name with the project number
	down      bool
	corrupt   bool
	requests  int
	paths     []string
	hosts     []string
	rejected  []string
	accessors map[string][]string // account → versions read, for tests
}

type secret struct {
	versions []*version // versions[i] is number i+1
	allowed  []string
}

type version struct {
	data     string
	disabled bool
}

// Start listens on 127.0.0.1 on a free port, for Host and the locations'
// endpoints.
func Start(opts Options) (*Server, error) {
	if opts.GCP == nil {
		return nil, fmt.Errorf("fakesecretmanager: Options.GCP is required: it checks the bearer tokens")
	}
	if opts.ProjectID == "" {
		opts.ProjectID = "byok-test-project"
	}
	if opts.ProjectNumber == "" {
		opts.ProjectNumber = "123456789012"
	}
	if opts.Locations == nil {
		opts.Locations = Locations
	}
	if opts.Network == nil {
		opts.Network = fakehosts.New()
	}
	s := &Server{URL: "https://" + Host, opts: opts, net: opts.Network, secrets: map[string]*secret{}, accessors: map[string][]string{}}
	hosts := []string{Host}
	for _, l := range opts.Locations {
		hosts = append(hosts, "secretmanager."+l+".rep.googleapis.com")
	}
	s.srv = s.net.Serve(s, hosts...)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { s.srv.Close(); return nil }

// Client reaches the endpoints (and the other fakes of its network): the
// HTTP client a test gives registry.Options.HTTPClient.
func (s *Server) Client() *http.Client { return s.net.Client() }

var secretName = regexp.MustCompile(`^projects/([^/]+)/(locations/[^/]+/)?secrets/([^/]+)$`)

// canonical names a secret with the project number.
func (s *Server) canonical(name string) string {
	m := secretName.FindStringSubmatch(name)
	if m == nil {
		panic("fakesecretmanager: not a secret name: " + name)
	}
	project := m[1]
	if project == s.opts.ProjectID {
		project = s.opts.ProjectNumber
	}
	return "projects/" + project + "/" + m[2] + "secrets/" + m[3]
}

func (s *Server) secret(name string) *secret {
	key := s.canonical(name)
	sec := s.secrets[key]
	if sec == nil {
		sec = &secret{}
		s.secrets[key] = sec
	}
	return sec
}

// AddVersion adds a version holding data to the secret name
// (projects/P/secrets/S or projects/P/locations/L/secrets/S), creating the
// secret, and returns the new version's number.
func (s *Server) AddVersion(name, data string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secret(name)
	sec.versions = append(sec.versions, &version{data: data})
	return strconv.Itoa(len(sec.versions))
}

// Allow lets accounts read the secret name.
func (s *Server) Allow(name string, accounts ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secret(name)
	sec.allowed = append(sec.allowed, accounts...)
}

// Disable disables a version of the secret name: reading it fails with
// FAILED_PRECONDITION, as reading "latest" does while the newest version is
// disabled.
func (s *Server) Disable(name, number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, _ := strconv.Atoi(number)
	s.secret(name).versions[n-1].disabled = true
}

// Down makes every request fail with 503 UNAVAILABLE while down is true.
func (s *Server) Down(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

// CorruptChecksum makes answers carry a dataCrc32c that does not match
// their data while corrupt is true.
func (s *Server) CorruptChecksum(corrupt bool) { s.mu.Lock(); s.corrupt = corrupt; s.mu.Unlock() }

// Requests counts the requests received.
func (s *Server) Requests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.requests }

// Paths returns the request paths, in order.
func (s *Server) Paths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.paths)
}

// Hosts returns the host each request was sent to, in order.
func (s *Server) Hosts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.hosts)
}

// Rejected returns why requests were refused, in order.
func (s *Server) Rejected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rejected)
}

// Reads returns the versions (full names) account read, in order.
func (s *Server) Reads(account string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.accessors[account])
}

// fail answers with Google's JSON error; s.mu is held.
func (s *Server) fail(w http.ResponseWriter, code int, status, message string) {
	s.rejected = append(s.rejected, status+": "+message)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": message, "status": status}})
}

var accessPath = regexp.MustCompile(`^/v1/(projects/[^/]+/(?:locations/[^/]+/)?secrets/[^/]+)/versions/([^/:]+):access$`)

// ServeHTTP implements the access route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.paths = append(s.paths, r.URL.Path)
	s.hosts = append(s.hosts, r.Host)
	if s.down {
		s.fail(w, http.StatusServiceUnavailable, "UNAVAILABLE", "The service is currently unavailable.")
		return
	}
	m := accessPath.FindStringSubmatch(r.URL.Path)
	if m == nil || r.Method != http.MethodGet {
		s.fail(w, http.StatusNotFound, "NOT_FOUND", "no route "+r.Method+" "+r.URL.Path)
		return
	}
	account, err := s.caller(r)
	if err != nil {
		s.fail(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. ("+err.Error()+")")
		return
	}
	name, number := s.canonical(m[1]), m[2]
	sec := s.secrets[name]
	if sec == nil || len(sec.versions) == 0 {
		s.fail(w, http.StatusNotFound, "NOT_FOUND", "Secret ["+name+"] not found or has no versions.")
		return
	}
	if !slices.Contains(sec.allowed, account) {
		s.fail(w, http.StatusForbidden, "PERMISSION_DENIED", "Permission 'secretmanager.versions.access' denied for resource '"+m[1]+"/versions/"+number+"' (or it may not exist).")
		return
	}
	n := len(sec.versions)
	if number != "latest" {
		if n, err = strconv.Atoi(number); err != nil || n < 1 || n > len(sec.versions) {
			s.fail(w, http.StatusNotFound, "NOT_FOUND", "Secret Version ["+name+"/versions/"+number+"] not found.")
			return
		}
	}
	full := name + "/versions/" + strconv.Itoa(n)
	v := sec.versions[n-1]
	if v.disabled {
		s.fail(w, http.StatusBadRequest, "FAILED_PRECONDITION", "Secret Version ["+full+"] is in DISABLED state.")
		return
	}
	crc := crc32.Checksum([]byte(v.data), crc32.MakeTable(crc32.Castagnoli))
	if s.corrupt {
		crc ^= 1
	}
	s.accessors[account] = append(s.accessors[account], full)
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(map[string]any{
		"name": full,
		// int64 fields are strings in proto3 JSON.
		"payload": map[string]string{"data": base64.StdEncoding.EncodeToString([]byte(v.data)), "dataCrc32c": strconv.FormatUint(uint64(crc), 10)},
	})
}

// caller is the service account the request's bearer token speaks for.
func (s *Server) caller(r *http.Request) (string, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", fmt.Errorf("no bearer token")
	}
	if err := s.opts.GCP.Check(tok, time.Now()); err != nil {
		return "", err
	}
	for _, is := range s.opts.GCP.Issued() {
		if is.Token == tok {
			return is.Account, nil
		}
	}
	return "", fmt.Errorf("token not issued")
}
