package registry

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/byokcred/byokcred/provider"
)

func init() {
	Register("entra", func() AuthConfig { return new(EntraAuth) })
}

// Refresh modes of bearer sources.
const (
	// RefreshPerRequest wires the cached source into the SDK's
	// BearerTokenProvider: every model request gets a currently valid
	// token, and a session lives as long as it is used.
	RefreshPerRequest = "per_request"
	// RefreshPerSession captures one token when the session is created (the
	// SDK guide's pattern): simpler for runtimes without the callback, but
	// the session fails once that token expires.
	RefreshPerSession = "per_session"
)

// EntraAuth is `auth.type: entra`: Entra ID bearer tokens from any
// azidentity credential.
type EntraAuth struct {
	// Credential is the azidentity credential kind (see entraCredentials).
	Credential string `yaml:"credential"`
	// ClientID is a user-assigned managed identity's client id, or the
	// application id for workload identity and service principals.
	ClientID string `yaml:"client_id"`
	// ResourceID and ObjectID identify a user-assigned managed identity
	// the other ways.
	ResourceID string `yaml:"resource_id"`
	ObjectID   string `yaml:"object_id"`
	TenantID   string `yaml:"tenant_id"`
	// ClientSecretEnv / ClientSecretFile: the service principal's secret
	// (client_secret). Never a literal in the file.
	ClientSecretEnv  string `yaml:"client_secret_env"`
	ClientSecretFile string `yaml:"client_secret_file" byok:"expand"`
	// CertificateFile: PEM or PKCS#12 with the private key
	// (client_certificate); CertificatePasswordEnv for an encrypted one.
	CertificateFile        string `yaml:"certificate_file" byok:"expand"`
	CertificatePasswordEnv string `yaml:"certificate_password_env"`
	// TokenFile is workload identity's federated token file (default
	// $AZURE_FEDERATED_TOKEN_FILE).
	TokenFile string `yaml:"token_file" byok:"expand"`
	// Scope defaults to https://cognitiveservices.azure.com/.default.
	Scope string `yaml:"scope"`
	// Refresh is per_request (default) or per_session.
	Refresh string `yaml:"refresh"`
}

// entraCredentials lists each credential kind with the keys it accepts
// besides credential, scope and refresh.
var entraCredentials = map[string][]string{
	"default":             {"client_id", "tenant_id"},
	"managed_identity":    {"client_id", "resource_id", "object_id"},
	"workload_identity":   {"client_id", "tenant_id", "token_file"},
	"azure_cli":           {"tenant_id"},
	"azure_developer_cli": {"tenant_id"},
	"client_secret":       {"client_id", "tenant_id", "client_secret_env", "client_secret_file"},
	"client_certificate":  {"client_id", "tenant_id", "certificate_file", "certificate_password_env"},
	"environment":         {},
}

// EntraCredentials returns the credential kinds `credential:` accepts,
// sorted.
func EntraCredentials() []string {
	kinds := make([]string, 0, len(entraCredentials))
	for k := range entraCredentials {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

func (a *EntraAuth) kind() string {
	if a.Credential == "" {
		return "default"
	}
	return a.Credential
}

// RefreshMode implements the registry's optional refresh-mode interface.
func (a *EntraAuth) RefreshMode() string {
	if a.Refresh == "" {
		return RefreshPerRequest
	}
	return a.Refresh
}

func (a *EntraAuth) setKeys() map[string]bool {
	return map[string]bool{
		"client_id": a.ClientID != "", "resource_id": a.ResourceID != "", "object_id": a.ObjectID != "",
		"tenant_id": a.TenantID != "", "client_secret_env": a.ClientSecretEnv != "", "client_secret_file": a.ClientSecretFile != "",
		"certificate_file": a.CertificateFile != "", "certificate_password_env": a.CertificatePasswordEnv != "", "token_file": a.TokenFile != "",
	}
}

// Validate implements AuthConfig.
func (a *EntraAuth) Validate(ctx *Context) {
	kind := a.kind()
	allowed, ok := entraCredentials[kind]
	if !ok {
		ctx.Errorf("credential", "unknown credential %q (one of: %s)", kind, strings.Join(EntraCredentials(), ", "))
		return
	}
	set := a.setKeys()
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if set[k] && !slices.Contains(allowed, k) {
			ctx.Errorf(k, "%s does not apply to credential %s (it takes: %s)", k, kind, strings.Join(allowed, ", "))
		}
	}
	if n := count(set["client_id"], set["resource_id"], set["object_id"]); n > 1 {
		ctx.Errorf("", "a managed identity is named by one of client_id, resource_id or object_id; %d are set", n)
	}
	switch kind {
	case "client_secret", "client_certificate":
		if a.TenantID == "" {
			ctx.Errorf("", "credential %s needs tenant_id", kind)
		}
		if a.ClientID == "" {
			ctx.Errorf("", "credential %s needs client_id (the application id)", kind)
		}
	}
	if kind == "client_secret" {
		switch count(set["client_secret_env"], set["client_secret_file"]) {
		case 0:
			ctx.Errorf("", "credential client_secret needs client_secret_env or client_secret_file")
		case 2:
			ctx.Errorf("", "set one of client_secret_env and client_secret_file, not both")
		}
		checkEnv(ctx, "client_secret_env", a.ClientSecretEnv)
		checkSecretFile(ctx, "client_secret_file", a.ClientSecretFile)
	}
	if kind == "client_certificate" {
		if a.CertificateFile == "" {
			ctx.Errorf("", "credential client_certificate needs certificate_file")
		}
		checkSecretFile(ctx, "certificate_file", a.CertificateFile)
		checkEnv(ctx, "certificate_password_env", a.CertificatePasswordEnv)
	}
	if a.Scope != "" {
		if err := provider.CheckScope(a.Scope); err != nil {
			ctx.Errorf("scope", "%v", err)
		}
	}
	switch a.Refresh {
	case "", RefreshPerRequest, RefreshPerSession:
	default:
		ctx.Errorf("refresh", "unknown refresh %q (one of: per_request, per_session)", a.Refresh)
	}
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func checkEnv(ctx *Context, key, name string) {
	if name == "" {
		return
	}
	if v, ok := ctx.LookupEnv(name); !ok || v == "" {
		ctx.Errorf(key, "environment variable %s is not set or empty; export it or change the config", name)
	}
}

func checkSecretFile(ctx *Context, key, path string) {
	if path == "" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		ctx.Errorf(key, "cannot read file: %v", err)
		return
	}
	if err := provider.CheckSecretFileMode(path, fi); err != nil {
		ctx.Errorf(key, "%v", err)
	}
}

// Source implements AuthConfig.
func (a *EntraAuth) Source(ctx *Context) (provider.TokenSource, error) {
	cred, err := a.credential(ctx)
	if err != nil {
		return nil, fmt.Errorf("entra %s credential: %w", a.kind(), err)
	}
	return provider.NewEntraSource(provider.EntraOptions{Credential: cred, CredentialKind: a.kind(), Scope: a.Scope, TenantID: a.TenantID})
}

func (a *EntraAuth) miID() azidentity.ManagedIDKind {
	switch {
	case a.ClientID != "":
		return azidentity.ClientID(a.ClientID)
	case a.ResourceID != "":
		return azidentity.ResourceID(a.ResourceID)
	case a.ObjectID != "":
		return azidentity.ObjectID(a.ObjectID)
	}
	return nil
}

func (a *EntraAuth) credential(ctx *Context) (azcore.TokenCredential, error) {
	switch a.kind() {
	case "default":
		if a.ClientID == "" {
			return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{TenantID: a.TenantID})
		}
		return a.defaultChainFor(ctx)
	case "managed_identity":
		return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: a.miID()})
	case "workload_identity":
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientID: a.ClientID, TenantID: a.TenantID, TokenFilePath: a.TokenFile})
	case "azure_cli":
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: a.TenantID})
	case "azure_developer_cli":
		return azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: a.TenantID})
	case "environment":
		return azidentity.NewEnvironmentCredential(nil)
	case "client_secret":
		secret, err := a.clientSecret(ctx)
		if err != nil {
			return nil, err
		}
		return azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, secret.Reveal(), nil)
	case "client_certificate":
		data, err := provider.ReadCredentialFile(a.CertificateFile)
		if err != nil {
			return nil, err
		}
		var password []byte
		if a.CertificatePasswordEnv != "" {
			v, _ := ctx.LookupEnv(a.CertificatePasswordEnv)
			password = []byte(v)
		}
		certs, key, err := azidentity.ParseCertificates(data, password)
		if err != nil {
			return nil, fmt.Errorf("certificate_file %s: %w", a.CertificateFile, err)
		}
		return azidentity.NewClientCertificateCredential(a.TenantID, a.ClientID, certs, key, nil)
	}
	return nil, fmt.Errorf("unknown credential %q", a.kind())
}

func (a *EntraAuth) clientSecret(ctx *Context) (provider.Secret, error) {
	if a.ClientSecretEnv != "" {
		v, ok := ctx.LookupEnv(a.ClientSecretEnv)
		if !ok || v == "" {
			return provider.Secret{}, fmt.Errorf("environment variable %s is not set", a.ClientSecretEnv)
		}
		return provider.NewSecret(v), nil
	}
	fi, err := os.Stat(a.ClientSecretFile)
	if err != nil {
		return provider.Secret{}, err
	}
	return provider.ReadSecretFile(a.ClientSecretFile, fi, nil)
}

// defaultChainFor builds DefaultAzureCredential's chain for a named
// (user-assigned) identity: DefaultAzureCredentialOptions has no field for
// the managed identity's client id, and AZURE_CLIENT_ID is process-wide,
// while each provider here may name its own identity.
func (a *EntraAuth) defaultChainFor(*Context) (azcore.TokenCredential, error) {
	var creds []azcore.TokenCredential
	if c, err := azidentity.NewEnvironmentCredential(nil); err == nil {
		creds = append(creds, c)
	}
	if os.Getenv("AZURE_FEDERATED_TOKEN_FILE") != "" {
		if c, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientID: a.ClientID, TenantID: a.TenantID}); err == nil {
			creds = append(creds, c)
		}
	}
	mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(a.ClientID)})
	if err != nil {
		return nil, err
	}
	creds = append(creds, mi)
	if c, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: a.TenantID}); err == nil {
		creds = append(creds, c)
	}
	if c, err := azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: a.TenantID}); err == nil {
		creds = append(creds, c)
	}
	return azidentity.NewChainedTokenCredential(creds, nil)
}

// ChainLink is one credential of DefaultAzureCredential's chain, as tried by
// Diagnose.
type ChainLink struct {
	Name string `json:"name"`
	// Answered is true for the first link that returned a token: the one
	// DefaultAzureCredential uses.
	Answered bool `json:"answered"`
	// Err is why the link did not answer ("" when it did).
	Err string `json:"error,omitempty"`
}

// Diagnose tries each link of DefaultAzureCredential's chain on its own, in
// the chain's order, and reports which one answers and why each other one
// failed: the question an operator has when `credential: default` picks the
// wrong identity or none. It applies to credential default only.
func (a *EntraAuth) Diagnose(ctx context.Context) []ChainLink {
	if a.kind() != "default" {
		return nil
	}
	scope := a.Scope
	if scope == "" {
		scope = provider.DefaultEntraScope
	}
	// As DefaultAzureCredential does, a managed identity without an id of
	// its own takes AZURE_CLIENT_ID.
	var mi *azidentity.ManagedIdentityCredentialOptions
	if id := a.miID(); id != nil {
		mi = &azidentity.ManagedIdentityCredentialOptions{ID: id}
	} else if v, ok := os.LookupEnv("AZURE_CLIENT_ID"); ok {
		mi = &azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(v)}
	}
	links := []struct {
		name string
		make func() (azcore.TokenCredential, error)
	}{
		{"EnvironmentCredential", func() (azcore.TokenCredential, error) { return azidentity.NewEnvironmentCredential(nil) }},
		{"WorkloadIdentityCredential", func() (azcore.TokenCredential, error) {
			return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientID: a.ClientID, TenantID: a.TenantID})
		}},
		{"ManagedIdentityCredential", func() (azcore.TokenCredential, error) { return azidentity.NewManagedIdentityCredential(mi) }},
		{"AzureCLICredential", func() (azcore.TokenCredential, error) {
			return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: a.TenantID})
		}},
		{"AzureDeveloperCLICredential", func() (azcore.TokenCredential, error) {
			return azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: a.TenantID})
		}},
	}
	var out []ChainLink
	answered := false
	for _, l := range links {
		link := ChainLink{Name: l.name}
		cred, err := l.make()
		if err == nil {
			lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			_, err = cred.GetToken(lctx, policy.TokenRequestOptions{Scopes: []string{scope}, TenantID: a.TenantID})
			cancel()
		}
		if err != nil {
			link.Err = firstLine(err.Error())
		} else if !answered {
			link.Answered, answered = true, true
		}
		out = append(out, link)
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
