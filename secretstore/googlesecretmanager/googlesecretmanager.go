// Package googlesecretmanager is the `google_secret_manager` secret store of
// the static kind: an API key or bearer token read from Google Secret
// Manager (REST API v1) with gcp credentials, re-read as it rotates. Import
// it for its side effect of registering the store:
//
//	import _ "github.com/byokcred/byokcred/secretstore/googlesecretmanager"
//
// In a config:
//
//	auth:
//	  type: static
//	  api_key_secret:
//	    store: google_secret_manager
//	    secret: projects/my-project/secrets/openai-key   # or …/locations/L/secrets/S, optionally …/versions/N
//	    auth: {impersonate_service_account: reader@my-project.iam.gserviceaccount.com}
package googlesecretmanager

//go:generate go run ../../schema/fielddocs -type store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/httptransport"
	"cloud.google.com/go/compute/metadata"

	gcp "github.com/byokcred/byokcred/auth/gcp"
	// A store is reached through static's api_key_secret and
	// bearer_token_secret: importing one makes them available.
	_ "github.com/byokcred/byokcred/auth/static"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/lazyre"
	"github.com/byokcred/byokcred/internal/storelimit"
	"github.com/byokcred/byokcred/kind"
)

const storeName = "google_secret_manager"

func init() {
	kind.RegisterStore(storeName, func() kind.Store { return new(store) })
}

// sdkLog is the only logger Google's SDK gets: its debug logs carry whole
// requests and responses, and with them access tokens and secret payloads.
var sdkLog = slog.New(slog.DiscardHandler)

var (
	// Resource names as Secret Manager spells them: a project id (6–30
	// lowercase letters, digits, hyphens) or number, a region, a secret id
	// of 1–255 letters, digits, underscores and hyphens, a version number
	// or the alias latest.
	secretPattern  = lazyre.New(`^projects/([^/]*)/(?:locations/([^/]*)/)?secrets/([^/]*)(?:/versions/([^/]*))?$`)
	projectPattern = lazyre.New(`^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]+)$`)
	regionPattern  = lazyre.New(`^[a-z]+(?:-[a-z]+[0-9]*)+$`)
	secretIDRule   = lazyre.New(`^[A-Za-z0-9_-]{1,255}$`)
	versionPattern = lazyre.New(`^(?:[1-9][0-9]*|latest)$`)
)

// store is the `google_secret_manager` block of a reference: which
// secret, which version, and the gcp keys of the identity that reads it
// (its keys beside store, json_key and refresh_interval).
type store struct {
	// Secret is the Secret Manager secret's resource name,
	// projects/PROJECT/secrets/NAME or
	// projects/PROJECT/locations/REGION/secrets/NAME, optionally followed by
	// /versions/N; ${VAR} expands.
	Secret string `yaml:"secret" byok:"expand"`
	// Version pins one version of the secret (its number); default: the
	// latest version, followed as the secret rotates.
	Version string `yaml:"version"`
	// Auth is the Google identity that reads the secret: the keys of
	// auth.type gcp, without type (no project, location or refresh: the
	// secret's name says where it is, refresh_interval when it is re-read).
	// Default: Application Default Credentials.
	Auth *gcp.Auth `yaml:"auth"`

	name     string // projects/P[/locations/L]/secrets/S
	location string // "" for a global secret
	version  string // a number, "" for latest
	auth     gcp.Auth
}

var (
	_ kind.Store        = (*store)(nil)
	_ kind.Diagnoser    = (*store)(nil)
	_ kind.SecretReader = (*reader)(nil)
)

// Validate implements kind.Store.
func (s *store) Validate(b *kind.Build) {
	if s.Secret == "" {
		if !b.Failed("secret") {
			b.Errorf("", "missing key \"secret\": the Secret Manager secret's resource name, projects/PROJECT/secrets/NAME")
		}
		return
	}
	s.parse(b)
	if s.Auth == nil {
		return
	}
	ab := b.Sub("auth")
	s.auth = *s.Auth
	for _, k := range []struct {
		key string
		set bool
	}{{"project", s.auth.Project != ""}, {"location", s.auth.Location != ""}, {"refresh", s.auth.Refresh != ""}} {
		if key := k.key; k.set {
			ab.Errorf(key, "%s is a Vertex AI key and does not apply to a secret's credential; the secret's name says its project and location, refresh_interval when it is re-read", key)
		}
	}
	s.auth.ValidateCredentials(ab)
	// Regional endpoints are documented in Google's public universe only.
	if s.location != "" && s.auth.Universe() != gcp.DefaultUniverseDomain && !ab.Failed("universe_domain") {
		b.Errorf("secret", "a regional secret (locations/%s) is read at secretmanager.%s.rep.googleapis.com, which Google documents in universe googleapis.com only, not in %s; use a global secret (projects/PROJECT/secrets/NAME)", s.location, s.location, s.auth.Universe())
	}
}

// parse checks the secret's name and version and keeps them.
func (s *store) parse(b *kind.Build) {
	m := secretPattern.FindStringSubmatch(s.Secret)
	if m == nil {
		b.Errorf("secret", "invalid Secret Manager secret %q: want projects/PROJECT/secrets/NAME or projects/PROJECT/locations/REGION/secrets/NAME, optionally followed by /versions/N", s.Secret)
		return
	}
	project, location, id, version := m[1], m[2], m[3], m[4]
	bad := func(format string, args ...any) {
		b.Errorf("secret", "invalid Secret Manager secret %q: "+format, append([]any{s.Secret}, args...)...)
	}
	switch {
	case !projectPattern.MatchString(project):
		bad("project %q is neither a project id (6 to 30 lowercase letters, digits or hyphens, starting with a letter) nor a project number", project)
		return
	case strings.Contains(s.Secret, "/locations/") && location == "global":
		bad("a global secret is named projects/%s/secrets/%s, without locations/global", project, id)
		return
	case strings.Contains(s.Secret, "/locations/") && !regionPattern.MatchString(location):
		bad("location %q is not a region such as us-central1 or europe-west4", location)
		return
	case !secretIDRule.MatchString(id):
		bad("the secret id %q must be 1 to 255 letters, digits, underscores or hyphens", id)
		return
	case strings.Contains(s.Secret, "/versions/") && !versionPattern.MatchString(version):
		bad("version %q is neither a version number nor latest", version)
		return
	}
	s.name, s.location = "projects/"+project+"/"+cond(location != "", "locations/"+location+"/", "")+"secrets/"+id, location
	if strings.Contains(s.Secret, "/versions/") && s.Version != "" {
		b.Errorf("version", "the secret %q already names version %s; keep one of version and /versions/ in secret", s.Secret, version)
		return
	}
	if s.Version != "" {
		if !versionPattern.MatchString(s.Version) {
			b.Errorf("version", "invalid version %q: a version number (1, 2, …) or latest", s.Version)
			return
		}
		version = s.Version
	}
	if version != "latest" {
		s.version = version
	}
}

func cond(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

// Reader implements kind.Store. The credential is found at the first
// read: Application Default Credentials' search may ask the metadata
// server.
func (s *store) Reader(b *kind.Build) (kind.SecretReader, error) {
	r := &reader{store: *s, endpoint: "https://secretmanager." + s.auth.Universe()}
	if s.location != "" {
		r.endpoint = "https://secretmanager." + s.location + ".rep.googleapis.com"
	}
	if b.HTTPClient != nil {
		// The program's client carries the requests, under the
		// authorization httptransport adds.
		r.base = b.HTTPClient.Transport
		if r.base == nil {
			r.base = http.DefaultTransport
		}
	}
	return r, nil
}

// Diagnose implements kind.Diagnoser: how the gcp credential that
// reads the secret is found.
func (s *store) Diagnose(ctx context.Context) []kind.ChainLink {
	return s.auth.Diagnose(ctx)
}

// reader reads one secret version.
type reader struct {
	store
	endpoint string
	base     http.RoundTripper // nil: the SDK's default transport

	mu     sync.Mutex
	creds  *auth.Credentials
	client *http.Client
}

// Reference implements kind.SecretReader.
func (r *reader) Reference() string {
	if r.version != "" {
		return r.name + "/versions/" + r.version
	}
	return r.name
}

// httpClient finds the credential on first use; a failed search is tried
// again at the next read.
func (r *reader) httpClient(ctx context.Context) (*http.Client, *auth.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil {
		return r.client, r.creds, nil
	}
	creds, err := r.auth.SDKCredentials(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("googlesecretmanager: %w", err)
	}
	c, err := httptransport.NewClient(&httptransport.Options{Credentials: creds, BaseRoundTripper: r.base, Logger: sdkLog, UniverseDomain: r.auth.UniverseDomain})
	if err != nil {
		return nil, nil, fmt.Errorf("googlesecretmanager: %w", err)
	}
	r.client, r.creds = c, creds
	return c, creds, nil
}

// accessResponse is AccessSecretVersionResponse.
type accessResponse struct {
	Name    string `json:"name"`
	Payload struct {
		Data []byte `json:"data"`
		// DataCrc32c is an int64, a string in proto3 JSON.
		DataCrc32c json.Number `json:"dataCrc32c"`
	} `json:"payload"`
}

// castagnoli builds the CRC-32C table on the first read, not at init:
// every byokcred command links this package, few read a Google secret.
var castagnoli = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// ReadSecret implements kind.SecretReader.
func (r *reader) ReadSecret(ctx context.Context) (*kind.SecretValue, error) {
	client, creds, err := r.httpClient(ctx)
	if err != nil {
		return nil, err
	}
	version := cond(r.version != "", r.version, "latest")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.endpoint+"/v1/"+r.name+"/versions/"+version+":access", nil)
	if err != nil {
		return nil, fmt.Errorf("googlesecretmanager: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("googlesecretmanager: reading from %s: %w", r.endpoint, err)
	}
	defer resp.Body.Close()
	// Read here, not by an SDK: at most MaxAnswer bytes are held.
	if resp.ContentLength > storelimit.MaxAnswer {
		return nil, fmt.Errorf("googlesecretmanager: %s: %w", r.endpoint, &storelimit.TooLargeError{Size: resp.ContentLength})
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, storelimit.MaxAnswer+1))
	if len(body) > storelimit.MaxAnswer {
		clear(body)
		return nil, fmt.Errorf("googlesecretmanager: %s: %w", r.endpoint, &storelimit.TooLargeError{Size: -1})
	}
	if err != nil {
		return nil, fmt.Errorf("googlesecretmanager: reading the answer from %s: %w", r.endpoint, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// The credential itself was refused: search again at the next
		// read, which picks up a replaced key file or identity.
		r.mu.Lock()
		r.client, r.creds = nil, nil
		r.mu.Unlock()
	}
	if resp.StatusCode != http.StatusOK {
		return nil, r.statusError(ctx, creds, resp.StatusCode, body)
	}
	// The answer holds the secret: no part of it goes into an error.
	var a accessResponse
	if json.Unmarshal(body, &a) != nil {
		return nil, fmt.Errorf("googlesecretmanager: %s answered 200 with something other than an access response", r.endpoint)
	}
	got := "unknown"
	if _, v, ok := strings.Cut(a.Name, "/versions/"); ok && v != "" {
		got = v
	}
	if a.Payload.DataCrc32c != "" {
		want, err := strconv.ParseUint(string(a.Payload.DataCrc32c), 10, 32)
		if err != nil || uint32(want) != crc32.Checksum(a.Payload.Data, castagnoli()) {
			return nil, fmt.Errorf("googlesecretmanager: version %s: the payload does not match its CRC32C checksum (corrupted on the way); it is read again at the next refresh", got)
		}
	}
	v := &kind.SecretValue{Value: credential.NewSecret(string(a.Payload.Data)), Version: got}
	clear(a.Payload.Data)
	clear(body)
	return v, nil
}

// googleError is the error body of Google APIs.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
	} `json:"error"`
}

// statusError turns a failed access into what to do about it.
func (r *reader) statusError(ctx context.Context, creds *auth.Credentials, code int, body []byte) error {
	var g googleError
	status, said := http.StatusText(code), ""
	if json.Unmarshal(body, &g) == nil && g.Error.Status != "" {
		status, said = g.Error.Status, " ("+g.Error.Message+")"
	}
	head := fmt.Sprintf("googlesecretmanager: %d %s%s: ", code, status, said)
	project, id := r.project(), r.secretID()
	where := cond(r.location != "", " --location "+r.location, "")
	list := "gcloud secrets versions list " + id + " --project " + project + where
	switch {
	case status == "NOT_FOUND":
		return errors.New(head + "no such secret or version; check the name and the version against `" + list + "`")
	case status == "PERMISSION_DENIED":
		who, member := principal(ctx, &r.auth, creds), "…"
		if !strings.Contains(who, " ") {
			member = "serviceAccount:" + who
		}
		return errors.New(head + "grant roles/secretmanager.secretAccessor on the secret to " + who + " (gcloud secrets add-iam-policy-binding " + id + " --project " + project + where + " --role roles/secretmanager.secretAccessor --member " + member + ")")
	case status == "UNAUTHENTICATED":
		return errors.New(head + "Secret Manager did not accept the access token; check the credential the reference's auth block selects")
	case status == "FAILED_PRECONDITION":
		return errors.New(head + "the version is disabled or destroyed; enable it, add a new version, or pin an enabled one (`" + list + "`)")
	case status == "RESOURCE_EXHAUSTED":
		return errors.New(head + "quota exceeded; raise refresh_interval or the project's Secret Manager quota")
	case code >= 500:
		return errors.New(head + "Secret Manager is unavailable; a value read before stays in use, and the read is retried")
	}
	return errors.New(head + "unexpected answer")
}

func (r *reader) project() string  { return strings.Split(r.name, "/")[1] }
func (r *reader) secretID() string { return r.name[strings.LastIndex(r.name, "/")+1:] }

var impersonationURL = lazyre.New(`serviceAccounts/([^/:]+):generateAccessToken`)

// principal names who the secret must be shared with: the impersonated
// service account, the key file's or the metadata server's account.
func principal(ctx context.Context, a *gcp.Auth, creds *auth.Credentials) string {
	if a.ImpersonateServiceAccount != "" {
		return a.ImpersonateServiceAccount
	}
	var file struct {
		ClientEmail    string `json:"client_email"`
		Impersonation  string `json:"service_account_impersonation_url"`
		CredentialType string `json:"type"`
	}
	if data := creds.JSON(); data != nil {
		if json.Unmarshal(data, &file) == nil {
			if m := impersonationURL.FindStringSubmatch(file.Impersonation); m != nil {
				return m[1]
			}
			if file.ClientEmail != "" {
				return file.ClientEmail
			}
		}
		return "the identity of the credential (" + cond(file.CredentialType != "", file.CredentialType, "unknown type") + ")"
	}
	c := metadata.NewWithOptions(&metadata.Options{Logger: sdkLog})
	if email, err := c.EmailWithContext(ctx, "default"); err == nil && email != "" {
		return email
	}
	return "the identity that reads it"
}
