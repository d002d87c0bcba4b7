package entra_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

// TestDefaultChainHonoursAzureTokenCredentials: AZURE_TOKEN_CREDENTIALS
// selects the part of DefaultAzureCredential's chain that is tried, as
// Microsoft documents it, both for azidentity's own chain (no client_id)
// and for the chain byokcred builds for a provider's own identity — and
// doctor's walk of the chain shows exactly the links that are tried. With
// a managed identity endpoint and an `az` that both answer, which one's
// token comes back tells which links were tried.
func TestDefaultChainHonoursAzureTokenCredentials(t *testing.T) {
	tests := []struct {
		name      string
		env       string // AZURE_TOKEN_CREDENTIALS; "-" leaves it unset
		clientID  string
		wantFrom  string // "mi" or "az"
		wantLinks []string
	}{
		{name: "unset: the whole chain, managed identity first", env: "-", clientID: "c-1", wantFrom: "mi",
			wantLinks: []string{"EnvironmentCredential", "WorkloadIdentityCredential", "ManagedIdentityCredential*", "AzureCLICredential", "AzureDeveloperCLICredential", "AzurePowerShellCredential"}},
		{name: "dev with client_id", env: "dev", clientID: "c-2", wantFrom: "az",
			wantLinks: []string{"AzureCLICredential*", "AzureDeveloperCLICredential", "AzurePowerShellCredential"}},
		{name: "dev without client_id (azidentity's chain)", env: "dev", wantFrom: "az",
			wantLinks: []string{"AzureCLICredential*", "AzureDeveloperCLICredential", "AzurePowerShellCredential"}},
		{name: "ManagedIdentityCredential with client_id", env: "ManagedIdentityCredential", clientID: "c-3", wantFrom: "mi",
			wantLinks: []string{"ManagedIdentityCredential*"}},
		{name: "ManagedIdentityCredential without client_id", env: "ManagedIdentityCredential", wantFrom: "mi",
			wantLinks: []string{"ManagedIdentityCredential*"}},
		{name: "type names ignore case", env: "azureclicredential", clientID: "c-4", wantFrom: "az",
			wantLinks: []string{"AzureCLICredential*"}},
		{name: "prod", env: "prod", clientID: "c-5", wantFrom: "mi",
			wantLinks: []string{"EnvironmentCredential", "WorkloadIdentityCredential", "ManagedIdentityCredential*"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idp := startIdentity(t, fakeidentity.Options{})
			dir := t.TempDir()
			exp := time.Now().Add(time.Hour).Truncate(time.Second)
			azJWT := fakeidentity.MintJWT(map[string]any{"aud": "https://cognitiveservices.azure.com", "oid": "from-az", "exp": exp.Unix()})
			if _, err := fakeidentity.WriteFakeAz(dir, azJWT, exp); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
			if tc.env != "-" {
				t.Setenv("AZURE_TOKEN_CREDENTIALS", tc.env)
			}
			auth := "{type: entra, credential: default, scope: '" + uniqueScope() + "'"
			if tc.clientID != "" {
				auth += ", client_id: " + tc.clientID
			}
			path := configtest.Write(t, "providers:\n  p: {type: azure, base_url: https://r.openai.azure.com, model: m, auth: "+auth+"}}\n")
			set, err := registry.Load(path, registry.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			p, _ := set.Provider("p")
			tok, err := p.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			from := "mi"
			if tok.Value.Reveal() == azJWT {
				from = "az"
			}
			if from != tc.wantFrom {
				t.Errorf("token came from %s, want %s (identity endpoint saw %d requests)", from, tc.wantFrom, idp.Requests())
			}
			var links []string
			for _, l := range p.Auth.(kind.Diagnoser).Diagnose(context.Background()) {
				name := l.Name
				if l.Answered {
					name += "*"
				}
				links = append(links, name)
			}
			if diff := cmp.Diff(tc.wantLinks, links); diff != "" {
				t.Errorf("doctor's chain (-want +got; * answered):\n%s", diff)
			}
		})
	}
}

func TestDefaultChainRefusesAnUnknownSelection(t *testing.T) {
	startIdentity(t, fakeidentity.Options{})
	t.Setenv("AZURE_TOKEN_CREDENTIALS", "DEV") // "dev" and "prod" are case-sensitive in azidentity
	path := configtest.Write(t, "providers:\n  p: {type: azure, base_url: https://r.openai.azure.com, model: m, auth: {type: entra, client_id: c}}\n")
	_, err := registry.Load(path, registry.Options{})
	want := `invalid AZURE_TOKEN_CREDENTIALS value "DEV": want dev, prod or one of EnvironmentCredential, WorkloadIdentityCredential, ManagedIdentityCredential, AzureCLICredential, AzureDeveloperCLICredential, AzurePowerShellCredential`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %s", err, want)
	}
}
