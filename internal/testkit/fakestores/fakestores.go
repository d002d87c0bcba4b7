// Package fakestores runs the three secret-store fakes together with the
// identity services their readers sign in with — Key Vault with an App
// Service managed identity endpoint, Secrets Manager with AWS container
// credentials, Secret Manager with the GCE metadata server — and points the
// real SDKs at them, for tests and the demo that read keys from all three:
// the identity services and Secrets Manager through the environment, Key
// Vault and Secret Manager under their real host names through the HTTP
// client the program is given (registry.Options.HTTPClient: Stores.Client).
// Importing it registers the three store modules.
package fakestores

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/internal/testkit/fakehosts"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakekeyvault"
	"github.com/byokcred/byokcred/internal/testkit/fakesecretmanager"
	"github.com/byokcred/byokcred/internal/testkit/fakesecretsmanager"

	_ "github.com/byokcred/byokcred/secretstore/awssecretsmanager"
	_ "github.com/byokcred/byokcred/secretstore/azurekeyvault"
	_ "github.com/byokcred/byokcred/secretstore/googlesecretmanager"
)

// The store names of the static kind.
const (
	KeyVault       = "azure_key_vault"
	SecretsManager = "aws_secrets_manager"
	SecretManager  = "google_secret_manager"
)

// Names lists the three stores.
var Names = []string{KeyVault, SecretsManager, SecretManager}

// GoogleProject holds the Secret Manager secrets, readable by
// GoogleAccount, the metadata server's service account.
const (
	GoogleProject = "byok-test-project"
	GoogleAccount = "secrets-reader@byok-test-project.iam.gserviceaccount.com"
)

func googleSecret(name string) string { return "projects/" + GoogleProject + "/secrets/" + name }

// TB is what Start needs of a test (testing.TB, or the demo's stand-in).
type TB interface {
	Setenv(key, value string)
	Cleanup(func())
	TempDir() string
	Helper()
	Fatal(args ...any)
}

// azure is the process's managed identity endpoint: azidentity keeps
// managed-identity tokens for the life of the process, so a token minted
// by one endpoint is offered to every later vault, which must accept it.
var azure struct {
	once sync.Once
	idp  *fakeidentity.Server
	err  error
}

// Stores are the running fakes.
type Stores struct {
	KeyVault       *fakekeyvault.Server
	Azure          *fakeidentity.Server
	SecretsManager *fakesecretsmanager.Server
	AWS            *fakeaws.Server
	SecretManager  *fakesecretmanager.Server
	GCP            *fakegcp.Server

	net     *fakehosts.Network
	mu      sync.Mutex
	allowed map[string]bool // Secret Manager secrets the account may read
}

// Start runs the fakes for the rest of t and sets the environment so that
// only they answer; the program's HTTP client must be Client.
func Start(t TB) *Stores {
	t.Helper()
	azure.once.Do(func() { azure.idp, azure.err = fakeidentity.Start(fakeidentity.Options{}) })
	if azure.err != nil {
		t.Fatal(azure.err)
	}
	s := &Stores{Azure: azure.idp, net: fakehosts.New(), allowed: map[string]bool{}}
	for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS", "MSI_ENDPOINT", "MSI_SECRET"} {
		t.Setenv(k, "")
		os.Unsetenv(k) // t.Setenv restores it
	}
	s.Azure.Setenv(t)
	s.KeyVault = fakekeyvault.Start(fakekeyvault.Options{Check: fakekeyvault.ManagedIdentity(s.Azure), Network: s.net})
	t.Cleanup(s.KeyVault.Close)

	var err error
	if s.AWS, err = fakeaws.Start(fakeaws.Options{Lifetime: time.Hour}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.AWS.Close() })
	s.AWS.Setenv(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	if s.SecretsManager, err = fakesecretsmanager.Start(fakesecretsmanager.Options{Region: "us-east-1", Lookup: s.AWS.Lookup}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.SecretsManager.Close() })
	s.SecretsManager.Setenv(t)

	if s.GCP, err = fakegcp.Start(fakegcp.Options{Lifetime: time.Hour, Email: GoogleAccount}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.GCP.Close() })
	t.Setenv("HOME", t.TempDir()) // no gcloud well-known file
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	s.GCP.Setenv(t)
	if s.SecretManager, err = fakesecretmanager.Start(fakesecretmanager.Options{GCP: s.GCP, Network: s.net}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.SecretManager.Close() })
	return s
}

// Client reaches the fakes: the HTTP client a test gives
// registry.Options.HTTPClient (or cli.Env.HTTPClient).
func (s *Stores) Client() *http.Client { return s.net.Client() }

// Put stores value as the new current version of secret name in store
// (creating it, readable by the identity Start set up) and returns the
// version's id.
func (s *Stores) Put(store, name, value string) string {
	switch store {
	case KeyVault:
		return s.KeyVault.Set(name, value)
	case SecretsManager:
		return s.SecretsManager.Put(name, value).ID
	case SecretManager:
		s.mu.Lock()
		first := !s.allowed[name]
		s.allowed[name] = true
		s.mu.Unlock()
		if first {
			s.SecretManager.Allow(googleSecret(name), GoogleAccount)
		}
		return s.SecretManager.AddVersion(googleSecret(name), value)
	}
	panic("fakestores: unknown store " + store)
}

// Block is the YAML flow mapping of an api_key_secret (or
// bearer_token_secret) reading secret name from store, with extra keys
// ("refresh_interval: 10s") appended.
func (s *Stores) Block(store, name, extra string) string {
	var secret string
	switch store {
	case KeyVault:
		secret = s.KeyVault.SecretURL(name, "")
	case SecretsManager:
		secret = name
	case SecretManager:
		secret = googleSecret(name)
	default:
		panic("fakestores: unknown store " + store)
	}
	b := fmt.Sprintf("{store: %s, secret: %q", store, secret)
	if store == SecretsManager {
		b += ", auth: {region: us-east-1}"
	}
	if extra != "" {
		b += ", " + extra
	}
	return b + "}"
}

// Reads counts the secret values store has served.
func (s *Stores) Reads(store string) int {
	switch store {
	case KeyVault:
		return s.KeyVault.Reads()
	case SecretsManager:
		return len(s.SecretsManager.Readers())
	case SecretManager:
		return len(s.SecretManager.Reads(GoogleAccount))
	}
	panic("fakestores: unknown store " + store)
}
