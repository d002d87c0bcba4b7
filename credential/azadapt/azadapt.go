// Package azadapt hands byokcred an Azure SDK credential: any
// azcore.TokenCredential (azidentity's DefaultAzureCredential,
// ManagedIdentityCredential, a workload identity, your own) becomes a
// credential.TokenSource of Entra ID bearer tokens for a registry
// ProviderSpec.
//
// It imports azcore only, not azidentity: the program brings the
// credential it already has.
package azadapt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/byokcred/byokcred/credential"
)

// CognitiveServicesScope is the scope of Azure AI Foundry and Azure OpenAI.
const CognitiveServicesScope = "https://cognitiveservices.azure.com/.default"

// TokenSource returns a source of bearer tokens for scopes (default
// CognitiveServicesScope) from cred. Each token carries the credential's
// ExpiresOn and RefreshOn, so the registry's cache refreshes it ahead of
// expiry; the source itself caches nothing beyond what cred does.
func TokenSource(cred azcore.TokenCredential, scopes ...string) credential.TokenSource {
	if len(scopes) == 0 {
		scopes = []string{CognitiveServicesScope}
	}
	return &source{cred: cred, scopes: scopes}
}

type source struct {
	cred   azcore.TokenCredential
	scopes []string
}

// Token implements credential.TokenSource.
func (s *source) Token(ctx context.Context) (*credential.Token, error) {
	if s.cred == nil {
		return nil, errors.New("azadapt: no credential: pass an azcore.TokenCredential such as azidentity.NewDefaultAzureCredential's")
	}
	at, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: s.scopes})
	if err != nil {
		return nil, fmt.Errorf("azadapt: token for %s: %w", strings.Join(s.scopes, " "), err)
	}
	if at.Token == "" {
		return nil, fmt.Errorf("azadapt: the credential returned an empty token for %s", strings.Join(s.scopes, " "))
	}
	return &credential.Token{Value: credential.NewSecret(at.Token), Kind: credential.KindBearer, Expiry: at.ExpiresOn, RefreshAt: at.RefreshOn}, nil
}
