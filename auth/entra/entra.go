// Package entra is the `auth.type: entra` credential kind: Entra ID bearer
// tokens from any azidentity credential. Import it for its side effect of
// registering the kind:
//
//	import _ "github.com/byokcred/byokcred/auth/entra"
package entra

//go:generate go run ../../schema/fielddocs -type Auth

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/secretfile"
	"go.yaml.in/yaml/v3"
)

func init() {
	kind.Register("entra", func() kind.AuthConfig { return new(Auth) })
}

// Auth is `auth.type: entra`: Entra ID bearer tokens from any
// azidentity credential.
type Auth struct {
	// Credential is the azidentity credential to use: default
	// (DefaultAzureCredential), managed_identity, workload_identity,
	// azure_cli, azure_developer_cli, client_secret, client_certificate or
	// environment.
	Credential string `yaml:"credential"`
	// ClientID is a user-assigned managed identity's client id, or the
	// application id for workload identity and service principals.
	ClientID string `yaml:"client_id" byok:"expand"`
	// ResourceID identifies a user-assigned managed identity by its Azure
	// resource id (instead of client_id).
	ResourceID string `yaml:"resource_id"`
	// ObjectID identifies a user-assigned managed identity by its object
	// (principal) id (instead of client_id).
	ObjectID string `yaml:"object_id"`
	// TenantID is the Entra tenant of the application (service principals
	// and workload identity).
	TenantID string `yaml:"tenant_id" byok:"expand"`
	// ClientSecretEnv names the environment variable holding the service
	// principal's secret (client_secret). Never a literal in the file.
	ClientSecretEnv string `yaml:"client_secret_env"`
	// ClientSecretFile is a file holding the service principal's secret
	// (client_secret); a relative path is relative to the config file's
	// directory.
	ClientSecretFile string `yaml:"client_secret_file" byok:"expand,path"`
	// CertificateFile is a PEM or PKCS#12 file with the certificate and
	// its private key (client_certificate); a relative path is relative
	// to the config file's directory.
	CertificateFile string `yaml:"certificate_file" byok:"expand,path"`
	// CertificatePasswordEnv names the environment variable holding the
	// password of an encrypted certificate_file.
	CertificatePasswordEnv string `yaml:"certificate_password_env"`
	// TokenFile is workload identity's federated token file (default
	// $AZURE_FEDERATED_TOKEN_FILE); a relative path is relative to the
	// config file's directory.
	TokenFile string `yaml:"token_file" byok:"expand,path"`
	// ClientAssertion proves the application's identity for credential
	// on_behalf_of with a federated token instead of a secret or
	// certificate: workload_identity (token_file) or managed_identity.
	ClientAssertion string `yaml:"client_assertion"`
	// ManagedIdentityClientID names a user-assigned managed identity for
	// client_assertion managed_identity (default: system-assigned).
	ManagedIdentityClientID string `yaml:"managed_identity_client_id"`
	// Cloud is the Azure cloud the identity signs in to: AzurePublic
	// (default), AzureGovernment or AzureChina, or a block
	// {authority_host: https://…, instance_discovery: false} for a private
	// cloud. It sets the authority, the default scope, and which endpoint
	// and vault hosts are accepted. AZURE_AUTHORITY_HOST applies when it is
	// not set.
	Cloud *yaml.Node `yaml:"cloud"`
	// Scope defaults to the cloud's Cognitive Services scope
	// (https://cognitiveservices.azure.com/.default in the public cloud).
	Scope string `yaml:"scope"`
	// Refresh is per_request (default) or per_session.
	Refresh string `yaml:"refresh"`

	// client carries the credentials' requests (kind.Build.HTTPClient,
	// taken by Validate); nil leaves azcore its default transport.
	client *http.Client
	// cloud is Cloud resolved by Validate (zero: not validated, azidentity's
	// defaults).
	cloud Cloud
}

// clientOptions are the azcore options of every credential a builds: the
// program's HTTP client, when it gave one, and the cloud the config names.
func (a *Auth) clientOptions() azcore.ClientOptions {
	var o azcore.ClientOptions
	if a.client != nil {
		o.Transport = a.client
	}
	o.Cloud = a.cloud.configuration()
	return o
}

// CheckVaultHost reports a Key Vault host of another cloud than the one the
// identity signs in to (resolved by ValidateCredentials): its tokens would
// be refused there. With no cloud named (no cloud key, no
// AZURE_AUTHORITY_HOST), an identity that may get its tokens without
// signing in at the authority (managed identity, a CLI, the default chain)
// is not held to the public cloud: it reads a national cloud's vault as it
// did before the cloud key existed.
func (a *Auth) CheckVaultHost(host string) error {
	if a.cloudImplicit() && mayNotSignIn(a.kind()) {
		return nil
	}
	return a.cloud.checkVaultHost(host)
}

// cloudImplicit reports that neither the config nor AZURE_AUTHORITY_HOST
// named a cloud: the public cloud is assumed.
func (a *Auth) cloudImplicit() bool { return a.Cloud == nil && !a.cloud.fromEnv }

// scope is the scope of the tokens the kind fetches: scope:, or the
// cloud's Cognitive Services scope.
func (a *Auth) scope() string {
	switch {
	case a.Scope != "":
		return a.Scope
	case a.cloud.scope != "":
		return a.cloud.scope
	}
	return DefaultScope
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
	// on_behalf_of exchanges each user's token for one minted on the
	// user's behalf: sessions are created for a user.
	"on_behalf_of": {"client_id", "tenant_id", "client_secret_env", "client_secret_file", "certificate_file", "certificate_password_env", "client_assertion", "token_file", "managed_identity_client_id"},
}

// credentials returns the credential kinds `credential:` accepts,
// sorted.
func credentials() []string {
	kinds := make([]string, 0, len(entraCredentials))
	for k := range entraCredentials {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

// Enums implements kind.Enumer.
func (a *Auth) Enums() map[string][]string {
	return map[string][]string{
		"credential":       credentials(),
		"client_assertion": {assertionManagedIdentity, assertionWorkloadIdentity},
		"refresh":          {kind.RefreshPerRequest, kind.RefreshPerSession},
	}
}

func (a *Auth) kind() string {
	if a.Credential == "" {
		return "default"
	}
	return a.Credential
}

// refreshMode is the `refresh:` chosen (kind.Result.Refresh).
func (a *Auth) refreshMode() string {
	if a.Refresh == "" {
		return kind.RefreshPerRequest
	}
	return a.Refresh
}

func (a *Auth) setKeys() map[string]bool {
	return map[string]bool{
		"client_id": a.ClientID != "", "resource_id": a.ResourceID != "", "object_id": a.ObjectID != "",
		"tenant_id": a.TenantID != "", "client_secret_env": a.ClientSecretEnv != "", "client_secret_file": a.ClientSecretFile != "",
		"certificate_file": a.CertificateFile != "", "certificate_password_env": a.CertificatePasswordEnv != "", "token_file": a.TokenFile != "",
		"client_assertion": a.ClientAssertion != "", "managed_identity_client_id": a.ManagedIdentityClientID != "",
	}
}

// Validate implements kind.AuthConfig.
func (a *Auth) Validate(b *kind.Build) {
	a.client = b.HTTPClient
	a.validateCloud(b)
	a.validateCredential(b, credentials())
	if c, ok := scopeCloud(a.Scope); ok && a.cloudImplicit() && mayNotSignIn(a.kind()) {
		// A managed identity (or CLI) in a national cloud, configured
		// before `cloud:` existed by its scope alone: the scope names the
		// cloud.
		a.cloud = c
	}
	if a.Scope != "" {
		if err := checkScope(a.Scope); err != nil {
			b.Errorf("scope", "%v", err)
		} else if err := a.cloud.checkScope(a.Scope); err != nil {
			b.Errorf("scope", "%v", err)
		}
	} else if a.cloud.Name == "" && !a.cloud.fromEnv && !a.cloud.invalid {
		b.Errorf("scope", "a private cloud has no default scope: set scope to the resource of the model endpoint's tokens (https://…/.default)")
	}
	if b.Provider != nil && b.Provider.BaseURL != "" {
		if u, err := url.Parse(b.Provider.BaseURL); err == nil && u.Host != "" {
			if err := a.cloud.checkModelHost(u.Hostname()); err != nil {
				b.ProviderErrorf("base_url", "%v", err)
			}
		}
	}
	switch a.Refresh {
	case "", kind.RefreshPerRequest, kind.RefreshPerSession:
	default:
		b.Errorf("refresh", "unknown refresh %q (one of: per_request, per_session)", a.Refresh)
	}
}

// ValidateCredentials checks the credential keys of a block that uses the
// identity for another Azure service than a model endpoint (a Key Vault
// secret store's `auth`): everything Validate checks except scope and
// refresh, which belong to the caller to allow or reject. on_behalf_of is
// an error at credential: it acts for a signed-in user, and such a block
// has none.
func (a *Auth) ValidateCredentials(b *kind.Build) {
	a.client = b.HTTPClient
	kinds := slices.DeleteFunc(credentials(), func(k string) bool { return k == "on_behalf_of" })
	a.validateCloud(b)
	if a.kind() == "on_behalf_of" {
		b.Errorf("credential", "credential on_behalf_of does not apply here: it acts for a signed-in user, and this identity reads for the whole process (one of: %s)", strings.Join(kinds, ", "))
		return
	}
	a.validateCredential(b, kinds)
}

// validateCredential checks credential and the keys it takes; kinds are the
// credential kinds the caller accepts.
func (a *Auth) validateCredential(b *kind.Build, kinds []string) {
	kind := a.kind()
	allowed, ok := entraCredentials[kind]
	if !ok || !slices.Contains(kinds, kind) {
		b.Errorf("credential", "unknown credential %q (one of: %s)", kind, strings.Join(kinds, ", "))
		return
	}
	set := a.setKeys()
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if set[k] && !slices.Contains(allowed, k) {
			b.Errorf(k, "%s does not apply to credential %s (it takes: %s)", k, kind, strings.Join(allowed, ", "))
		}
	}
	if n := count(set["client_id"], set["resource_id"], set["object_id"]); n > 1 {
		b.Errorf("", "a managed identity is named by one of client_id, resource_id or object_id; %d are set", n)
	}
	switch kind {
	case "client_secret", "client_certificate", "on_behalf_of":
		if a.TenantID == "" {
			b.Errorf("", "credential %s needs tenant_id", kind)
		}
		if a.ClientID == "" {
			b.Errorf("", "credential %s needs client_id (the application id)", kind)
		}
	}
	if kind == "client_secret" {
		switch count(set["client_secret_env"], set["client_secret_file"]) {
		case 0:
			b.Errorf("", "credential client_secret needs client_secret_env or client_secret_file")
		case 2:
			b.Errorf("", "set one of client_secret_env and client_secret_file, not both")
		}
		checkEnv(b, "client_secret_env", a.ClientSecretEnv)
		checkSecretFile(b, "client_secret_file", a.ClientSecretFile)
	}
	if kind == "on_behalf_of" {
		a.validateOBO(b, set)
	}
	if kind == "client_certificate" {
		if a.CertificateFile == "" {
			b.Errorf("", "credential client_certificate needs certificate_file")
		}
		checkSecretFile(b, "certificate_file", a.CertificateFile)
		checkEnv(b, "certificate_password_env", a.CertificatePasswordEnv)
	}
}

// validateCloud resolves cloud: for every use of the identity.
func (a *Auth) validateCloud(b *kind.Build) {
	a.cloud = decodeCloud(b, a.Cloud)
	if a.Cloud != nil && a.cloud.Name == "" && !a.cloud.invalid && !credentialTakesAuthority(a.kind()) {
		b.Errorf("cloud", "a private cloud's authority_host does not apply to credential %s: it gets its tokens from %s, which knows its own cloud; name the cloud (%s) or use a credential that signs in to the authority", a.kind(), tokenIssuer(a.kind()), strings.Join(cloudNames(), ", "))
	}
}

func tokenIssuer(k string) string {
	switch k {
	case "managed_identity":
		return "the managed identity endpoint"
	case "azure_cli":
		return "the Azure CLI (az cloud set)"
	}
	return "the Azure Developer CLI"
}

func (a *Auth) validateOBO(b *kind.Build, set map[string]bool) {
	switch count(set["client_secret_env"] || set["client_secret_file"], set["certificate_file"], set["client_assertion"]) {
	case 0:
		b.Errorf("", "credential on_behalf_of needs the application's own credential: client_secret_env, client_secret_file, certificate_file or client_assertion")
	case 1:
	default:
		b.Errorf("", "credential on_behalf_of takes one application credential: a client secret, certificate_file or client_assertion")
	}
	if set["client_secret_env"] && set["client_secret_file"] {
		b.Errorf("", "set one of client_secret_env and client_secret_file, not both")
	}
	checkEnv(b, "client_secret_env", a.ClientSecretEnv)
	checkSecretFile(b, "client_secret_file", a.ClientSecretFile)
	checkSecretFile(b, "certificate_file", a.CertificateFile)
	checkEnv(b, "certificate_password_env", a.CertificatePasswordEnv)
	switch a.ClientAssertion {
	case "", assertionManagedIdentity:
		if set["token_file"] {
			b.Errorf("token_file", "token_file applies to client_assertion workload_identity")
		}
	case assertionWorkloadIdentity:
		if set["managed_identity_client_id"] {
			b.Errorf("managed_identity_client_id", "managed_identity_client_id applies to client_assertion managed_identity")
		}
	default:
		b.Errorf("client_assertion", "unknown client_assertion %q (one of: managed_identity, workload_identity)", a.ClientAssertion)
	}
	if a.ClientAssertion == "" && set["managed_identity_client_id"] {
		b.Errorf("managed_identity_client_id", "managed_identity_client_id applies to client_assertion managed_identity")
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

func checkEnv(b *kind.Build, key, name string) {
	if name == "" {
		return
	}
	if v, ok := b.LookupEnv(name); !ok || v == "" {
		b.EnvErrorf(key, "environment variable %s is not set or empty; export it or change the config", name)
	}
}

func checkSecretFile(b *kind.Build, key, path string) {
	if path == "" {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.EnvErrorf(key, "cannot read file: %v", err)
		return
	}
	if err := secretfile.CheckMode(path, fi); err != nil {
		b.EnvErrorf(key, "%v", err)
	}
}

// Source implements kind.AuthConfig.
func (a *Auth) Source(b *kind.Build) (kind.Result, error) {
	if a.kind() == "on_behalf_of" {
		s, err := a.oboSource(b)
		if err != nil {
			return kind.Result{}, fmt.Errorf("entra on_behalf_of credential: %w", err)
		}
		return kind.Result{Source: s, PerUser: s.SourceFor, Check: a.oboCheck(b, s.scope), Refresh: a.refreshMode(), Describe: a.describe}, nil
	}
	cred, err := a.credential(b)
	if err != nil {
		return kind.Result{}, fmt.Errorf("entra %s credential: %w", a.kind(), err)
	}
	src, err := NewSource(SourceOptions{Credential: cred, CredentialKind: a.kind(), Scope: a.scope(), TenantID: a.TenantID})
	if err != nil {
		return kind.Result{}, err
	}
	return kind.Result{Source: src, Refresh: a.refreshMode(), Describe: a.describe}, nil
}

func (a *Auth) miID() azidentity.ManagedIDKind {
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

// SDKCredentials builds the azidentity credential a names, for a client of
// another Azure service (a Key Vault secret store), whose SDK asks it for
// that service's scope. It does not touch the network. Call it after
// ValidateCredentials reported no problem.
func (a *Auth) SDKCredentials(b *kind.Build) (azcore.TokenCredential, error) {
	if a.kind() == "on_behalf_of" {
		return nil, errors.New("entra: credential on_behalf_of acts for a signed-in user and has no credential of its own")
	}
	cred, err := a.credential(b)
	if err != nil {
		return nil, fmt.Errorf("entra %s credential: %w", a.kind(), err)
	}
	return cred, nil
}

func (a *Auth) credential(b *kind.Build) (azcore.TokenCredential, error) {
	co := a.clientOptions()
	switch a.kind() {
	case "default":
		if a.ClientID == "" {
			return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: co, TenantID: a.TenantID, DisableInstanceDiscovery: a.cloud.DisableInstanceDiscovery})
		}
		return a.defaultChain()
	case "managed_identity":
		return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: co, ID: a.miID()})
	case "workload_identity":
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co, ClientID: a.ClientID, TenantID: a.TenantID, TokenFilePath: a.TokenFile, DisableInstanceDiscovery: a.cloud.DisableInstanceDiscovery})
	case "azure_cli":
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: a.TenantID})
	case "azure_developer_cli":
		return azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: a.TenantID})
	case "environment":
		return azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: a.cloud.DisableInstanceDiscovery})
	case "client_secret":
		secret, err := a.clientSecret(b)
		if err != nil {
			return nil, err
		}
		return azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, secret.Reveal(), &azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: a.cloud.DisableInstanceDiscovery})
	case "client_certificate":
		data, err := secretfile.ReadBytes(a.CertificateFile)
		if err != nil {
			return nil, err
		}
		var password []byte
		if a.CertificatePasswordEnv != "" {
			v, _ := b.LookupEnv(a.CertificatePasswordEnv)
			password = []byte(v)
		}
		certs, key, err := azidentity.ParseCertificates(data, password)
		if err != nil {
			return nil, fmt.Errorf("certificate_file %s: %w", a.CertificateFile, err)
		}
		return azidentity.NewClientCertificateCredential(a.TenantID, a.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: a.cloud.DisableInstanceDiscovery})
	}
	return nil, fmt.Errorf("unknown credential %q", a.kind())
}

func (a *Auth) clientSecret(b *kind.Build) (credential.Secret, error) {
	if a.ClientSecretEnv != "" {
		v, ok := b.LookupEnv(a.ClientSecretEnv)
		if !ok || v == "" {
			return credential.Secret{}, fmt.Errorf("environment variable %s is not set", a.ClientSecretEnv)
		}
		return credential.NewSecret(v), nil
	}
	fi, err := os.Stat(a.ClientSecretFile)
	if err != nil {
		return credential.Secret{}, err
	}
	return secretfile.Read(a.ClientSecretFile, fi, nil)
}
