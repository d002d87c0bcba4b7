// Package azadapt hands byokcred an Azure SDK credential: any
// azcore.TokenCredential (azidentity's DefaultAzureCredential,
// ManagedIdentityCredential, a workload identity, your own) becomes a
// credential.TokenSource of Entra ID bearer tokens for a registry
// ProviderSpec.
//
// It is the source of the `entra` auth type (auth/entra.NewSource), given
// the credential the program already holds: the same errors, and the same
// answer to a rejected token — the refresh that follows asks Entra for a
// token issued from now on instead of azidentity's cached one.
package azadapt

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/byokcred/byokcred/auth/entra"
	"github.com/byokcred/byokcred/credential"
)

// CognitiveServicesScope is the scope of Azure AI Foundry and Azure OpenAI.
const CognitiveServicesScope = entra.DefaultScope

// TokenSource returns a source of bearer tokens for scope (""
// means CognitiveServicesScope: a resource followed by /.default) from
// cred. Each token carries the credential's ExpiresOn and RefreshOn, so the
// registry's cache refreshes it ahead of expiry; the source caches nothing
// beyond what cred does. A nil cred or a malformed scope makes every Token
// call fail with the reason.
func TokenSource(cred azcore.TokenCredential, scope string) credential.TokenSource {
	src, err := entra.NewSource(entra.SourceOptions{Credential: cred, CredentialKind: fmt.Sprintf("%T", cred), Scope: scope})
	if err != nil {
		return failing{fmt.Errorf("azadapt: %w", err)}
	}
	return src
}

type failing struct{ err error }

func (f failing) Token(context.Context) (*credential.Token, error) { return nil, f.err }
