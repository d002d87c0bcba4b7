package entra

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/byokcred/byokcred/kind"
)

// oboCheck returns the on-behalf-of result's kind.Result.Check: it proves
// the service's own application credential (client secret, certificate or
// federated assertion) at the authority without a user, by asking for the
// application's own token for scope (the client credentials grant). A
// readiness probe cannot prove more: each user's assertion is the user's.
//
// The credential is built once and azidentity caches its token, so probes
// every few seconds reach the authority about once per token life, not
// once per probe: a credential revoked since is noticed when that token
// expires, as a non-per-user provider's is.
func (a *Auth) oboCheck(b *kind.Build, scope string) func(context.Context) error {
	cred, err := a.appCredential(b)
	if err != nil {
		err = fmt.Errorf("entra on_behalf_of: the application credential of client %s: %w", a.ClientID, err)
		return func(context.Context) error { return err }
	}
	return func(ctx context.Context) error {
		if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}}); err != nil {
			return fmt.Errorf("entra on_behalf_of: tenant %s did not accept the application credential of client %s (client credentials grant for %s); fix the secret, certificate or assertion the config names: %w", a.TenantID, a.ClientID, scope, err)
		}
		return nil
	}
}

// appCredential is the application's own credential, from the same keys
// the on-behalf-of credential uses.
func (a *Auth) appCredential(b *kind.Build) (azcore.TokenCredential, error) {
	switch {
	case a.ClientSecretEnv != "" || a.ClientSecretFile != "":
		secret, err := a.clientSecret(b)
		if err != nil {
			return nil, err
		}
		return azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, secret.Reveal(),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: a.clientOptions()})
	case a.CertificateFile != "":
		certs, key, err := a.certificate(b)
		if err != nil {
			return nil, err
		}
		return azidentity.NewClientCertificateCredential(a.TenantID, a.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: a.clientOptions()})
	case a.ClientAssertion != "":
		get, err := a.clientAssertion()
		if err != nil {
			return nil, err
		}
		return azidentity.NewClientAssertionCredential(a.TenantID, a.ClientID, get,
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: a.clientOptions()})
	}
	return nil, fmt.Errorf("no client credential (validation should have said so)")
}
