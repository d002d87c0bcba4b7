package entra

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/byokcred/byokcred/kind"
)

// envTokenCredentials selects a part of DefaultAzureCredential's chain, as
// Microsoft documents it: "dev", "prod", or one credential type's name.
const envTokenCredentials = "AZURE_TOKEN_CREDENTIALS"

// chainLink is one credential of DefaultAzureCredential's chain.
type chainLink struct {
	// name is azidentity's type name, as AZURE_TOKEN_CREDENTIALS spells it.
	name string
	// prod is true for the links AZURE_TOKEN_CREDENTIALS=prod keeps; the
	// others are the ones "dev" keeps.
	prod bool
	// make builds the link for a's identity.
	make func(a *Auth) (azcore.TokenCredential, error)
}

// defaultChain is DefaultAzureCredential's chain in azidentity's order
// (v1.15: environment, workload identity, managed identity, Azure CLI, Azure
// Developer CLI, Azure PowerShell). It is the one table both the chain built
// for a provider that names its own identity and `doctor`'s walk of the
// chain are made from, so the two cannot disagree.
var defaultChain = []chainLink{
	{"EnvironmentCredential", true, func(a *Auth) (azcore.TokenCredential, error) {
		return azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: a.clientOptions(), DisableInstanceDiscovery: a.cloud.DisableInstanceDiscovery})
	}},
	{"WorkloadIdentityCredential", true, func(a *Auth) (azcore.TokenCredential, error) {
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: a.clientOptions(), ClientID: a.ClientID, TenantID: a.TenantID, DisableInstanceDiscovery: a.cloud.DisableInstanceDiscovery})
	}},
	{"ManagedIdentityCredential", true, func(a *Auth) (azcore.TokenCredential, error) {
		// As DefaultAzureCredential does, a managed identity without an id
		// of its own takes AZURE_CLIENT_ID.
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: a.clientOptions(), ID: a.miID()}
		if v, ok := os.LookupEnv("AZURE_CLIENT_ID"); ok && o.ID == nil {
			o.ID = azidentity.ClientID(v)
		}
		return azidentity.NewManagedIdentityCredential(o)
	}},
	{"AzureCLICredential", false, func(a *Auth) (azcore.TokenCredential, error) {
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: a.TenantID})
	}},
	{"AzureDeveloperCLICredential", false, func(a *Auth) (azcore.TokenCredential, error) {
		return azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: a.TenantID})
	}},
	{"AzurePowerShellCredential", false, func(a *Auth) (azcore.TokenCredential, error) {
		return azidentity.NewAzurePowerShellCredential(&azidentity.AzurePowerShellCredentialOptions{TenantID: a.TenantID})
	}},
}

// selectedLinks returns the links of defaultChain that
// AZURE_TOKEN_CREDENTIALS selects, with azidentity's rules: unset means all,
// "dev" and "prod" are case-sensitive, a type name is not.
func selectedLinks() ([]chainLink, error) {
	v, ok := os.LookupEnv(envTokenCredentials)
	if !ok {
		return defaultChain, nil
	}
	var out []chainLink
	for _, l := range defaultChain {
		if (v == "prod" && l.prod) || (v == "dev" && !l.prod) || strings.EqualFold(v, l.name) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		names := make([]string, len(defaultChain))
		for i, l := range defaultChain {
			names[i] = l.name
		}
		return nil, fmt.Errorf("invalid %s value %q: want dev, prod or one of %s", envTokenCredentials, v, strings.Join(names, ", "))
	}
	return out, nil
}

// defaultChain returns the credential for `credential: default`. Without a
// client_id it is azidentity's own DefaultAzureCredential, so every rule of
// it (its environment variables, AZURE_TOKEN_CREDENTIALS) applies as
// Microsoft documents. With one it is the same chain built from
// defaultChain for that identity: DefaultAzureCredentialOptions has no
// field for a managed identity's client id, and AZURE_CLIENT_ID is
// process-wide while each provider here may name its own identity.
func (a *Auth) defaultChain() (azcore.TokenCredential, error) {
	if a.ClientID == "" {
		return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: a.clientOptions(), TenantID: a.TenantID, DisableInstanceDiscovery: a.cloud.DisableInstanceDiscovery})
	}
	links, err := selectedLinks()
	if err != nil {
		return nil, err
	}
	var creds []azcore.TokenCredential
	var errs []error
	for _, l := range links {
		c, err := l.make(a)
		if err != nil {
			// As in DefaultAzureCredential, a link that cannot be built
			// (its environment is missing) is passed over.
			errs = append(errs, fmt.Errorf("%s: %w", l.name, err))
			continue
		}
		creds = append(creds, c)
	}
	if len(creds) == 0 {
		return nil, fmt.Errorf("no credential of the default chain can be built: %w", errors.Join(errs...))
	}
	return azidentity.NewChainedTokenCredential(creds, nil)
}

// Diagnose implements kind.Diagnoser for credential default: it tries
// each link of the chain (as AZURE_TOKEN_CREDENTIALS selects it) on its own,
// in the chain's order, and reports which one answers and why each other
// one failed — the question an operator has when `credential: default`
// picks the wrong identity or none.
func (a *Auth) Diagnose(ctx context.Context) []kind.ChainLink {
	if a.kind() != "default" {
		return nil
	}
	links, err := selectedLinks()
	if err != nil {
		return []kind.ChainLink{{Name: envTokenCredentials, Err: err.Error()}}
	}
	scope := a.scope()
	tries := make([]kind.ChainTry, 0, len(links))
	for _, l := range links {
		tries = append(tries, kind.ChainTry{Name: l.name, Try: func(ctx context.Context) error {
			cred, err := l.make(a)
			if err != nil {
				return err
			}
			_, err = cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}, TenantID: a.TenantID})
			return err
		}})
	}
	return kind.WalkChain(ctx, tries)
}
