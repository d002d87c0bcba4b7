package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// DefaultEntraScope is the scope of Azure AI Foundry / Azure OpenAI.
const DefaultEntraScope = "https://cognitiveservices.azure.com/.default"

var scopePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~:/-]*/\.default$`)

// CheckScope validates an Entra ID scope: a resource URI or app id URI
// followed by /.default, with no characters that could smuggle anything into
// a query string or a command line (azidentity passes the scope to `az`).
func CheckScope(scope string) error {
	if !scopePattern.MatchString(scope) {
		return fmt.Errorf("invalid scope %q: want a resource followed by /.default, such as %s, using only letters, digits and . _ ~ : / -", scope, DefaultEntraScope)
	}
	return nil
}

// EntraOptions configure an EntraSource.
type EntraOptions struct {
	// Credential is any azidentity credential.
	Credential azcore.TokenCredential
	// CredentialKind names it in errors ("managed_identity", "default", …).
	CredentialKind string
	// Scope defaults to DefaultEntraScope.
	Scope string
	// TenantID optionally overrides the credential's tenant per request.
	TenantID string
}

// EntraSource gets Entra ID bearer tokens from an azidentity credential. It
// does not cache beyond what azidentity does; wrap it in a Cache.
type EntraSource struct {
	opts EntraOptions
}

var _ TokenSource = (*EntraSource)(nil)

// NewEntraSource checks opts.
func NewEntraSource(opts EntraOptions) (*EntraSource, error) {
	if opts.Credential == nil {
		return nil, errors.New("provider: entra source needs a credential")
	}
	if opts.Scope == "" {
		opts.Scope = DefaultEntraScope
	}
	if err := CheckScope(opts.Scope); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	return &EntraSource{opts: opts}, nil
}

// forcedClaims asks Entra for a token issued from now on: azidentity serves
// its own cache unless a request carries claims, so this is how a refresh
// after a rejected token reaches the identity provider.
func forcedClaims(now time.Time) string {
	return `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(now.Unix(), 10) + `"}}}`
}

// Token implements TokenSource.
func (s *EntraSource) Token(ctx context.Context) (*Token, error) {
	opts := policy.TokenRequestOptions{Scopes: []string{s.opts.Scope}, TenantID: s.opts.TenantID}
	if ForcedRefresh(ctx) {
		opts.Claims = forcedClaims(time.Now())
	}
	at, err := s.opts.Credential.GetToken(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("provider: entra %s credential, scope %s: %w", s.opts.CredentialKind, s.opts.Scope, err)
	}
	if at.Token == "" {
		return nil, fmt.Errorf("provider: entra %s credential returned an empty token", s.opts.CredentialKind)
	}
	return &Token{Value: NewSecret(at.Token), Kind: KindBearer, Expiry: at.ExpiresOn, RefreshAt: at.RefreshOn}, nil
}

// Claims are the JWT claims byokcred shows to operators.
type Claims struct {
	Audience string    `json:"aud"`
	Issuer   string    `json:"iss"`
	TenantID string    `json:"tid"`
	ObjectID string    `json:"oid"`
	AppID    string    `json:"appid"`
	Expiry   time.Time `json:"-"`
	// IssuedAt and NotBefore are iat and nbf (zero when absent): the cache
	// checks that exp comes after them.
	IssuedAt  time.Time `json:"-"`
	NotBefore time.Time `json:"-"`
}

// String is for operators; it contains no secret.
func (c Claims) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("aud", c.Audience)
	add("tid", c.TenantID)
	add("oid", c.ObjectID)
	add("appid", c.AppID)
	return strings.Join(parts, " ")
}
