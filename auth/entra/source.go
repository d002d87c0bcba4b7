package entra

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/lazyre"
)

// DefaultScope is the scope of Azure AI Foundry / Azure OpenAI.
const DefaultScope = "https://cognitiveservices.azure.com/.default"

var scopePattern = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9._~:/-]*/\.default$`)

// checkScope validates an Entra ID scope: a resource URI or app id URI
// followed by /.default, with no characters that could smuggle anything into
// a query string or a command line (azidentity passes the scope to `az`).
func checkScope(scope string) error {
	if !scopePattern.MatchString(scope) {
		return fmt.Errorf("invalid scope %q: want a resource followed by /.default, such as %s, using only letters, digits and . _ ~ : / -", scope, DefaultScope)
	}
	return nil
}

// SourceOptions configure a Source.
type SourceOptions struct {
	// Credential is any azidentity credential.
	Credential azcore.TokenCredential
	// CredentialKind names it in errors ("managed_identity", "default", …).
	CredentialKind string
	// Scope defaults to DefaultScope.
	Scope string
	// TenantID optionally overrides the credential's tenant per request.
	TenantID string
}

// Source gets Entra ID bearer tokens from an azidentity credential. It
// does not cache beyond what azidentity does; wrap it in a credential.Cache.
type Source struct {
	opts SourceOptions
}

var _ credential.TokenSource = (*Source)(nil)

// NewSource checks opts.
func NewSource(opts SourceOptions) (*Source, error) {
	if opts.Credential == nil {
		return nil, errors.New("entra: source needs a credential")
	}
	if opts.Scope == "" {
		opts.Scope = DefaultScope
	}
	if err := checkScope(opts.Scope); err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	return &Source{opts: opts}, nil
}

// forcedClaims asks Entra for a token issued from now on: azidentity serves
// its own cache unless a request carries claims, so this is how a refresh
// after a rejected token reaches the identity provider.
func forcedClaims(now time.Time) string {
	return `{"access_token":{"nbf":{"essential":true,"value":"` + strconv.FormatInt(now.Unix(), 10) + `"}}}`
}

// Token implements credential.TokenSource.
func (s *Source) Token(ctx context.Context) (*credential.Token, error) {
	opts := policy.TokenRequestOptions{Scopes: []string{s.opts.Scope}, TenantID: s.opts.TenantID}
	if credential.ForcedRefresh(ctx) {
		opts.Claims = forcedClaims(time.Now())
	}
	at, err := s.opts.Credential.GetToken(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("entra: %s credential, scope %s: %w", s.opts.CredentialKind, s.opts.Scope, err)
	}
	if at.Token == "" {
		return nil, fmt.Errorf("entra: %s credential returned an empty token", s.opts.CredentialKind)
	}
	return &credential.Token{Value: credential.NewSecret(at.Token), Kind: credential.KindBearer, Expiry: at.ExpiresOn, RefreshAt: at.RefreshOn}, nil
}
