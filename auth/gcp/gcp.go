// Package gcp is the `auth.type: gcp` credential kind: Google OAuth2 access
// tokens from Application Default Credentials (metadata server, a
// service-account key file, workload identity federation, service-account
// impersonation), for Vertex AI's OpenAI-compatible endpoint. Import it for
// its side effect of registering the kind:
//
//	import _ "github.com/byokcred/byokcred/auth/gcp"
package gcp

//go:generate go run ../../schema/fielddocs -type Auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"cloud.google.com/go/auth"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/internal/lazyre"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/secretfile"
)

func init() {
	kind.Register("gcp", func() kind.AuthConfig { return new(Auth) })
}

// DefaultScope is the scope Vertex AI accepts.
const DefaultScope = "https://www.googleapis.com/auth/cloud-platform"

// DefaultUniverseDomain is Google Cloud's public universe.
const DefaultUniverseDomain = "googleapis.com"

// Auth is `auth.type: gcp`: Google OAuth2 access tokens from Application
// Default Credentials.
type Auth struct {
	// CredentialsFile is a credentials JSON file (a service-account key, an
	// external_account workload identity federation config, …) used instead
	// of Application Default Credentials' search. It must not be readable
	// by group or others.
	CredentialsFile string `yaml:"credentials_file" byok:"expand"`
	// ImpersonateServiceAccount is the email of a service account whose
	// tokens the found credential mints (it needs
	// roles/iam.serviceAccountTokenCreator on it).
	ImpersonateServiceAccount string `yaml:"impersonate_service_account"`
	// Scopes of the access token; default
	// https://www.googleapis.com/auth/cloud-platform.
	Scopes []string `yaml:"scopes"`
	// Project is the Google Cloud project of the Vertex AI endpoint; when
	// set, a Vertex base_url must name the same project.
	Project string `yaml:"project"`
	// Location is the Vertex AI region (us-central1, europe-west4, global,
	// …); when set, a Vertex base_url must name the same location.
	Location string `yaml:"location"`
	// UniverseDomain is the Google Cloud universe of the credential and the
	// endpoints (default googleapis.com; a Google Distributed Cloud or
	// Trusted Partner Cloud universe's own domain otherwise). The Vertex AI
	// base_url must be in it, and the credential must belong to it.
	UniverseDomain string `yaml:"universe_domain"`
	// Refresh is per_request (default) or per_session.
	Refresh string `yaml:"refresh"`

	// client carries the Google clients' requests
	// (kind.Build.HTTPClient, taken by ValidateCredentials and
	// Source); nil leaves each its default client.
	client *http.Client
}

// Enums implements kind.Enumer.
func (a *Auth) Enums() map[string][]string {
	return map[string][]string{"refresh": {kind.RefreshPerRequest, kind.RefreshPerSession}}
}

// refreshMode is the `refresh:` chosen (kind.Result.Refresh).
func (a *Auth) refreshMode() string {
	if a.Refresh == "" {
		return kind.RefreshPerRequest
	}
	return a.Refresh
}

// Universe is the universe domain the keys name (universe_domain, default
// googleapis.com): a client of another Google API builds its endpoints in
// it (https://SERVICE.UNIVERSE).
func (a *Auth) Universe() string {
	if a.UniverseDomain == "" {
		return DefaultUniverseDomain
	}
	return a.UniverseDomain
}

func (a *Auth) scopes() []string {
	if len(a.Scopes) == 0 {
		return []string{DefaultScope}
	}
	return a.Scopes
}

var (
	// scopePattern is a Google OAuth scope URL; the characters are limited
	// so that nothing can be smuggled into the token request.
	scopePattern = lazyre.New(`^https://www\.googleapis\.com/auth/[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)
	// Google's rules for ids: project ids are 6–30 lowercase letters,
	// digits and hyphens; service accounts are emails; locations are
	// region names.
	projectPattern  = lazyre.New(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	locationPattern = lazyre.New(`^[a-z]+(-[a-z]+[0-9]*)*$`)
	emailPattern    = lazyre.New(`^[a-z0-9][a-z0-9._-]*@[a-z0-9][a-z0-9.-]*\.[a-z]+$`)
	// universePattern is a DNS name of two labels or more.
	universePattern = lazyre.New(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
	// vertexPath is the OpenAI-compatible endpoint's path.
	vertexPath = lazyre.New(`^/v1(?:beta1)?/projects/([^/]+)/locations/([^/]+)/endpoints/openapi/?$`)
)

// CheckScope validates a Google OAuth scope.
func CheckScope(scope string) error {
	if !scopePattern.MatchString(scope) {
		return fmt.Errorf("invalid scope %q: want a Google OAuth scope URL such as %s", scope, DefaultScope)
	}
	return nil
}

// Validate implements kind.AuthConfig.
func (a *Auth) Validate(b *kind.Build) {
	a.ValidateCredentials(b)
	if a.Project != "" && !projectPattern.MatchString(a.Project) {
		b.Errorf("project", "invalid project id %q: 6 to 30 lowercase letters, digits or hyphens, starting with a letter", a.Project)
	}
	if a.Location != "" && !locationPattern.MatchString(a.Location) {
		b.Errorf("location", "invalid location %q: want a Vertex AI region such as us-central1 or global", a.Location)
	}
	switch a.Refresh {
	case "", kind.RefreshPerRequest, kind.RefreshPerSession:
	default:
		b.Errorf("refresh", "unknown refresh %q (one of: per_request, per_session)", a.Refresh)
	}
	a.checkVertexURL(b)
}

// ValidateCredentials checks the keys that choose the credential
// (credentials_file, impersonate_service_account, scopes) and nothing
// about Vertex AI: for a module that reads another Google API with gcp
// keys, such as a secret store.
func (a *Auth) ValidateCredentials(b *kind.Build) {
	a.client = b.HTTPClient
	// The file is this machine's: --offline (CI, no credentials) does
	// not look at it.
	if a.CredentialsFile != "" && !b.Offline {
		fi, err := os.Stat(a.CredentialsFile)
		switch {
		case err != nil:
			b.EnvErrorf("credentials_file", "cannot read credentials file: %v", err)
		default:
			if err := secretfile.CheckMode(a.CredentialsFile, fi); err != nil {
				b.EnvErrorf("credentials_file", "%v", err)
			}
		}
	}
	if u := a.UniverseDomain; u != "" && !universePattern.MatchString(u) {
		b.Errorf("universe_domain", "invalid universe_domain %q: want a domain name such as %s (the universe's, without a service name)", u, DefaultUniverseDomain)
	}
	if s := a.ImpersonateServiceAccount; s != "" && !emailPattern.MatchString(s) {
		b.Errorf("impersonate_service_account", "invalid service account %q: want an email such as vertex@PROJECT.iam.gserviceaccount.com", s)
	}
	seen := map[string]bool{}
	for i, s := range a.Scopes {
		key := fmt.Sprintf("scopes[%d]", i)
		if err := CheckScope(s); err != nil {
			b.Errorf(key, "%v", err)
		} else if seen[s] {
			b.Errorf(key, "scope %s is listed twice", s)
		}
		seen[s] = true
	}
}

// checkVertexURL holds a Vertex AI base_url to the project and location of
// the auth block: a token for one project sent to another's endpoint fails
// with a 403 far from its cause.
func (a *Auth) checkVertexURL(b *kind.Build) {
	p := b.Provider
	if p == nil {
		return
	}
	v, ok := ParseVertexURL(p.BaseURL)
	if !ok {
		return
	}
	// An invalid project or location is reported once, not again as a
	// mismatch.
	if a.Project != "" && v.Project != a.Project && !b.Failed("project") {
		b.ProviderErrorf("base_url", "base_url is Vertex AI project %q, but auth.project is %q", v.Project, a.Project)
	}
	if a.Location != "" && v.Location != a.Location && !b.Failed("location") {
		b.ProviderErrorf("base_url", "base_url is Vertex AI location %q, but auth.location is %q", v.Location, a.Location)
	}
	if v.Universe != a.Universe() && !b.Failed("universe_domain") {
		b.ProviderErrorf("base_url", "base_url is Vertex AI in universe %s, but the credential's universe is %s (auth.universe_domain); set universe_domain: %s, or use the endpoint of universe %s", v.Universe, a.Universe(), v.Universe, a.Universe())
	} else if v.Location != "global" && v.Host != v.Location+"-aiplatform."+v.Universe {
		b.ProviderErrorf("base_url", "base_url host %s does not serve location %q (want %s-aiplatform.%s)", v.Host, v.Location, v.Location, v.Universe)
	}
	if p.Type != config.TypeOpenAI {
		b.ProviderErrorf("type", "Vertex AI's OpenAI-compatible endpoint needs type openai, not %q", p.Type)
	}
	if p.WireAPI == "responses" {
		b.ProviderErrorf("wire_api", "Vertex AI's OpenAI-compatible endpoint serves chat completions, not the responses API")
	}
}

// VertexURL is what a Vertex AI OpenAI-compatible base URL names.
type VertexURL struct {
	Host, Project, Location string
	// Universe is the universe domain of the host (googleapis.com).
	Universe string
}

// ParseVertexURL recognises a Vertex AI OpenAI-compatible base URL
// (https://{location}-aiplatform.{universe}/v1/projects/{project}/locations/{location}/endpoints/openapi,
// or aiplatform.{universe} for the global location).
func ParseVertexURL(s string) (VertexURL, bool) {
	u, err := url.Parse(s)
	if err != nil {
		return VertexURL{}, false
	}
	host := strings.ToLower(u.Hostname())
	_, universe, ok := strings.Cut(host, "aiplatform.")
	if !ok || !universePattern.MatchString(universe) {
		return VertexURL{}, false
	}
	if prefix := strings.TrimSuffix(host, "aiplatform."+universe); prefix != "" && !strings.HasSuffix(prefix, "-") {
		return VertexURL{}, false
	}
	m := vertexPath.FindStringSubmatch(u.Path)
	if m == nil {
		return VertexURL{}, false
	}
	return VertexURL{Host: host, Project: m[1], Location: m[2], Universe: universe}, true
}

// VertexBaseURL is the OpenAI-compatible endpoint of project in location.
func VertexBaseURL(project, location string) string {
	host := location + "-aiplatform.googleapis.com"
	if location == "global" {
		host = "aiplatform.googleapis.com"
	}
	return "https://" + host + "/v1/projects/" + project + "/locations/" + location + "/endpoints/openapi"
}

// Source implements kind.AuthConfig. It reads the credentials file (so
// a file opened up since validation is still refused) but leaves finding
// the credential to the first Token call: the search may ask the metadata
// server.
func (a *Auth) Source(b *kind.Build) (kind.Result, error) {
	a.client = b.HTTPClient
	opts, err := a.sourceOptions()
	if err != nil {
		return kind.Result{}, err
	}
	src, err := NewSource(opts)
	if err != nil {
		return kind.Result{}, err
	}
	return kind.Result{Source: src, Refresh: a.refreshMode(), Describe: src.DescribeToken}, nil
}

// sourceOptions reads the credentials file, if any, under the owner-only
// rule.
func (a *Auth) sourceOptions() (SourceOptions, error) {
	opts := SourceOptions{
		Scopes:                    a.scopes(),
		ImpersonateServiceAccount: a.ImpersonateServiceAccount,
		Project:                   a.Project,
		UniverseDomain:            a.UniverseDomain,
		HTTPClient:                a.client,
	}
	if a.CredentialsFile != "" {
		data, err := secretfile.ReadBytes(a.CredentialsFile)
		if err != nil {
			return SourceOptions{}, fmt.Errorf("gcp: credentials_file: %w", err)
		}
		// The SDK takes empty bytes for none and would search ADC
		// instead: another identity than the one the config names.
		if !json.Valid(data) {
			return SourceOptions{}, fmt.Errorf("gcp: credentials_file %s is not JSON; point it at a credentials JSON file (a service-account key, an external_account config)", a.CredentialsFile)
		}
		// A type the kind does not load fails the config at load, not at
		// the first token.
		if _, err := checkCredentialsType(data); err != nil {
			return SourceOptions{}, fmt.Errorf("gcp: credentials_file %s: %w", a.CredentialsFile, err)
		}
		opts.CredentialsJSON = data
		opts.CredentialsFile = a.CredentialsFile
	}
	return opts, nil
}

// SDKCredentials finds the credential the keys choose, as the kind's source
// does (credentials_file, refused when readable by group or others, else
// Application Default Credentials' search; exchanged for
// impersonate_service_account's tokens when set), for a client of another
// Google API (httptransport.Options.Credentials). Unlike the source's, the
// credential keeps the SDK's own token cache: no credential.Cache stands
// around it. The search may ask the metadata server, so call it when a
// token is first needed, not at load.
func (a *Auth) SDKCredentials(ctx context.Context) (*auth.Credentials, error) {
	opts, err := a.sourceOptions()
	if err != nil {
		return nil, err
	}
	s := &Source{opts: opts, sdkCache: true}
	if err := s.detect(ctx); err != nil {
		return nil, err
	}
	if opts.ImpersonateServiceAccount == "" {
		return s.creds, nil
	}
	creds, err := s.impersonate(s.creds)
	if err != nil {
		return nil, fmt.Errorf("gcp: impersonate %s: %w", opts.ImpersonateServiceAccount, err)
	}
	return creds, nil
}
