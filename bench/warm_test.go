package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	copilot "github.com/github/copilot-sdk/go"
	"golang.org/x/oauth2"

	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakestores"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

const benchScope = "https://cognitiveservices.azure.com/.default"

// BenchmarkWarmToken is figure 1: the call the Copilot runtime makes before
// every model request, with a warm cache, on all cores at once.
//
//   - byokcred-callback: session.Factory.Callback over an Entra provider
//     (managed identity against the loopback fake identity endpoint), whose
//     source is a credential.Cache.
//   - azidentity-GetToken: the same azidentity ManagedIdentityCredential
//     asked directly, answered from its own (MSAL) cache.
//   - oauth2-ReuseTokenSource: x/oauth2's caching wrapper around a source
//     that holds a one-hour token.
//   - byokcred-callback-gcp: the same callback over a Vertex AI provider
//     (auth.type gcp, metadata-server credentials against the loopback
//     fakegcp): the same credential.Cache, whatever the cloud.
//   - byokcred-callback-aws: the same callback over an aws (Bedrock)
//     provider, container credentials from the loopback fake: the same cache,
//     so the same cost whatever the credential kind.
//   - byokcred-callback-keyvault: the same callback over an openai provider
//     whose API key is read from Key Vault (api_key_secret): the store is
//     read on the cache's schedule, never on the request path.
func BenchmarkWarmToken(b *testing.B) {
	idp, err := fakeidentity.Start(fakeidentity.Options{Lifetime: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer idp.Close()
	setEnv(b, idp.Env())

	b.Run("byokcred-callback", func(b *testing.B) {
		set := loadSet(b, fmt.Sprintf(`providers:
  foundry:
    type: azure
    base_url: http://127.0.0.1:9
    model: gpt-4.1
    auth: {type: entra, credential: managed_identity, scope: %s}
`, benchScope), registry.Options{})
		runCallback(b, warmCallback(b, set, "foundry"), "foundry")
	})

	b.Run("byokcred-callback-gcp", func(b *testing.B) {
		md, err := fakegcp.Start(fakegcp.Options{Lifetime: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		defer md.Close()
		setEnv(b, md.Env())
		setEnv(b, map[string]string{"HOME": b.TempDir(), "GOOGLE_APPLICATION_CREDENTIALS": ""})
		set := loadSet(b, `providers:
  vertex:
    type: openai
    base_url: http://127.0.0.1:9/v1/projects/byok-test-project/locations/us-central1/endpoints/openapi
    model: google/gemini-2.5-flash
    auth: {type: gcp}
`, registry.Options{})
		cb := warmCallback(b, set, "vertex")
		before := md.Requests("metadata-token")
		runCallback(b, cb, "vertex")
		b.StopTimer()
		if n := md.Requests("metadata-token") - before; n != 0 {
			b.Fatalf("the warm path went to the metadata server %d times", n)
		}
	})

	b.Run("byokcred-callback-aws", func(b *testing.B) {
		creds, err := fakeaws.Start(fakeaws.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer creds.Close()
		creds.Setenv(b)
		set := loadSet(b, `providers:
  bedrock:
    type: openai
    base_url: http://127.0.0.1:9/openai/v1
    model: openai.gpt-oss-120b-1:0
    auth: {type: aws, region: us-east-1}
`, registry.Options{})
		runCallback(b, warmCallback(b, set, "bedrock"), "bedrock")
		b.StopTimer()
		if n := creds.ContainerRequests(); n != 1 {
			b.Fatalf("%d container-credential requests, want 1: the cache was not warm", n)
		}
	})

	b.Run("byokcred-callback-keyvault", func(b *testing.B) {
		st := fakestores.Start(b)
		st.Put(fakestores.KeyVault, "openai-key", "sk-bench-keyvault-0123456789")
		set := loadSet(b, fmt.Sprintf(`providers:
  openai:
    type: openai
    base_url: http://127.0.0.1:9/v1
    model: gpt-4.1
    auth: {type: static, api_key_secret: %s}
`, st.Block(fakestores.KeyVault, "openai-key", "")), registry.Options{HTTPClient: st.Client()})
		runCallback(b, warmCallback(b, set, "openai"), "openai")
		b.StopTimer()
		if n := st.Reads(fakestores.KeyVault); n != 1 {
			b.Fatalf("the vault was read %d times, want 1: the warm path went to the store", n)
		}
	})

	b.Run("azidentity-GetToken", func(b *testing.B) {
		cred, err := azidentity.NewManagedIdentityCredential(nil)
		if err != nil {
			b.Fatal(err)
		}
		opts := policy.TokenRequestOptions{Scopes: []string{benchScope}}
		ctx := context.Background()
		if _, err := cred.GetToken(ctx, opts); err != nil { // warm its cache
			b.Fatal(err)
		}
		before := idp.Requests()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if tk, err := cred.GetToken(ctx, opts); err != nil || tk.Token == "" {
					b.Errorf("GetToken: %v", err)
					return
				}
			}
		})
		b.StopTimer()
		if n := idp.Requests() - before; n != 0 {
			b.Fatalf("azidentity went to the identity endpoint %d times: its cache was not warm", n)
		}
	})

	b.Run("oauth2-ReuseTokenSource", func(b *testing.B) {
		ts := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{
			AccessToken: fakeidentity.MintJWT(map[string]any{"aud": benchScope}),
			TokenType:   "Bearer",
			Expiry:      time.Now().Add(time.Hour),
		}))
		if _, err := ts.Token(); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if tok, err := ts.Token(); err != nil || tok.AccessToken == "" {
					b.Errorf("Token: %v", err)
					return
				}
			}
		})
	})
}

// warmCallback returns the named provider's SDK callback with its cache
// warmed by one call.
func warmCallback(b *testing.B, set *registry.Set, name string) copilot.BearerTokenProvider {
	b.Helper()
	cb := session.NewFactory(set, session.Options{}).Callback(name)
	if tok, err := cb(copilot.ProviderTokenArgs{ProviderName: name}); err != nil || tok == "" {
		b.Fatalf("warming: %q, %v", tok, err)
	}
	return cb
}

// runCallback measures cb the way the runtime calls it: before every model
// request, from every core at once.
func runCallback(b *testing.B, cb copilot.BearerTokenProvider, name string) {
	args := copilot.ProviderTokenArgs{ProviderName: name}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if tok, err := cb(args); err != nil || tok == "" {
				b.Errorf("callback: %q, %v", tok, err)
				return
			}
		}
	})
}
