package entra

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeentra"
	"github.com/byokcred/byokcred/registry"
)

func TestOBOValidation(t *testing.T) {
	tests := []struct {
		name string
		auth string
		want []string
	}{
		{name: "client secret", auth: "{type: entra, credential: on_behalf_of, tenant_id: t, client_id: c, client_secret_env: S}"},
		{name: "workload identity assertion", auth: "{type: entra, credential: on_behalf_of, tenant_id: t, client_id: c, client_assertion: workload_identity, token_file: /var/run/t}"},
		{name: "no application credential", auth: "{type: entra, credential: on_behalf_of, tenant_id: t, client_id: c}", want: []string{
			"providers.p.auth: credential on_behalf_of needs the application's own credential: client_secret_env, client_secret_file, certificate_file or client_assertion",
		}},
		{name: "two application credentials", auth: "{type: entra, credential: on_behalf_of, tenant_id: t, client_id: c, client_secret_env: S, client_assertion: managed_identity}", want: []string{
			"providers.p.auth: credential on_behalf_of takes one application credential: a client secret, certificate_file or client_assertion",
		}},
		{name: "ids missing", auth: "{type: entra, credential: on_behalf_of, client_assertion: managed_identity}", want: []string{
			"providers.p.auth: credential on_behalf_of needs tenant_id",
			"providers.p.auth: credential on_behalf_of needs client_id (the application id)",
		}},
		{name: "unknown assertion", auth: "{type: entra, credential: on_behalf_of, tenant_id: t, client_id: c, client_assertion: github}", want: []string{
			`providers.p.auth.client_assertion: unknown client_assertion "github" (one of: managed_identity, workload_identity)`,
		}},
		{name: "token file with managed identity", auth: "{type: entra, credential: on_behalf_of, tenant_id: t, client_id: c, client_assertion: managed_identity, token_file: /x}", want: []string{
			"providers.p.auth.token_file: token_file applies to client_assertion workload_identity",
		}},
		{name: "assertion keys on another credential", auth: "{type: entra, credential: client_secret, tenant_id: t, client_id: c, client_secret_env: S, client_assertion: managed_identity}", want: []string{
			"providers.p.auth.client_assertion: client_assertion does not apply to credential client_secret (it takes: client_id, tenant_id, client_secret_env, client_secret_file)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := configtest.Write(t, "providers:\n  p:\n    type: azure\n    base_url: https://r.openai.azure.com\n    model: m\n    auth: "+tc.auth+"\n")
			set, err := registry.Load(path, registry.Options{PerUser: true, LookupEnv: func(string) (string, bool) { return "s", true }})
			var got []string
			if err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					_, msg, _ := strings.Cut(line, ": ")
					got = append(got, msg)
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

func TestOBORefusedWithoutUsers(t *testing.T) {
	path := configtest.Write(t, "providers:\n  p:\n    type: azure\n    base_url: https://r.openai.azure.com\n    model: m\n    auth: {type: entra, credential: on_behalf_of, tenant_id: t, client_id: c, client_secret_env: S}\n")
	_, err := registry.Load(path, registry.Options{LookupEnv: func(string) (string, bool) { return "s", true }})
	if err == nil || !strings.Contains(err.Error(), "providers.p.auth: this credential acts on behalf of each user") {
		t.Fatalf("err = %v", err)
	}
}

type userToken string

func (u userToken) Token(context.Context) (*credential.Token, error) {
	return &credential.Token{Value: credential.NewSecret(string(u)), Kind: credential.KindBearer}, nil
}

// oboProvider loads auth for provider p, its credentials reaching the fake
// authority fe through the injected HTTP client.
func oboProvider(t *testing.T, fe *fakeentra.Server, auth string, env map[string]string) *registry.Provider {
	t.Helper()
	path := configtest.Write(t, "providers:\n  p:\n    type: azure\n    base_url: https://r.openai.azure.com\n    model: m\n    auth: "+auth+"\n")
	set, err := registry.Load(path, registry.Options{PerUser: true, HTTPClient: fe.Client(), LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	p, err := set.Provider("p")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOBOThroughAzidentity drives the real azidentity OnBehalfOfCredential
// against the fake authority, with each kind of application credential.
func TestOBOThroughAzidentity(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "federated")
	os.WriteFile(tokenFile, []byte("federated-assertion\n"), 0o600)
	tests := []struct {
		name, auth string
	}{
		{"client secret", "{type: entra, credential: on_behalf_of, tenant_id: tenant1, client_id: app1, client_secret_env: APP_SECRET, scope: 'https://obo1.example/.default'}"},
		{"workload identity assertion", "{type: entra, credential: on_behalf_of, tenant_id: tenant1, client_id: app1, client_assertion: workload_identity, token_file: " + tokenFile + ", scope: 'https://obo2.example/.default'}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fe := fakeentra.Start(fakeentra.Options{TenantID: "tenant1", ClientID: "app1", ClientSecret: "app-secret", ClientAssertions: []string{"federated-assertion"}})
			defer fe.Close()
			p := oboProvider(t, fe, tc.auth, map[string]string{"APP_SECRET": "app-secret"})
			users := []string{"alice", "bob"}
			var wg sync.WaitGroup
			got := make([][]string, len(users))
			for i, oid := range users {
				ut := userToken(fe.UserToken(oid, time.Hour))
				for range 3 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						us, err := p.ForUser(ut)
						if err != nil {
							t.Error(err)
							return
						}
						for range 5 {
							tok, err := us.Token(context.Background())
							if err != nil {
								t.Error(err)
								return
							}
							who, err := fe.Check(tok.Value.Reveal(), time.Now())
							if err != nil {
								t.Error(err)
								return
							}
							if who != oid {
								t.Errorf("%s's session got a token for %s", oid, who)
							}
						}
					}()
				}
				got[i] = []string{oid}
			}
			wg.Wait()
			for _, oid := range users {
				if n := fe.Requests(oid); n != 1 {
					t.Errorf("%s: %d OBO requests for 15 token calls, want 1", oid, n)
				}
			}
			if r := fe.Refused(); len(r) != 0 {
				t.Errorf("refused: %v", r)
			}
		})
	}
}

func TestOBOFailuresNameTheUser(t *testing.T) {
	fe := fakeentra.Start(fakeentra.Options{TenantID: "tenant1", ClientID: "app1", ClientSecret: "app-secret"})
	defer fe.Close()
	p := oboProvider(t, fe, "{type: entra, credential: on_behalf_of, tenant_id: tenant1, client_id: app1, client_secret_env: APP_SECRET, scope: 'https://obo3.example/.default'}", map[string]string{"APP_SECRET": "app-secret"})
	revoked := fe.UserToken("mallory", time.Hour)
	fe.Revoke("mallory")
	tests := []struct {
		name string
		user string
		want []string
	}{
		{"revoked", revoked, []string{"provider p", "user oid=mallory", "invalid_grant", "AADSTS50173", "the user's token was not accepted"}},
		{"expired", fe.UserToken("eve", -time.Second), []string{"provider p", "user oid=eve", "expired at", "must hand in a fresh one"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			us, _ := p.ForUser(userToken(tc.user))
			_, err := us.Token(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, registry.ErrUserRejected) {
				t.Errorf("error does not wrap registry.ErrUserRejected: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			sig := tc.user[strings.LastIndex(tc.user, ".")+1:]
			if strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), "app-secret") {
				t.Errorf("error shows a secret:\n%v", err)
			}
		})
	}
}

// TestKubernetesManifestConfigLoads keeps deploy/kubernetes's config valid:
// the ConfigMap's byokcred.yaml loads for a per-user program with the
// variables the workload identity webhook injects.
func TestKubernetesManifestConfigLoads(t *testing.T) {
	data, err := os.ReadFile("../../deploy/kubernetes/byokcred-proxy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg string
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var doc struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if doc.Kind == "ConfigMap" {
			cfg = doc.Data["byokcred.yaml"]
		}
	}
	if cfg == "" {
		t.Fatal("no ConfigMap with byokcred.yaml in the manifest")
	}
	tokenFile := filepath.Join(t.TempDir(), "azure-identity-token")
	os.WriteFile(tokenFile, []byte("federated"), 0o600)
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", tokenFile)
	env := map[string]string{"AZURE_TENANT_ID": "tenant", "AZURE_CLIENT_ID": "client"}
	set, err := registry.Load(configtest.Write(t, cfg), registry.Options{PerUser: true, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	p, err := set.Provider("foundry")
	if err != nil || !p.IsPerUser() {
		t.Fatalf("provider foundry: %v, per-user %v", err, err == nil && p.IsPerUser())
	}
}
