package azurekeyvault_test

import (
	stdcmp "cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	_ "github.com/byokcred/byokcred/secretstore/azurekeyvault"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakekeyvault"
	"github.com/byokcred/byokcred/internal/testkit/storetest"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

const canary = "sk-CANARY-5e1b7c94"

// idp is the managed identity endpoint of every test: azidentity caches
// managed-identity tokens once per process, so tokens it minted for one
// test are served to the next, and must stay valid there.
var idp *fakeidentity.Server

func TestMain(m *testing.M) {
	var err error
	idp, err = fakeidentity.Start(fakeidentity.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Only the managed identity endpoint may answer: no service principal,
	// workload identity or other tenant from the developer's environment.
	for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS", "AZURE_USERNAME", "MSI_ENDPOINT", "MSI_SECRET"} {
		os.Unsetenv(k)
	}
	for k, v := range idp.Env() {
		os.Setenv(k, v)
	}
	code := m.Run()
	idp.Close()
	os.Exit(code)
}

// checkToken is the vault's token check: minted by idp for the vault's
// resource, and still valid.
func checkToken(tok string) (string, error) { return fakekeyvault.ManagedIdentity(idp)(tok) }

// startVault starts a fake vault at https://fakevault.vault.azure.net, which
// the store module reaches through kv.Client() (load's client).
func startVault(t *testing.T, clock *fakeclock.Clock, check func(string) (string, error)) *fakekeyvault.Server {
	t.Helper()
	kv := fakekeyvault.Start(fakekeyvault.Options{Check: check, Now: clock.Now})
	t.Cleanup(kv.Close)
	return kv
}

func TestValidation(t *testing.T) {
	const url = "https://myvault.vault.azure.net/secrets/openai-key"
	const version = "0123456789abcdef0123456789ABCDEF"
	tests := []struct {
		name  string
		block string // the api_key_secret block, one line
		want  []string
	}{
		{name: "current version", block: `{store: azure_key_vault, secret: ` + url + `}`},
		{name: "version in the URL", block: `{store: azure_key_vault, secret: ` + url + `/` + version + `}`},
		{name: "version key", block: `{store: azure_key_vault, secret: ` + url + `, version: ` + version + `}`},
		{name: "a vault of the identity's cloud", block: `{store: azure_key_vault, secret: 'https://v.vault.azure.cn/secrets/k', auth: {cloud: AzureChina}}`},
		{name: "a vault of another cloud than the identity's", block: `{store: azure_key_vault, secret: 'https://v.vault.usgovcloudapi.net/secrets/k', auth: {cloud: AzureChina}}`, want: []string{
			`c.yaml:8:56: providers.p.auth.api_key_secret.secret: vault v.vault.usgovcloudapi.net is in AzureGovernment, but the identity signs in to AzureChina; set the auth block's cloud: AzureGovernment, or use a vault of AzureChina (*.vault.azure.cn)`,
		}},
		{name: "a national vault, no cloud named, the default chain", block: `{store: azure_key_vault, secret: 'https://v.vault.azure.cn/secrets/k'}`},
		{name: "a national vault, no cloud named, managed identity", block: `{store: azure_key_vault, secret: 'https://v.vault.azure.cn/secrets/k', auth: {credential: managed_identity}}`},
		{name: "a national vault, no cloud named, a service principal", block: `{store: azure_key_vault, secret: 'https://v.vault.azure.cn/secrets/k', auth: {credential: client_secret, tenant_id: t, client_id: c, client_secret_env: S}}`, want: []string{
			`c.yaml:8:56: providers.p.auth.api_key_secret.secret: vault v.vault.azure.cn is in AzureChina, but the identity signs in to AzurePublic; set the auth block's cloud: AzureChina, or use a vault of AzurePublic (*.vault.azure.net)`,
			`c.yaml:8:175: providers.p.auth.api_key_secret.auth.client_secret_env: environment variable S is not set or empty; export it or change the config`,
		}},
		{name: "a national vault, the public cloud named", block: `{store: azure_key_vault, secret: 'https://v.vault.azure.cn/secrets/k', auth: {cloud: AzurePublic}}`, want: []string{
			`c.yaml:8:56: providers.p.auth.api_key_secret.secret: vault v.vault.azure.cn is in AzureChina, but the identity signs in to AzurePublic; set the auth block's cloud: AzureChina, or use a vault of AzurePublic (*.vault.azure.net)`,
		}},
		{name: "user-assigned managed identity", block: `{store: azure_key_vault, secret: ` + url + `, auth: {credential: managed_identity, client_id: 11111111-2222-3333-4444-555555555555}}`},
		{name: "no secret", block: `{store: azure_key_vault, version: ` + version + `}`, want: []string{
			`c.yaml:8:7: providers.p.auth.api_key_secret: missing key "secret": the Key Vault secret identifier, https://VAULT.vault.azure.net/secrets/NAME or …/NAME/VERSION`,
		}},
		{name: "http", block: `{store: azure_key_vault, secret: 'http://myvault.vault.azure.net/secrets/k'}`, want: []string{
			`c.yaml:8:56: providers.p.auth.api_key_secret.secret: secret "http://myvault.vault.azure.net/secrets/k": a Key Vault secret identifier is an https URL, https://VAULT.vault.azure.net/secrets/NAME or …/NAME/VERSION`,
		}},
		{name: "a bare name", block: `{store: azure_key_vault, secret: openai-key}`, want: []string{
			`c.yaml:8:56: providers.p.auth.api_key_secret.secret: secret "openai-key": a Key Vault secret identifier is an https URL, https://VAULT.vault.azure.net/secrets/NAME or …/NAME/VERSION`,
		}},
		{name: "a key, not a secret", block: `{store: azure_key_vault, secret: 'https://myvault.vault.azure.net/keys/k'}`, want: []string{
			`c.yaml:8:56: providers.p.auth.api_key_secret.secret: secret "https://myvault.vault.azure.net/keys/k": the path must be /secrets/NAME or /secrets/NAME/VERSION (the secret identifier Key Vault shows), not "/keys/k"`,
		}},
		{name: "trailing slash", block: `{store: azure_key_vault, secret: '` + url + `/'}`, want: []string{
			`c.yaml:8:56: providers.p.auth.api_key_secret.secret: secret "` + url + `/": the path must be /secrets/NAME or /secrets/NAME/VERSION (the secret identifier Key Vault shows), not "/secrets/openai-key/"`,
		}},
		{name: "query", block: `{store: azure_key_vault, secret: '` + url + `?api-version=7.4'}`, want: []string{
			`c.yaml:8:56: providers.p.auth.api_key_secret.secret: secret "` + url + `?api-version=7.4": want https://HOST/secrets/NAME[/VERSION] with nothing else (no user, query or fragment)`,
		}},
		{name: "name with an underscore", block: `{store: azure_key_vault, secret: 'https://myvault.vault.azure.net/secrets/openai_key'}`, want: []string{
			`c.yaml:8:56: providers.p.auth.api_key_secret.secret: secret "https://myvault.vault.azure.net/secrets/openai_key": "openai_key" is not a Key Vault secret name (1 to 127 letters, digits and dashes)`,
		}},
		{name: "name too long", block: `{store: azure_key_vault, secret: 'https://v.vault.azure.net/secrets/` + strings.Repeat("k", 128) + `'}`, want: []string{
			`c.yaml:8:56: providers.p.auth.api_key_secret.secret: secret "https://v.vault.azure.net/secrets/` + strings.Repeat("k", 128) + `": "` + strings.Repeat("k", 128) + `" is not a Key Vault secret name (1 to 127 letters, digits and dashes)`,
		}},
		{name: "short version in the URL", block: `{store: azure_key_vault, secret: '` + url + `/abc123'}`, want: []string{
			`c.yaml:8:56: providers.p.auth.api_key_secret.secret: secret "` + url + `/abc123": "abc123" is not a Key Vault version id (32 hex digits); drop it to read the current version`,
		}},
		{name: "version twice", block: `{store: azure_key_vault, secret: '` + url + `/` + version + `', version: ` + version + `}`, want: []string{
			`c.yaml:8:152: providers.p.auth.api_key_secret.version: the version is given twice, at the end of secret's URL (` + version + `) and in version (` + version + `); keep one`,
		}},
		{name: "version not hex", block: `{store: azure_key_vault, secret: ` + url + `, version: latest}`, want: []string{
			`c.yaml:8:117: providers.p.auth.api_key_secret.version: version "latest" is not a Key Vault version id (32 hex digits, the last part of the secret identifier)`,
		}},
		{name: "version_stage", block: `{store: azure_key_vault, secret: ` + url + `, version_stage: AWSCURRENT}`, want: []string{
			// Only this store is linked here: no other store takes the key
			// either (builtin's test shows the stock binary's error).
			`c.yaml:8:108: providers.p.auth.api_key_secret.version_stage: unknown key "version_stage"`,
		}},
		{name: "scope and refresh", block: `{store: azure_key_vault, secret: ` + url + `, auth: {scope: 'https://vault.azure.net/.default', refresh: per_session}}`, want: []string{
			`c.yaml:8:122: providers.p.auth.api_key_secret.auth.scope: scope does not apply to a Key Vault secret: the vault names the resource its tokens are for (https://vault.azure.net/.default)`,
			`c.yaml:8:167: providers.p.auth.api_key_secret.auth.refresh: refresh does not apply to a Key Vault secret: the secret is re-read every refresh_interval`,
		}},
		{name: "on_behalf_of", block: `{store: azure_key_vault, secret: ` + url + `, auth: {credential: on_behalf_of, tenant_id: t, client_id: c}}`, want: []string{
			`c.yaml:8:127: providers.p.auth.api_key_secret.auth.credential: credential on_behalf_of does not apply here: it acts for a signed-in user, and this identity reads for the whole process (one of: azure_cli, azure_developer_cli, client_certificate, client_secret, default, environment, managed_identity, workload_identity)`,
		}},
		{name: "key that does not apply", block: `{store: azure_key_vault, secret: ` + url + `, auth: {credential: azure_cli, client_id: c}}`, want: []string{
			`c.yaml:8:149: providers.p.auth.api_key_secret.auth.client_id: client_id does not apply to credential azure_cli (it takes: tenant_id)`,
		}},
		{name: "service principal without its keys", block: `{store: azure_key_vault, secret: ` + url + `, auth: {credential: client_secret}}`, want: []string{
			`c.yaml:8:108: providers.p.auth.api_key_secret.auth: credential client_secret needs tenant_id`,
			`c.yaml:8:108: providers.p.auth.api_key_secret.auth: credential client_secret needs client_id (the application id)`,
			`c.yaml:8:108: providers.p.auth.api_key_secret.auth: credential client_secret needs client_secret_env or client_secret_file`,
		}},
		{name: "misspelt key", block: `{store: azure_key_vault, secret: ` + url + `, auth: {credentail: managed_identity}}`, want: []string{
			`c.yaml:8:115: providers.p.auth.api_key_secret.auth.credentail: unknown key "credentail"; did you mean "credential"?`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := configtest.Write(t, "providers:\n  p:\n    type: openai\n    base_url: https://a.example\n    model: m\n    auth:\n      type: static\n      api_key_secret: "+tc.block+"\n")
			set, err := registry.Load(path, registry.Options{LookupEnv: func(string) (string, bool) { return "", false }})
			var got []string
			if err != nil {
				for _, line := range strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n") {
					line, _, _ = strings.Cut(line, " (known keys")
					got = append(got, line)
				}
			} else {
				set.Close()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestCurrentVersionFollowsRotation reads a secret with the default
// credential (DefaultAzureCredential, answered by the managed identity
// endpoint) through the real challenge flow, and follows it as it rotates:
// re-read every refresh_interval and at once after an upstream rejection.
func TestCurrentVersionFollowsRotation(t *testing.T) {
	clock := fakeclock.New()
	logs := new(syncbuf.Buffer)
	kv := startVault(t, clock, checkToken)
	v1 := kv.Set("openai-key", canary+"-1")
	p := load(t, kv.Client(), clock, logs, "        store: azure_key_vault\n        secret: "+kv.SecretURL("openai-key", "")+"\n        refresh_interval: 1m\n")
	if got := storetest.Value(t, p); got != canary+"-1" {
		t.Fatalf("first read: got %q", got)
	}
	if kv.Challenges() != 1 || kv.Reads() != 1 {
		t.Errorf("first read took %d challenges and %d reads, want 1 and 1", kv.Challenges(), kv.Reads())
	}

	t.Run("token facts", func(t *testing.T) {
		clock.Advance(30 * time.Second)
		tok, _ := p.Token(context.Background())
		want := []kind.TokenFact{
			{Name: "secret", Value: kv.SecretURL("openai-key", "")},
			{Name: "version", Value: v1},
			{Name: "version created", Value: clock.Now().Add(-30*time.Second).Format(time.RFC3339) + " (30s ago)"},
			{Name: "read", Value: "30s ago"},
		}
		if diff := cmp.Diff(want, p.DescribeToken(tok)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("re-read after refresh_interval", func(t *testing.T) {
		kv.Set("openai-key", canary+"-2")
		clock.Advance(time.Minute)
		storetest.Eventually(t, "the rotated value", func() bool { return storetest.Value(t, p) == canary+"-2" })
	})
	t.Run("re-read at once after a rejection", func(t *testing.T) {
		v3 := kv.Set("openai-key", canary+"-3")
		tok, _ := p.Token(context.Background())
		p.Cache.Invalidate(tok)
		tok, err := p.Token(context.Background())
		if err != nil || tok.Value.Reveal() != canary+"-3" {
			t.Fatalf("after Invalidate: %v, err %v; want the current version", tok, err)
		}
		facts := p.DescribeToken(tok)
		if len(facts) < 2 || facts[1] != (kind.TokenFact{Name: "version", Value: v3}) {
			t.Errorf("facts %v, want version %s", facts, v3)
		}
	})
	if kv.Challenges() != 1 {
		t.Errorf("%d challenges: the client should keep the vault's challenge", kv.Challenges())
	}
	if r := kv.Rejected(); len(r) != 0 {
		t.Errorf("vault rejected requests: %q", r)
	}
	if strings.Contains(logs.String(), canary) {
		t.Errorf("a secret value reached the log:\n%s", logs)
	}
}

// TestPinnedVersionStays: a pinned version is read as it is, whether the
// secret rotates or not, pinned in the URL or with the version key.
func TestPinnedVersionStays(t *testing.T) {
	for _, how := range []string{"url", "version key"} {
		t.Run(how, func(t *testing.T) {
			clock := fakeclock.New()
			kv := startVault(t, clock, checkToken)
			v1 := kv.Set("pinned", canary+"-1")
			block := "        store: azure_key_vault\n        secret: " + kv.SecretURL("pinned", v1) + "\n"
			if how == "version key" {
				block = "        store: azure_key_vault\n        secret: " + kv.SecretURL("pinned", "") + "\n        version: " + v1 + "\n"
			}
			// A user-assigned identity: the vault sees its client id.
			block += "        auth: {credential: managed_identity, client_id: pinned-reader}\n"
			p := load(t, kv.Client(), clock, new(syncbuf.Buffer), block)
			kv.Set("pinned", canary+"-2")
			tok, err := p.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			p.Cache.Invalidate(tok)
			tok, err = p.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Value.Reveal(); got != canary+"-1" {
				t.Errorf("got %q, want the pinned version's value", got)
			}
			want := []kind.TokenFact{{Name: "secret", Value: kv.SecretURL("pinned", v1)}, {Name: "version", Value: v1}}
			if diff := cmp.Diff(want, p.DescribeToken(tok)[:2]); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadErrors: each way a read fails gives an error that names the
// secret and the vault and says what to do, and never the value.
func TestReadErrors(t *testing.T) {
	const name = "openai-key"
	tests := []struct {
		name   string
		secret string                       // default name
		pin    string                       // "v1": pin the first version; "unknown": a version the vault never had
		setup  func(kv *pinned)             // after the secret's first version is set
		check  func(string) (string, error) // default checkToken
		want   string                       // VAULT stands for the vault URL, V1 for the first version
		reads  int                          // requests the vault must have seen (0: not checked)
	}{
		{name: "no such secret", secret: "gone",
			want: `static: secret VAULT/secrets/gone: azurekeyvault: no secret gone in vault VAULT (404 SecretNotFound); create it (az keyvault secret set --vault-name VAULT --name gone --file KEYFILE) or fix the name in secret`},
		{name: "no such version", pin: "unknown",
			want: `static: secret VAULT/secrets/openai-key/00000000000000000000000000000000: azurekeyvault: no version 00000000000000000000000000000000 of secret openai-key in vault VAULT (404 SecretNotFound); pin an existing version, or drop version to follow the current one`},
		{name: "access denied", setup: func(kv *pinned) { kv.Deny("system-assigned") },
			want: `static: secret VAULT/secrets/openai-key: azurekeyvault: access to secret openai-key in vault VAULT denied (403 Forbidden, ForbiddenByRbac); grant the identity the Key Vault Secrets User role (RBAC) or a get-secret access policy`},
		{name: "current version disabled", setup: func(kv *pinned) { kv.Disable(name, "") },
			want: `static: secret VAULT/secrets/openai-key: azurekeyvault: the current version of secret openai-key in vault VAULT is disabled (403 Forbidden, SecretDisabled); enable it, or store the key in a new version`},
		{name: "pinned version disabled", pin: "v1", setup: func(kv *pinned) { kv.Set(name, canary+"-2"); kv.Disable(name, "V1") },
			want: `static: secret VAULT/secrets/openai-key/V1: azurekeyvault: version V1 of secret openai-key in vault VAULT is disabled (403 Forbidden, SecretDisabled); enable it, or pin another version`},
		{name: "token from another tenant", check: func(string) (string, error) { return "", fmt.Errorf("issuer of another tenant") },
			want: `static: secret VAULT/secrets/openai-key: azurekeyvault: vault VAULT refused the identity's token for secret openai-key (401 Unauthorized); the identity must belong to the vault's tenant: check auth (credential, tenant_id, client_id)`},
		{name: "vault down", setup: func(kv *pinned) { kv.Down(true) },
			want:  `static: secret VAULT/secrets/openai-key: azurekeyvault: vault VAULT is unavailable reading secret openai-key (503 ServiceUnavailable); the read is tried again at the next refresh`,
			reads: 4}, // azcore's own retries
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := fakeclock.New()
			check := tc.check
			if check == nil {
				check = checkToken
			}
			kv := startVault(t, clock, check)
			v1 := kv.Set(name, canary)
			secret := stdcmp.Or(tc.secret, name)
			ref := kv.SecretURL(secret, "")
			switch tc.pin {
			case "v1":
				ref = kv.SecretURL(secret, v1)
			case "unknown":
				ref = kv.SecretURL(secret, strings.Repeat("0", 32))
			}
			if tc.setup != nil {
				tc.setup(&pinned{kv, v1})
			}
			logs := new(syncbuf.Buffer)
			p := load(t, kv.Client(), clock, logs, "        store: azure_key_vault\n        secret: "+ref+"\n")
			tok, err := p.Token(context.Background())
			if err == nil {
				t.Fatalf("got a token %v, want an error", tok)
			}
			got := strings.ReplaceAll(strings.ReplaceAll(err.Error(), kv.URL, "VAULT"), v1, "V1")
			if !strings.HasSuffix(got, tc.want) {
				t.Errorf("error\n %s\nwant it to end in\n %s", got, tc.want)
			}
			if strings.Contains(err.Error(), canary) || strings.Contains(logs.String(), canary) {
				t.Errorf("the secret value shows in the error or the log:\n%v\n%s", err, logs)
			}
			if tc.reads != 0 && kv.Requests() != tc.reads {
				t.Errorf("%d requests reached the vault, want %d", kv.Requests(), tc.reads)
			}
		})
	}
}

// pinned is the fake vault for a read-error case, where "V1" names the
// secret's first version (not known when the table is written).
type pinned struct {
	*fakekeyvault.Server
	v1 string
}

func (p *pinned) Disable(name, version string) {
	if version == "V1" {
		version = p.v1
	}
	p.Server.Disable(name, version)
}

// TestHostDoesNotResolve: a vault name that does not exist is a host name
// that does not resolve; the error says so instead of a dial error, after
// one try (azcore's retries would only wait seconds for the same answer).
// The transport answers as the resolver does for such a name (offline tests
// cannot ask DNS).
func TestHostDoesNotResolve(t *testing.T) {
	var dials atomic.Int32
	resolver := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			host, _, _ := net.SplitHostPort(addr)
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
		},
	}}
	p := load(t, resolver, fakeclock.New(), new(syncbuf.Buffer), "        store: azure_key_vault\n        secret: https://no-such-vault.vault.azure.net/secrets/k\n")
	_, err := p.Token(context.Background())
	want := "azurekeyvault: vault host no-such-vault.vault.azure.net does not resolve; check the vault name in secret (https://no-such-vault.vault.azure.net/secrets/k)"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error %v, want it to end in %q", err, want)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1: a host that does not resolve is not retried", n)
	}
}

// TestDiagnose: doctor walks the identity's credential chain for the
// vault's scope, through the static kind.
func TestDiagnose(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no az, azd or pwsh answers
	clock := fakeclock.New()
	kv := startVault(t, clock, checkToken)
	p := load(t, kv.Client(), clock, new(syncbuf.Buffer), "        store: azure_key_vault\n        secret: "+kv.SecretURL("k", "")+"\n")
	d, ok := p.Auth.(kind.Diagnoser)
	if !ok {
		t.Fatal("static auth is not a Diagnoser")
	}
	before := len(idp.Issued())
	links := d.Diagnose(context.Background())
	var got []string
	for _, l := range links {
		if l.Answered {
			got = append(got, l.Name+"*")
		} else {
			got = append(got, l.Name)
		}
	}
	want := []string{"EnvironmentCredential", "WorkloadIdentityCredential", "ManagedIdentityCredential*", "AzureCLICredential", "AzureDeveloperCLICredential", "AzurePowerShellCredential"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chain (-want +got):\n%s\n%+v", diff, links)
	}
	issued := idp.Issued()
	for _, is := range issued[before:] {
		if is.Resource != fakekeyvault.Resource {
			t.Errorf("doctor asked for a token for %s, want the vault's resource", is.Resource)
		}
	}
}

// TestNoToken: when the identity gets no token, the error says so, names the
// secret, and points at doctor, on one line.
func TestNoToken(t *testing.T) {
	broken, err := fakeidentity.Start(fakeidentity.Options{Fault: func(int) int { return http.StatusBadRequest }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broken.Close() })
	broken.Setenv(t)
	clock := fakeclock.New()
	kv := startVault(t, clock, checkToken)
	kv.Set("k", canary)
	// A client id no other test uses: azidentity caches tokens per process.
	p := load(t, kv.Client(), clock, new(syncbuf.Buffer), "        store: azure_key_vault\n        secret: "+kv.SecretURL("k", "")+"\n        auth: {credential: managed_identity, client_id: no-token}\n")
	_, err = p.Token(context.Background())
	got := strings.ReplaceAll(err.Error(), kv.URL, "VAULT")
	first, _, _ := strings.Cut(got, "\n")
	want := "static: secret VAULT/secrets/k: azurekeyvault: the identity (credential managed_identity) got no token for vault VAULT to read secret k; check the reference's auth block (credential, tenant_id, client_id): ManagedIdentityCredential authentication failed. "
	if !strings.HasSuffix(first, want) {
		t.Errorf("error's first line\n %s\nwant it to end in\n %s", first, want)
	}
	if kv.Reads() != 0 || broken.Faults() == 0 {
		t.Errorf("%d reads with %d identity faults: want no read and the identity endpoint asked", kv.Reads(), broken.Faults())
	}
}

// TestOutageKeepsLastValue: while the vault is down or refuses the
// identity, the last value read is served and the failure logged; once the
// vault answers again, the current version is read.
func TestOutageKeepsLastValue(t *testing.T) {
	clock := fakeclock.New()
	logs := new(syncbuf.Buffer)
	kv := startVault(t, clock, checkToken)
	kv.Set("outage", canary+"-1")
	p := load(t, kv.Client(), clock, logs, "        store: azure_key_vault\n        secret: "+kv.SecretURL("outage", "")+"\n        refresh_interval: 1m\n")
	if got := storetest.Value(t, p); got != canary+"-1" {
		t.Fatalf("first read: %q", got)
	}
	steps := []struct {
		name    string
		fail    func()
		recover func()
		logged  string
	}{
		{"vault down", func() { kv.Down(true) }, func() { kv.Down(false) }, "is unavailable reading secret outage (503 ServiceUnavailable)"},
		{"access denied", func() { kv.Deny("system-assigned") }, func() { kv.Allow("system-assigned") }, "access to secret outage in vault " + kv.URL + " denied (403 Forbidden, ForbiddenByRbac)"},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			last := storetest.Value(t, p)
			next := fmt.Sprintf("%s-%d", canary, i+2)
			st.fail()
			kv.Set("outage", next)
			before := kv.Requests()
			clock.Advance(2 * time.Minute)
			storetest.Eventually(t, "a failed re-read", func() bool { storetest.Value(t, p); return kv.Requests() > before })
			if got := storetest.Value(t, p); got != last {
				t.Errorf("during the failure got %q, want the last value %q", got, last)
			}
			storetest.Eventually(t, "the failure logged", func() bool { return strings.Contains(logs.String(), st.logged) })
			st.recover()
			clock.Advance(2 * time.Minute)
			storetest.Eventually(t, "the current version after recovery", func() bool { return storetest.Value(t, p) == next })
		})
	}
	if strings.Contains(logs.String(), canary) {
		t.Errorf("a secret value reached the log:\n%s", logs)
	}
}

// load loads provider p whose api_key_secret block is block (lines
// indented eight spaces), its requests going through client.
func load(t *testing.T, client *http.Client, clock *fakeclock.Clock, logs *syncbuf.Buffer, block string) *registry.Provider {
	t.Helper()
	return storetest.Load(t, clock, logs, client, "      api_key_secret:\n"+block)
}

// TestJSONWithoutJSONKey: a secret holding several vendors' keys, read
// without json_key, is refused naming its fields, never sent whole (issue
// 23, finding 4).
func TestJSONWithoutJSONKey(t *testing.T) {
	clock, logs := fakeclock.New(), new(syncbuf.Buffer)
	kv := startVault(t, clock, checkToken)
	v1 := kv.Set("both", storetest.TwoVendors)
	p := load(t, kv.Client(), clock, logs, "        store: azure_key_vault\n        secret: "+kv.SecretURL("both", "")+"\n")
	storetest.Refused(t, p, logs, []string{
		"static: secret " + kv.SecretURL("both", "") + ": version " + v1 +
			` holds a JSON object with fields "anthropic", "openai", not a key: set json_key`,
	}, storetest.OpenAICanary, storetest.AnthropicCanary)
}

// TestOversizedValue: an answer is bounded before azcore buffers it, and a
// value over 64 KiB is refused, naming the reference and the size, never
// the value (issue 23, finding 17).
func TestOversizedValue(t *testing.T) {
	tests := []struct {
		name string
		size int
		want string
	}{
		{"1 MiB: the answer is cut", 1 << 20, ": azurekeyvault: reading secret big from vault https://fakevault.vault.azure.net:"},
		{"100 KiB: the value is refused", 100 << 10, ": the secret's value is 102400 bytes; a credential is at most 65536 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock, logs := fakeclock.New(), new(syncbuf.Buffer)
			kv := startVault(t, clock, checkToken)
			kv.Set("big", storetest.Oversized(tc.size))
			p := load(t, kv.Client(), clock, logs, "        store: azure_key_vault\n        secret: "+kv.SecretURL("big", "")+"\n")
			storetest.Refused(t, p, logs, []string{"static: secret " + kv.SecretURL("big", "") + ": ", tc.want, "65536 bytes"}, storetest.OversizedCanary, "xxxxxxxx")
		})
	}
}

// TestChallengeForAnotherResourceRefused: Key Vault's challenge names the
// resource to get a token for; azsecrets checks it against the vault's host,
// always (no option of byokcred turns the check off), so a server that asks
// for a token of another resource gets none, and the read fails.
func TestChallengeForAnotherResourceRefused(t *testing.T) {
	tests := []struct {
		name, resource string
		wantErr        string // "" for a read
	}{
		{"the vault's own resource", fakekeyvault.Resource, ""},
		{"another service's resource", "https://management.azure.com", "challenge resource"},
		{"a look-alike vault domain", "https://vault.azure.net.example", "challenge resource"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := fakeclock.New()
			kv := fakekeyvault.Start(fakekeyvault.Options{Check: checkToken, Now: clock.Now, ChallengeResource: tc.resource})
			t.Cleanup(kv.Close)
			kv.Set("k", canary)
			before := len(idp.Issued())
			p := load(t, kv.Client(), clock, new(syncbuf.Buffer), "        store: azure_key_vault\n        secret: "+kv.SecretURL("k", "")+"\n")
			_, err := p.Token(context.Background())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				return
			}
			t.Logf("error: %v", err)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if kv.Reads() != 0 || len(kv.Rejected()) != 0 {
				t.Errorf("%d reads, tokens refused: %v; want no token sent to the vault", kv.Reads(), kv.Rejected())
			}
			for _, is := range idp.Issued()[before:] {
				if is.Resource == tc.resource {
					t.Errorf("the identity was asked for a token for %s", is.Resource)
				}
			}
		})
	}
}
