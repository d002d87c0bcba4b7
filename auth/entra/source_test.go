package entra_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/auth/entra"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
)

// scopeSeq gives each test its own scope: azidentity's managed identity
// cache is shared by the whole process and keyed by resource.
var scopeSeq atomic.Int64

func uniqueScope() string {
	return fmt.Sprintf("https://test%d.cognitiveservices.example/.default", scopeSeq.Add(1))
}

func startIdentity(t *testing.T, opts fakeidentity.Options) *fakeidentity.Server {
	t.Helper()
	s, err := fakeidentity.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Setenv(t)
	// Keep azidentity's other links quiet and local.
	for _, k := range []string{"AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_TOKEN_CREDENTIALS", "MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return s
}

func TestEntraManagedIdentity(t *testing.T) {
	tests := []struct {
		name         string
		newCred      func() (azcore.TokenCredential, error)
		wantClientID string
	}{
		{
			name:    "managed_identity system-assigned",
			newCred: func() (azcore.TokenCredential, error) { return azidentity.NewManagedIdentityCredential(nil) },
		},
		{
			name: "managed_identity user-assigned client_id",
			newCred: func() (azcore.TokenCredential, error) {
				return azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID("11111111-2222-3333-4444-555555555555")})
			},
			wantClientID: "11111111-2222-3333-4444-555555555555",
		},
		{
			name: "default credential finds the managed identity",
			newCred: func() (azcore.TokenCredential, error) {
				return azidentity.NewDefaultAzureCredential(nil)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idp := startIdentity(t, fakeidentity.Options{Lifetime: time.Hour})
			cred, err := tc.newCred()
			if err != nil {
				t.Fatal(err)
			}
			scope := uniqueScope()
			src, err := entra.NewSource(entra.SourceOptions{Credential: cred, CredentialKind: "managed_identity", Scope: scope})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := src.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			issued := idp.Issued()
			if len(issued) != 1 {
				t.Fatalf("identity endpoint minted %d tokens, want 1", len(issued))
			}
			is := issued[0]
			got := []string{tok.Value.Reveal(), tok.Kind.String(), tok.Expiry.UTC().Format(time.RFC3339), is.Resource, is.ClientID}
			want := []string{is.Token, "bearer", is.Expiry.UTC().Format(time.RFC3339), strings.TrimSuffix(scope, "/.default"), tc.wantClientID}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			claims, ok := credential.ParseClaims(tok.Value)
			if !ok || claims.Audience != is.Resource || claims.TenantID == "" || !claims.Expiry.Equal(is.Expiry.UTC()) {
				t.Errorf("claims = %+v, %v", claims, ok)
			}
		})
	}
}

func TestEntraForcedRefreshBypassesAzidentityCache(t *testing.T) {
	idp := startIdentity(t, fakeidentity.Options{Lifetime: time.Hour})
	cred, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := credential.NewCache(mustEntra(t, cred, uniqueScope()), credential.CacheOptions{Name: "foundry"})
	first, err := cache.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cache.Invalidate(first) // the endpoint said 401
	second, err := cache.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if first.Value.Equal(second.Value) {
		t.Error("after invalidation the cache served the same token: azidentity's cache was not bypassed")
	}
	if n := idp.Requests(); n != 2 {
		t.Errorf("identity requests = %d, want 2", n)
	}
}

func mustEntra(t *testing.T, cred azcore.TokenCredential, scope string) *entra.Source {
	t.Helper()
	src, err := entra.NewSource(entra.SourceOptions{Credential: cred, CredentialKind: "managed_identity", Scope: scope})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestEntraErrorsNameTheCredentialAndScope(t *testing.T) {
	startIdentity(t, fakeidentity.Options{Fault: func(int) int { return 400 }})
	cred, err := azidentity.NewManagedIdentityCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	scope := uniqueScope()
	_, err = mustEntra(t, cred, scope).Token(context.Background())
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"entra: managed_identity credential, scope " + scope, "ManagedIdentityCredential"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestEntraAzureCLI(t *testing.T) {
	dir := t.TempDir()
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	jwt := fakeidentity.MintJWT(map[string]any{"aud": "https://cognitiveservices.azure.com", "tid": "t-1", "oid": "o-1", "exp": exp.Unix()})
	if _, err := fakeidentity.WriteFakeAz(dir, jwt, exp); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	cred, err := azidentity.NewAzureCLICredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := entra.NewSource(entra.SourceOptions{Credential: cred, CredentialKind: "azure_cli"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Value.Reveal() != jwt || !tok.Expiry.Equal(exp) {
		t.Errorf("token expiry %v (want %v), value match %v", tok.Expiry, exp, tok.Value.Reveal() == jwt)
	}
	args := fakeidentity.AzArgs(dir)
	if len(args) != 1 || !strings.Contains(args[0], "account get-access-token") || !strings.Contains(args[0], "--resource https://cognitiveservices.azure.com") {
		t.Errorf("az was called with %q", args)
	}
}
