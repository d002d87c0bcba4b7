package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/credentials/impersonate"
	"cloud.google.com/go/auth/httptransport"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/lazyre"
	"github.com/byokcred/byokcred/kind"
)

// alwaysStale makes the SDK's own token cache hand every Token call to the
// identity provider: the credential.Cache around a Source decides when to
// refresh, and the two caches must not disagree (the SDK would answer an
// early refresh with the token the cache is trying to replace).
const alwaysStale = 100 * 365 * 24 * time.Hour

// sdkLog is the only logger Google's SDK gets. Its debug logs carry whole
// request and response bodies — access tokens, STS subject tokens — so
// they never reach the host's logger, and a non-nil logger keeps
// GOOGLE_SDK_GO_LOGGING_LEVEL from turning them on behind our back.
var sdkLog = slog.New(slog.DiscardHandler)

// SourceOptions configure a Source.
type SourceOptions struct {
	// Scopes of the access token; default DefaultScope.
	Scopes []string
	// CredentialsJSON is a credentials file's content, loaded by its
	// declared type when the kind allows it; nil searches Application
	// Default Credentials.
	CredentialsJSON []byte
	// CredentialsFile names CredentialsJSON's file in errors and
	// descriptions.
	CredentialsFile string
	// ImpersonateServiceAccount, when set, exchanges the found credential
	// for this service account's tokens.
	ImpersonateServiceAccount string
	// Project, when set, is reported instead of the credential's own.
	Project string
	// UniverseDomain, when set, is the universe the credential must belong
	// to (its file's universe_domain, or the metadata server's); default
	// googleapis.com.
	UniverseDomain string

	// HTTPClient, when set, carries the requests of every Google client
	// the source makes (token endpoints, STS, IAM Credentials, the
	// metadata server); nil leaves each its default client.
	HTTPClient *http.Client
}

// Source gets Google OAuth2 access tokens from Application Default
// Credentials. It does not cache; wrap it in a credential.Cache.
type Source struct {
	opts SourceOptions

	// sdkCache keeps the SDK's own token cache (Auth.Credentials: no
	// credential.Cache around the credential).
	sdkCache bool

	mu    sync.Mutex
	creds *auth.Credentials
	from  string // which source answered, for errors and descriptions
	// json is the credentials file the credential came from, as read
	// under the rules (nil for the metadata server): the SDK is handed
	// these bytes, never the path.
	json []byte
	desc description
}

// description is what DescribeToken reports about the current credential.
type description struct {
	from, credType, account, project, universe string
}

var _ credential.TokenSource = (*Source)(nil)

// NewSource checks opts. It does no I/O.
func NewSource(opts SourceOptions) (*Source, error) {
	if len(opts.Scopes) == 0 {
		opts.Scopes = []string{DefaultScope}
	}
	for _, s := range opts.Scopes {
		if err := CheckScope(s); err != nil {
			return nil, fmt.Errorf("gcp: %w", err)
		}
	}
	return &Source{opts: opts}, nil
}

// Token implements credential.TokenSource.
func (s *Source) Token(ctx context.Context) (*credential.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A forced refresh (the endpoint rejected the last token) starts over
	// with the search: the credential may have changed under us (a new key
	// file, a new GOOGLE_APPLICATION_CREDENTIALS).
	if s.creds == nil || credential.ForcedRefresh(ctx) {
		if err := s.detect(ctx); err != nil {
			return nil, err
		}
	}
	// The SDK opens the files the credential names (a subject token)
	// at each fetch, blocking: check them each time.
	if err := checkReferencedFiles(s.json); err != nil {
		return nil, fmt.Errorf("gcp: %s: %w", s.from, err)
	}
	creds := s.creds
	if s.opts.ImpersonateServiceAccount != "" {
		// A new impersonated credential per fetch: its own cache would
		// otherwise answer the refresh the credential.Cache asks for.
		var err error
		if creds, err = s.impersonate(creds); err != nil {
			return nil, fmt.Errorf("gcp: impersonate %s: %w", s.opts.ImpersonateServiceAccount, err)
		}
	}
	t, err := creds.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("gcp: %s: %w", s.from, err)
	}
	if t.Value == "" {
		return nil, fmt.Errorf("gcp: %s returned an empty access token", s.from)
	}
	if s.desc.from == "" {
		s.desc = s.describe(ctx)
	}
	return &credential.Token{Value: credential.NewSecret(t.Value), Kind: credential.KindBearer, Expiry: t.Expiry}, nil
}

func (s *Source) detectOptions() *credentials.DetectOptions {
	if s.sdkCache {
		return &credentials.DetectOptions{Scopes: s.opts.Scopes, Logger: sdkLog, Client: s.opts.HTTPClient}
	}
	return &credentials.DetectOptions{
		Scopes:              s.opts.Scopes,
		EarlyTokenRefresh:   alwaysStale,
		DisableAsyncRefresh: true,
		Logger:              sdkLog,
		Client:              s.opts.HTTPClient,
	}
}

// detect finds the credential as Application Default Credentials do, and
// notes which source it came from. A credentials file ADC would read is
// read here, under the rules, and handed to the SDK as bytes.
func (s *Source) detect(ctx context.Context) error {
	data := s.opts.CredentialsJSON
	if data != nil {
		s.from = "credentials_file " + s.opts.CredentialsFile
	} else {
		l, ok := firstPresent(ctx)
		if !ok {
			return errors.New("gcp: no Application Default Credentials: GOOGLE_APPLICATION_CREDENTIALS is not set, there is no gcloud well-known file and no metadata server answered; set GOOGLE_APPLICATION_CREDENTIALS, or credentials_file in the auth block")
		}
		s.from = l.describe()
		if l.file != nil {
			var err error
			if data, err = l.read(); err != nil {
				return fmt.Errorf("gcp: %w", err)
			}
		}
	}
	if err := checkReferencedFiles(data); err != nil {
		return fmt.Errorf("gcp: %s: %w", s.from, err)
	}
	// A file is made into a credential by its declared, allowed type
	// (fileCredentials); only the metadata server is left to the SDK's
	// search, which found no file a moment ago. (Its compute credential
	// fetches tokens with the metadata package's own client whatever
	// DetectOptions.Client says; GCE_METADATA_HOST still points it.)
	var creds *auth.Credentials
	var err error
	if data != nil {
		creds, err = fileCredentials(data, s.detectOptions())
	} else if creds, err = credentials.DetectDefault(s.detectOptions()); err == nil && creds.JSON() != nil {
		// The search found a file that was not there a moment ago
		// (GOOGLE_APPLICATION_CREDENTIALS set, gcloud's file written):
		// the SDK read it unchecked. The next fetch reads it by the rules.
		return fmt.Errorf("gcp: %s: a credentials file appeared during Application Default Credentials' search; try again", s.from)
	}
	if err != nil {
		return fmt.Errorf("gcp: %s: %w", s.from, err)
	}
	// The metadata server's universe costs a request: asked only when the
	// config names a universe, so the default setup asks nothing new.
	if data != nil || s.opts.UniverseDomain != "" {
		if err := s.checkUniverse(ctx, creds); err != nil {
			return err
		}
	}
	s.creds, s.json, s.desc = creds, data, description{}
	return nil
}

// checkUniverse refuses a credential of another universe than the one the
// config names: its tokens would be refused by every endpoint there, with
// an error far from the cause.
func (s *Source) checkUniverse(ctx context.Context, creds *auth.Credentials) error {
	want := s.opts.UniverseDomain
	if want == "" {
		want = DefaultUniverseDomain
	}
	got, err := creds.UniverseDomain(ctx)
	if err != nil {
		return fmt.Errorf("gcp: %s: reading the credential's universe domain: %w", s.from, err)
	}
	if got != want {
		return fmt.Errorf("gcp: %s belongs to universe %s, but the config's universe_domain is %s; use a credential of %s or set universe_domain: %s", s.from, got, want, want, got)
	}
	return nil
}

func (s *Source) impersonate(base *auth.Credentials) (*auth.Credentials, error) {
	o := &impersonate.CredentialsOptions{
		TargetPrincipal: s.opts.ImpersonateServiceAccount,
		Scopes:          s.opts.Scopes,
		Credentials:     base,
		Logger:          sdkLog,
	}
	if s.opts.HTTPClient != nil {
		// The SDK makes the IAM Credentials client from base and its own
		// transport; given the program's client's transport instead, it
		// adds the same authorization (and universe domain check).
		rt := s.opts.HTTPClient.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		c, err := httptransport.NewClient(&httptransport.Options{
			Credentials:      base,
			BaseRoundTripper: rt,
			Logger:           sdkLog,
			UniverseDomain:   s.opts.UniverseDomain,
		})
		if err != nil {
			return nil, err
		}
		o.Client = c
	}
	return impersonate.NewCredentials(o)
}

// describe collects what the credential says about itself without asking
// any service but the metadata server (a project lookup for a federated
// identity would call Cloud Resource Manager).
func (s *Source) describe(ctx context.Context) description {
	d := description{from: s.from, project: s.opts.Project, universe: s.opts.UniverseDomain}
	var file struct {
		Type                           string `json:"type"`
		ClientEmail                    string `json:"client_email"`
		ProjectID                      string `json:"project_id"`
		QuotaProjectID                 string `json:"quota_project_id"`
		ServiceAccountImpersonationURL string `json:"service_account_impersonation_url"`
	}
	if data := s.fileJSON(); data != nil && json.Unmarshal(data, &file) == nil {
		d.credType = file.Type
		d.account = file.ClientEmail
		if m := impersonationURL.FindStringSubmatch(file.ServiceAccountImpersonationURL); m != nil {
			d.account = m[1]
		}
		if d.project == "" {
			d.project = cmpOr(file.ProjectID, file.QuotaProjectID)
		}
	} else if strings.HasPrefix(s.from, "metadata server") {
		d.credType = "compute"
		c := newMetadataClient(s.opts.HTTPClient)
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if email, err := c.EmailWithContext(mctx, "default"); err == nil {
			d.account = email
		}
		if d.project == "" {
			if p, err := c.ProjectIDWithContext(mctx); err == nil {
				d.project = p
			}
		}
	}
	if s.opts.ImpersonateServiceAccount != "" {
		d.account = s.opts.ImpersonateServiceAccount + " (impersonated)"
	}
	return d
}

// fileJSON returns the credentials file the source uses, if it uses one:
// the bytes the credential was made from, not the file as it is now.
func (s *Source) fileJSON() []byte {
	return s.json
}

var impersonationURL = lazyre.New(`serviceAccounts/([^/:]+):generateAccessToken`)

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// lines is the description in `byokcred token`'s form.
func (d description) facts() []kind.TokenFact {
	if d.from == "" {
		return nil
	}
	out := []kind.TokenFact{{Name: "credential", Value: d.from}}
	if d.credType != "" {
		out[0].Value += " (" + d.credType + ")"
	}
	if d.account != "" {
		out = append(out, kind.TokenFact{Name: "service account", Value: d.account})
	}
	if d.project != "" {
		out = append(out, kind.TokenFact{Name: "project", Value: d.project})
	}
	if d.universe != "" && d.universe != DefaultUniverseDomain {
		out = append(out, kind.TokenFact{Name: "universe domain", Value: d.universe})
	}
	return out
}

// DescribeToken is the source's kind.Result.Describe: which Application
// Default Credentials source answered, and the service account and project
// where the credential names them.
func (s *Source) DescribeToken(*credential.Token) []kind.TokenFact {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.desc.facts()
}
