// Package azurekeyvault is the `store: azure_key_vault` secret store of the
// static kind's api_key_secret and bearer_token_secret: the credential is a
// Key Vault secret, read with an Entra identity (the entra kind's keys) and
// re-read as it rotates. Import it for its side effect of registering the
// store:
//
//	import _ "github.com/byokcred/byokcred/secretstore/azurekeyvault"
//
// A reference looks like:
//
//	auth:
//	  type: static
//	  api_key_secret:
//	    store: azure_key_vault
//	    secret: https://myvault.vault.azure.net/secrets/openai-key
//	    auth: {credential: managed_identity, client_id: …}
package azurekeyvault

//go:generate go run ../../schema/fielddocs -type store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/byokcred/byokcred/auth/entra"
	// A store is reached through static's api_key_secret and
	// bearer_token_secret: importing one makes them available.
	_ "github.com/byokcred/byokcred/auth/static"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/lazyre"
	"github.com/byokcred/byokcred/internal/storelimit"
	"github.com/byokcred/byokcred/kind"
)

func init() {
	kind.RegisterStore("azure_key_vault", func() kind.Store { return new(store) })
}

var (
	// Key Vault's rules for object names and version ids.
	namePattern    = lazyre.New(`^[0-9a-zA-Z-]{1,127}$`)
	versionPattern = lazyre.New(`^[0-9a-fA-F]{32}$`)
)

const idForm = "https://VAULT.vault.azure.net/secrets/NAME or …/NAME/VERSION"

// store is the `azure_key_vault` block of a reference to a Key Vault
// secret: its keys beside store, json_key and refresh_interval.
type store struct {
	// Secret is the Key Vault secret identifier,
	// https://VAULT.vault.azure.net/secrets/NAME, optionally followed by
	// /VERSION (the vault's host names its cloud: vault.azure.cn,
	// vault.usgovcloudapi.net…); ${VAR} expands.
	Secret string `yaml:"secret" byok:"expand"`
	// Version pins one version of the secret (its 32-hex-digit version
	// id); default: the current version, followed as the secret rotates.
	Version string `yaml:"version"`
	// Auth is the Entra identity that reads the secret: the keys of
	// auth.type entra, without type (no scope or refresh: the vault names
	// its resource, refresh_interval says when the secret is re-read).
	// Default: DefaultAzureCredential's chain.
	Auth *entra.Auth `yaml:"auth"`

	vaultURL string // https://HOST
	name     string
	version  string // "" follows the current version
	// reference is the secret identifier with the version read, if pinned.
	reference string
	auth      entra.Auth
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
			b.Errorf("", "missing key \"secret\": the Key Vault secret identifier, %s", idForm)
		}
		return
	}
	vaultURL, name, version, err := parseSecretID(s.Secret)
	if err != nil {
		b.Errorf("secret", "%v", err)
	}
	switch {
	case s.Version == "":
	case version != "":
		b.Errorf("version", "the version is given twice, at the end of secret's URL (%s) and in version (%s); keep one", version, s.Version)
	case !versionPattern.MatchString(s.Version):
		b.Errorf("version", "version %q is not a Key Vault version id (32 hex digits, the last part of the secret identifier)", s.Version)
	default:
		version = s.Version
	}
	s.vaultURL, s.name, s.version = vaultURL, name, version
	s.reference = vaultURL + "/secrets/" + name
	if version != "" {
		s.reference += "/" + version
	}

	ab := b.Sub("auth")
	if s.Auth != nil {
		s.auth = *s.Auth
	}
	if s.auth.Scope != "" {
		ab.Errorf("scope", "scope does not apply to a Key Vault secret: the vault names the resource its tokens are for (%s)", vaultScope(vaultURL))
	}
	if s.auth.Refresh != "" {
		ab.Errorf("refresh", "refresh does not apply to a Key Vault secret: the secret is re-read every refresh_interval")
	}
	s.auth.ValidateCredentials(ab)
	// A vault of another cloud than the identity's accepts none of its tokens.
	if u, err := url.Parse(vaultURL); err == nil && u.Host != "" {
		if err := s.auth.CheckVaultHost(u.Hostname()); err != nil {
			b.Errorf("secret", "%v", err)
		}
	}
}

// parseSecretID splits a Key Vault secret identifier.
func parseSecretID(id string) (vaultURL, name, version string, err error) {
	u, perr := url.Parse(id)
	switch {
	case perr != nil:
		return "", "", "", fmt.Errorf("secret %q is not a URL; want a Key Vault secret identifier, %s", id, idForm)
	case u.Scheme != "https":
		return "", "", "", fmt.Errorf("secret %q: a Key Vault secret identifier is an https URL, %s", id, idForm)
	case u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawPath != "":
		return "", "", "", fmt.Errorf("secret %q: want https://HOST/secrets/NAME[/VERSION] with nothing else (no user, query or fragment)", id)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != "secrets" || slices.Contains(parts, "") {
		return "", "", "", fmt.Errorf("secret %q: the path must be /secrets/NAME or /secrets/NAME/VERSION (the secret identifier Key Vault shows), not %q", id, u.Path)
	}
	name = parts[1]
	if !namePattern.MatchString(name) {
		return "", "", "", fmt.Errorf("secret %q: %q is not a Key Vault secret name (1 to 127 letters, digits and dashes)", id, name)
	}
	if len(parts) == 3 {
		version = parts[2]
		if !versionPattern.MatchString(version) {
			return "", "", "", fmt.Errorf("secret %q: %q is not a Key Vault version id (32 hex digits); drop it to read the current version", id, version)
		}
	}
	return "https://" + u.Host, name, version, nil
}

// vaultScope is the scope of a vault's tokens: its cloud's Key Vault
// resource (https://vault.azure.net in the public cloud, vault.azure.cn,
// vault.usgovcloudapi.net, …), taken from the vault's host name.
func vaultScope(vaultURL string) string {
	host := strings.TrimPrefix(vaultURL, "https://")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if _, rest, ok := strings.Cut(host, "."); ok && strings.HasPrefix(rest, "vault.") {
		return "https://" + rest + "/.default"
	}
	return "https://vault.azure.net/.default"
}

// Reader implements kind.Store. It builds the client and its credential;
// neither touches the network until the first read.
func (s *store) Reader(b *kind.Build) (kind.SecretReader, error) {
	cred, err := s.auth.SDKCredentials(b.Sub("auth"))
	if err != nil {
		return nil, fmt.Errorf("azurekeyvault: secret %s: %w", s.reference, err)
	}
	opts := &azsecrets.ClientOptions{}
	// azcore reads the whole answer into memory before the client returns
	// (its body download policy): the limit is on the transport, under it.
	// azcore's own default client is internal to it; this one has Go's
	// defaults (proxy from the environment, TLS 1.2 or later), unless the
	// program gave its own (registry.Options.HTTPClient). The challenge's
	// resource is always verified against the vault's host.
	var transport storelimit.Doer = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	if b.HTTPClient != nil {
		transport = b.HTTPClient
	}
	opts.Transport = storelimit.Client(finalNotFound{transport})
	client, err := azsecrets.NewClient(s.vaultURL, tokenCredential{cred}, opts)
	if err != nil {
		return nil, fmt.Errorf("azurekeyvault: secret %s: %w", s.reference, err)
	}
	return &reader{store: s, client: client}, nil
}

// finalNotFound ends azcore's retries when the vault's host does not
// resolve: a misspelt vault name does not start resolving within seconds,
// and the next refresh tries again anyway.
type finalNotFound struct{ next storelimit.Doer }

func (f finalNotFound) Do(req *http.Request) (*http.Response, error) {
	resp, err := f.next.Do(req)
	var dns *net.DNSError
	if err != nil && errors.As(err, &dns) && dns.IsNotFound {
		return resp, nonRetriable{err}
	}
	return resp, err
}

// nonRetriable is azcore's errorinfo.NonRetriable.
type nonRetriable struct{ error }

func (nonRetriable) NonRetriable()   {}
func (e nonRetriable) Unwrap() error { return e.error }

// tokenCredential marks the credential's errors, so that a read that
// failed for want of a token is told from one the vault refused.
type tokenCredential struct{ azcore.TokenCredential }

// tokenError is an error of the identity, not of the vault.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// GetToken implements azcore.TokenCredential.
func (c tokenCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.TokenCredential.GetToken(ctx, opts)
	if err != nil {
		return tok, &tokenError{err}
	}
	return tok, nil
}

// Diagnose implements kind.Diagnoser: the entra identity's credential
// chain, tried for the vault's scope.
func (s *store) Diagnose(ctx context.Context) []kind.ChainLink {
	// Each link is asked for the vault's token, not a model endpoint's.
	a := s.auth
	a.Scope = vaultScope(s.vaultURL)
	return a.Diagnose(ctx)
}

// reader reads one secret with an azsecrets client.
type reader struct {
	*store
	client *azsecrets.Client
}

// Reference implements kind.SecretReader.
func (r *reader) Reference() string { return r.reference }

// ReadSecret implements kind.SecretReader.
func (r *reader) ReadSecret(ctx context.Context) (*kind.SecretValue, error) {
	resp, err := r.client.GetSecret(ctx, r.name, r.version, nil)
	if err != nil {
		return nil, r.explain(err)
	}
	v := &kind.SecretValue{}
	if resp.Value != nil {
		v.Value = credential.NewSecret(*resp.Value)
	}
	if resp.ID != nil {
		v.Version = resp.ID.Version()
	}
	if resp.Attributes != nil && resp.Attributes.Created != nil {
		v.Created = *resp.Attributes.Created
	}
	return v, nil
}

// explain turns a failed read into what an operator does next. It names
// the vault, secret and version, and never shows a response body whole.
func (r *reader) explain(err error) error {
	if tl, ok := storelimit.AsTooLarge(err); ok {
		return fmt.Errorf("azurekeyvault: reading secret %s from vault %s: %w", r.name, r.vaultURL, tl)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code := codes(re)
		switch {
		case re.StatusCode == 404 && r.version != "":
			return fmt.Errorf("azurekeyvault: no version %s of secret %s in vault %s (404 %s); pin an existing version, or drop version to follow the current one", r.version, r.name, r.vaultURL, code)
		case re.StatusCode == 404:
			return fmt.Errorf("azurekeyvault: no secret %s in vault %s (404 %s); create it (az keyvault secret set --vault-name VAULT --name %s --file KEYFILE) or fix the name in secret", r.name, r.vaultURL, code, r.name)
		case re.StatusCode == 403 && strings.Contains(code, "SecretDisabled"):
			if r.version != "" {
				return fmt.Errorf("azurekeyvault: version %s of secret %s in vault %s is disabled (403 %s); enable it, or pin another version", r.version, r.name, r.vaultURL, code)
			}
			return fmt.Errorf("azurekeyvault: the current version of secret %s in vault %s is disabled (403 %s); enable it, or store the key in a new version", r.name, r.vaultURL, code)
		case re.StatusCode == 403:
			return fmt.Errorf("azurekeyvault: access to secret %s in vault %s denied (403 %s); grant the identity the Key Vault Secrets User role (RBAC) or a get-secret access policy", r.name, r.vaultURL, code)
		case re.StatusCode == 401:
			return fmt.Errorf("azurekeyvault: vault %s refused the identity's token for secret %s (401 %s); the identity must belong to the vault's tenant: check auth (credential, tenant_id, client_id)", r.vaultURL, r.name, code)
		case re.StatusCode >= 500:
			return fmt.Errorf("azurekeyvault: vault %s is unavailable reading secret %s (%d %s); the read is tried again at the next refresh", r.vaultURL, r.name, re.StatusCode, code)
		}
		return fmt.Errorf("azurekeyvault: reading secret %s from vault %s: %d %s", r.name, r.vaultURL, re.StatusCode, code)
	}
	var te *tokenError
	if errors.As(err, &te) {
		return fmt.Errorf("azurekeyvault: the identity (credential %s) got no token for vault %s to read secret %s; check the reference's auth block (credential, tenant_id, client_id): %w", cmp.Or(r.auth.Credential, "default"), r.vaultURL, r.name, err)
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound {
		return fmt.Errorf("azurekeyvault: vault host %s does not resolve; check the vault name in secret (%s)", dns.Name, r.reference)
	}
	return fmt.Errorf("azurekeyvault: reading secret %s from vault %s: %w", r.name, r.vaultURL, err)
}

// codes returns Key Vault's error code and, when there is one, its inner
// code ("Forbidden, SecretDisabled"): a 403 is a disabled secret or a
// denied identity, and only the inner code tells which.
func codes(re *azcore.ResponseError) string {
	code := re.ErrorCode
	if re.RawResponse == nil {
		return code
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return code
	}
	var e struct {
		Error struct {
			Inner struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Inner.Code != "" {
		if code == "" {
			return e.Error.Inner.Code
		}
		return code + ", " + e.Error.Inner.Code
	}
	if code == "" {
		return "no error code"
	}
	return code
}
