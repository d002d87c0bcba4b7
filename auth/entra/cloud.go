package entra

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"github.com/byokcred/byokcred/credential"
	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/kind"
)

// envAuthorityHost is azidentity's variable for the authority of every
// credential built without a cloud of its own.
const envAuthorityHost = "AZURE_AUTHORITY_HOST"

// Cloud is the Azure cloud an identity signs in to and the resources its
// tokens are for: one of azcore's clouds, or a private cloud named only by
// its authority.
type Cloud struct {
	// Name is AzurePublic, AzureGovernment or AzureChina; "" for a private
	// cloud.
	Name string
	// AuthorityHost is the Entra authority (https://login.microsoftonline.us/).
	AuthorityHost string
	// DisableInstanceDiscovery skips MSAL's request to Microsoft's instance
	// discovery, for authorities it does not know (a private cloud, AD FS).
	DisableInstanceDiscovery bool
	// scope is the default token scope of Azure OpenAI / AI Foundry ("" for a
	// private cloud: its resources are its own).
	scope string
	// modelSuffixes are the host suffixes of its Azure OpenAI / AI Foundry
	// endpoints.
	modelSuffixes []string
	// vaultSuffix is the host suffix of its Key Vaults ("vault.azure.net").
	vaultSuffix string
	// exchangeScope is the audience of a federated token used as a client
	// assertion in this cloud.
	exchangeScope string
	// fromEnv is set when the authority came from AZURE_AUTHORITY_HOST, not
	// from the config.
	fromEnv bool
	// invalid is set when `cloud:` was reported wrong: no check follows
	// from it.
	invalid bool
}

// clouds are the clouds `cloud:` names, as azcore's cloud package names
// them. Their resources are from Microsoft's documentation of each cloud's
// endpoints (Azure Government's and Azure China's developer guides).
var clouds = []Cloud{
	{
		Name: "AzurePublic", AuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
		scope:         "https://cognitiveservices.azure.com/.default",
		modelSuffixes: []string{"openai.azure.com", "cognitiveservices.azure.com", "services.ai.azure.com"},
		vaultSuffix:   "vault.azure.net", exchangeScope: "api://AzureADTokenExchange/.default",
	},
	{
		Name: "AzureGovernment", AuthorityHost: cloud.AzureGovernment.ActiveDirectoryAuthorityHost,
		scope:         "https://cognitiveservices.azure.us/.default",
		modelSuffixes: []string{"openai.azure.us", "cognitiveservices.azure.us", "services.ai.azure.us"},
		vaultSuffix:   "vault.usgovcloudapi.net", exchangeScope: "api://AzureADTokenExchangeUSGov/.default",
	},
	{
		Name: "AzureChina", AuthorityHost: cloud.AzureChina.ActiveDirectoryAuthorityHost,
		scope:         "https://cognitiveservices.azure.cn/.default",
		modelSuffixes: []string{"openai.azure.cn", "cognitiveservices.azure.cn", "services.ai.azure.cn"},
		vaultSuffix:   "vault.azure.cn", exchangeScope: "api://AzureADTokenExchangeChina/.default",
	},
}

func cloudNames() []string {
	names := make([]string, len(clouds))
	for i, c := range clouds {
		names[i] = c.Name
	}
	return names
}

// namedCloud finds a cloud by name, ignoring case: users copy the names from
// azcore, the Azure CLI (AzureUSGovernment, AzureChinaCloud) and the
// portal, so those spellings are accepted too.
func namedCloud(name string) (Cloud, bool) {
	aliases := map[string]string{
		"azurecloud": "AzurePublic", "azureusgovernment": "AzureGovernment", "azurechinacloud": "AzureChina",
	}
	n := strings.ToLower(name)
	if a, ok := aliases[n]; ok {
		n = strings.ToLower(a)
	}
	for _, c := range clouds {
		if strings.ToLower(c.Name) == n {
			return c, true
		}
	}
	return Cloud{}, false
}

// authorityCloud finds the cloud whose authority is host (a URL or a host
// name).
func authorityCloud(authority string) (Cloud, bool) {
	host := authority
	if u, err := url.Parse(authority); err == nil && u.Host != "" {
		host = u.Hostname()
	}
	for _, c := range clouds {
		if u, _ := url.Parse(c.AuthorityHost); strings.EqualFold(u.Hostname(), host) {
			return c, true
		}
	}
	return Cloud{}, false
}

// privateCloud is the block form of `cloud:`.
type privateCloud struct {
	// AuthorityHost is the private cloud's Entra (or AD FS) authority, an
	// https URL such as https://login.contoso.example/.
	AuthorityHost string `yaml:"authority_host" byok:"expand"`
	// InstanceDiscovery, true by default, lets MSAL ask Microsoft whether the
	// authority is genuine; set it false for an authority Microsoft does not
	// know (Azure Stack Hub, AD FS, a disconnected cloud).
	InstanceDiscovery *bool `yaml:"instance_discovery"`
}

// configuration is azcore's form of c, for azidentity's ClientOptions.Cloud.
// An authority from AZURE_AUTHORITY_HOST is passed on as azidentity would
// apply it, so that it is read once, through kind.Build.LookupEnv. The zero
// value (c was never resolved) leaves azidentity its own defaults.
func (c Cloud) configuration() cloud.Configuration {
	if c.AuthorityHost == "" {
		return cloud.Configuration{}
	}
	return cloud.Configuration{ActiveDirectoryAuthorityHost: c.AuthorityHost, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
}

// label names c for people: its name, or "private" for a custom authority.
func (c Cloud) label() string {
	if c.Name == "" && c.AuthorityHost == "" {
		return clouds[0].Name
	}
	if c.Name == "" {
		return "private"
	}
	return c.Name
}

// checkVaultHost reports a vault host that belongs to another cloud than c:
// its identity could not get a token the vault accepts.
func (c Cloud) checkVaultHost(host string) error {
	if c.Name == "" {
		return nil
	}
	host = strings.ToLower(host)
	for _, o := range clouds {
		if o.Name != c.Name && strings.HasSuffix(host, "."+o.vaultSuffix) {
			return fmt.Errorf("vault %s is in %s, but the identity signs in to %s; set the auth block's cloud: %s, or use a vault of %s (*.%s)", host, o.Name, c.Name, o.Name, c.Name, c.vaultSuffix)
		}
	}
	return nil
}

// checkModelHost reports a model endpoint host of another cloud than c.
// Hosts outside every known suffix (a custom domain, API Management, a
// gateway) are the user's business.
func (c Cloud) checkModelHost(host string) error {
	if c.Name == "" {
		return nil
	}
	host = strings.ToLower(host)
	for _, o := range clouds {
		if o.Name == c.Name {
			continue
		}
		for _, s := range o.modelSuffixes {
			if strings.HasSuffix(host, "."+s) {
				return fmt.Errorf("%s is an endpoint of %s, but the identity signs in to %s (cloud %s); set auth.cloud: %s", host, o.Name, c.Name, c.Name, o.Name)
			}
		}
	}
	return nil
}

// checkScope reports a scope of another cloud's Cognitive Services than c's.
func (c Cloud) checkScope(scope string) error {
	if c.Name == "" {
		return nil
	}
	for _, o := range clouds {
		if o.Name != c.Name && strings.EqualFold(scope, o.scope) {
			return fmt.Errorf("scope %s is %s's, but the identity signs in to %s; set cloud: %s (whose default scope it is), or drop scope to use %s's (%s)", scope, o.Name, c.Name, o.Name, c.Name, c.scope)
		}
	}
	return nil
}

// decodeCloud resolves the `cloud:` key (node, nil when absent) and
// AZURE_AUTHORITY_HOST into the cloud an identity uses: the config's when it
// names one, else the variable's (as azidentity applies it), else the public
// cloud. It is the one reading of `cloud:` for every Entra use: the entra
// kind, on_behalf_of, and a Key Vault store's identity.
func decodeCloud(b *kind.Build, node *yaml.Node) Cloud {
	env := ""
	if b.LookupEnv != nil {
		if v, ok := b.LookupEnv(envAuthorityHost); ok {
			env = v
		}
	}
	if node == nil {
		if env == "" {
			return clouds[0]
		}
		c, ok := authorityCloud(env)
		if !ok {
			// A private authority from the environment: azidentity uses it
			// as it is; no defaults or checks can follow it.
			c = Cloud{AuthorityHost: env}
		}
		c.fromEnv = true
		return c
	}
	var c Cloud
	switch node.Kind {
	case yaml.ScalarNode:
		var ok bool
		if c, ok = namedCloud(node.Value); !ok {
			b.Errorf("cloud", "unknown cloud %q (one of: %s; or a block {authority_host: https://…} for a private cloud)", node.Value, strings.Join(cloudNames(), ", "))
			return Cloud{invalid: true}
		}
	case yaml.MappingNode:
		var p privateCloud
		b.Decode("cloud", node, &p)
		if b.Failed("cloud.authority_host") {
			return Cloud{invalid: true}
		}
		host, err := checkAuthorityHost(p.AuthorityHost)
		if err != nil {
			b.Errorf("cloud.authority_host", "%v", err)
			return Cloud{invalid: true}
		}
		if known, ok := authorityCloud(host); ok {
			b.Errorf("cloud.authority_host", "%s is %s's authority; write cloud: %s, which also sets its scopes and checks its endpoints", host, known.Name, known.Name)
			return Cloud{invalid: true}
		}
		c = Cloud{AuthorityHost: host, DisableInstanceDiscovery: p.InstanceDiscovery != nil && !*p.InstanceDiscovery}
	default:
		b.Errorf("cloud", "cloud is a name (one of: %s) or a block {authority_host: https://…, instance_discovery: false}", strings.Join(cloudNames(), ", "))
		return Cloud{invalid: true}
	}
	if env != "" && !strings.EqualFold(strings.TrimSuffix(env, "/"), strings.TrimSuffix(c.AuthorityHost, "/")) && b.Logger != nil {
		b.Logger.Warn("entra: both cloud and "+envAuthorityHost+" are set; the config's cloud wins", "path", b.Path+".cloud", "cloud", c.label(), "authority", c.AuthorityHost, envAuthorityHost, env)
	}
	return c
}

// checkAuthorityHost checks a private cloud's authority and returns it with
// the trailing slash azidentity expects.
func checkAuthorityHost(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("a private cloud needs authority_host, its Entra or AD FS authority (https://login.example/)")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "":
		return "", fmt.Errorf("authority_host %q is not a URL; want https://HOST/", s)
	case u.Scheme != "https":
		return "", fmt.Errorf("authority_host %q: an authority is reached over https only (azidentity refuses anything else)", s)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "":
		return "", fmt.Errorf("authority_host %q: want the authority's root, https://%s/, without a path (the tenant is tenant_id)", s, u.Host)
	}
	return "https://" + u.Host + "/", nil
}

// scopeCloud finds the cloud whose Cognitive Services scope is scope.
func scopeCloud(scope string) (Cloud, bool) {
	for _, c := range clouds {
		if strings.EqualFold(scope, c.scope) {
			return c, true
		}
	}
	return Cloud{}, false
}

// mayNotSignIn reports whether a credential kind can get its tokens without
// signing in at the authority (a managed identity endpoint, a CLI, or the
// default chain's links for them): such an identity worked in a national
// cloud before `cloud:` existed, with the cloud's scope or vault named, and
// must keep working when no cloud is named.
func mayNotSignIn(k string) bool {
	return !credentialTakesAuthority(k) || k == "default"
}

// credentialTakesAuthority reports whether a credential kind signs in to the
// authority itself (and so takes a private cloud's authority_host); the
// others get their tokens from a managed identity endpoint or a CLI, which
// know their cloud on their own.
func credentialTakesAuthority(k string) bool {
	return !slices.Contains([]string{"managed_identity", "azure_cli", "azure_developer_cli"}, k)
}

// describe is the kind.Result.Describe of every entra source: which cloud
// and authority the identity signs in to (`byokcred doctor`, `token`).
func (a *Auth) describe(*credential.Token) []kind.TokenFact {
	c := a.cloud
	authority := c.AuthorityHost
	switch {
	case !credentialTakesAuthority(a.kind()):
		authority = tokenIssuer(a.kind())
	case authority == "":
		authority = clouds[0].AuthorityHost
	case c.fromEnv:
		authority += " (" + envAuthorityHost + ")"
	}
	facts := []kind.TokenFact{{Name: "cloud", Value: c.label()}, {Name: "authority", Value: authority}}
	if c.DisableInstanceDiscovery {
		facts = append(facts, kind.TokenFact{Name: "instance discovery", Value: "off"})
	}
	return append(facts, kind.TokenFact{Name: "scope", Value: a.scope()})
}
