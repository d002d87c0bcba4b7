package entra

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/secretfile"
)

// Client assertions of credential on_behalf_of: the application proves
// itself with a federated token instead of a secret or certificate.
const (
	assertionWorkloadIdentity = "workload_identity"
	assertionManagedIdentity  = "managed_identity"
)

// exchangeScope is the audience of a managed-identity token used as a
// federated client assertion in the public cloud (and a private one);
// Cloud.exchangeScope has each national cloud's.
const exchangeScope = "api://AzureADTokenExchange/.default"

// oboSource mints tokens on behalf of users (kind.Result.PerUser). It has no
// identity of its own to serve.
type oboSource struct {
	tenantID, clientID, scope string
	// newCred builds the OBO credential for one user assertion.
	newCred func(assertion string) (azcore.TokenCredential, error)
}

// Token implements credential.TokenSource: an on-behalf-of credential has no
// token of its own.
func (s *oboSource) Token(context.Context) (*credential.Token, error) {
	return nil, registry.ErrNeedsUser
}

// SourceFor is the source's kind.Result.PerUser: a source of tokens minted on
// behalf of the user whose token user returns. azidentity keeps an
// OnBehalfOfCredential per assertion, so one is built per user token, on
// its first use.
func (s *oboSource) SourceFor(user credential.TokenSource) credential.TokenSource {
	return &userOBO{s: s, user: user}
}

type userOBO struct {
	s    *oboSource
	user credential.TokenSource
	src  *Source // built on first use, under the cache's single flight
	key  string  // the assertion src was built for
}

// Token runs under the per-user cache's single flight: one call at a time.
func (u *userOBO) Token(ctx context.Context) (*credential.Token, error) {
	ut, err := u.user.Token(ctx)
	if err != nil {
		return nil, err
	}
	assertion := ut.Value.Reveal()
	if u.src == nil || u.key != assertion {
		cred, err := u.s.newCred(assertion)
		if err != nil {
			return nil, fmt.Errorf("entra: on_behalf_of credential: %w", err)
		}
		src, err := NewSource(SourceOptions{Credential: cred, CredentialKind: "on_behalf_of", Scope: u.s.scope})
		if err != nil {
			return nil, err
		}
		u.src, u.key = src, assertion
	}
	tok, err := u.src.Token(ctx)
	if err != nil {
		// azidentity's message carries Entra's response, never the
		// request, so the assertion does not appear; scrub it anyway in
		// case an authority echoes it back.
		if userRejected(err) {
			err = fmt.Errorf("%w (%w)", err, registry.ErrUserRejected)
		}
		return nil, scrubbed{err, assertion}
	}
	return tok, nil
}

// userRejected reports whether Entra refused the request itself (400
// invalid_grant and the like: the user's assertion), not failed to answer.
func userRejected(err error) bool {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		return afe.RawResponse.StatusCode == http.StatusBadRequest || afe.RawResponse.StatusCode == http.StatusUnauthorized
	}
	return false
}

// scrubbed hides a secret that an error's text might quote.
type scrubbed struct {
	err    error
	secret string
}

func (e scrubbed) Error() string {
	return strings.ReplaceAll(e.err.Error(), e.secret, "[user token]")
}
func (e scrubbed) Unwrap() error { return e.err }

func (a *Auth) oboSource(b *kind.Build) (*oboSource, error) {
	opts := &azidentity.OnBehalfOfCredentialOptions{ClientOptions: a.clientOptions(), DisableInstanceDiscovery: a.cloud.DisableInstanceDiscovery}
	s := &oboSource{tenantID: a.TenantID, clientID: a.ClientID, scope: a.scope()}
	switch {
	case a.ClientSecretEnv != "" || a.ClientSecretFile != "":
		secret, err := a.clientSecret(b)
		if err != nil {
			return nil, err
		}
		s.newCred = func(assertion string) (azcore.TokenCredential, error) {
			return azidentity.NewOnBehalfOfCredentialWithSecret(a.TenantID, a.ClientID, assertion, secret.Reveal(), opts)
		}
	case a.CertificateFile != "":
		certs, key, err := a.certificate(b)
		if err != nil {
			return nil, err
		}
		s.newCred = func(assertion string) (azcore.TokenCredential, error) {
			return azidentity.NewOnBehalfOfCredentialWithCertificate(a.TenantID, a.ClientID, assertion, certs, key, opts)
		}
	case a.ClientAssertion != "":
		get, err := a.clientAssertion()
		if err != nil {
			return nil, err
		}
		s.newCred = func(assertion string) (azcore.TokenCredential, error) {
			return azidentity.NewOnBehalfOfCredentialWithClientAssertions(a.TenantID, a.ClientID, assertion, get, opts)
		}
	default:
		return nil, fmt.Errorf("no client credential (validation should have said so)")
	}
	return s, nil
}

func (a *Auth) certificate(b *kind.Build) ([]*x509.Certificate, crypto.PrivateKey, error) {
	data, err := secretfile.ReadBytes(a.CertificateFile)
	if err != nil {
		return nil, nil, err
	}
	var password []byte
	if a.CertificatePasswordEnv != "" {
		v, _ := b.LookupEnv(a.CertificatePasswordEnv)
		password = []byte(v)
	}
	certs, key, err := azidentity.ParseCertificates(data, password)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate_file %s: %w", a.CertificateFile, err)
	}
	return certs, key, nil
}

// clientAssertion returns the function that proves the application's
// identity with a federated token: the workload identity token file
// (re-read each time: the kubelet rotates it) or a managed identity's token
// for the token-exchange audience.
func (a *Auth) clientAssertion() (func(context.Context) (string, error), error) {
	switch a.ClientAssertion {
	case assertionWorkloadIdentity:
		file := a.TokenFile
		if file == "" {
			file = os.Getenv("AZURE_FEDERATED_TOKEN_FILE")
		}
		if file == "" {
			return nil, fmt.Errorf("client_assertion workload_identity: no token_file and AZURE_FEDERATED_TOKEN_FILE is not set")
		}
		return func(context.Context) (string, error) {
			data, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("workload identity token file: %w", err)
			}
			return strings.TrimSpace(string(data)), nil
		}, nil
	case assertionManagedIdentity:
		var id azidentity.ManagedIDKind
		if a.ManagedIdentityClientID != "" {
			id = azidentity.ClientID(a.ManagedIdentityClientID)
		}
		miOpts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: a.clientOptions(), ID: id}
		mi, err := azidentity.NewManagedIdentityCredential(miOpts)
		if err != nil {
			return nil, err
		}
		scope := exchangeScope
		if a.cloud.exchangeScope != "" {
			scope = a.cloud.exchangeScope
		}
		return func(ctx context.Context) (string, error) {
			at, err := mi.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
			if err != nil {
				return "", fmt.Errorf("managed identity for the client assertion: %w", err)
			}
			return at.Token, nil
		}, nil
	}
	return nil, fmt.Errorf("unknown client_assertion %q", a.ClientAssertion)
}
