package session_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakeentra"
	"github.com/byokcred/byokcred/internal/testkit/fakehosts"
	"github.com/byokcred/byokcred/internal/testkit/fakekeyvault"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// TestNationalAndPrivateCloudsEndToEnd runs a turn through the real Copilot
// runtime for an Azure Government-shaped, an Azure China-shaped and a
// private-cloud config, with the real azidentity signing in to a fake
// authority served under that cloud's real host name (resolved to loopback
// by the test's HTTP client): only the config's cloud key tells byokcred
// where to sign in and which scope to ask for, and the model endpoint
// accepts only a token minted for that cloud's Cognitive Services. The model
// endpoint itself is on loopback: the runtime, not byokcred, reaches it.
func TestNationalAndPrivateCloudsEndToEnd(t *testing.T) {
	needRuntime(t)
	t.Parallel()
	tests := []struct {
		name, host, auth, wantAudience string
		user                           bool // on_behalf_of: the session is a user's
	}{
		{
			name: "azure government, service principal", host: "login.microsoftonline.us",
			auth:         "{type: entra, cloud: AzureGovernment, credential: client_secret, tenant_id: contoso, client_id: agent-app, client_secret_env: AGENT_SECRET}",
			wantAudience: "https://cognitiveservices.azure.us",
		},
		{
			name: "azure china, on behalf of a user", host: "login.chinacloudapi.cn", user: true,
			auth:         "{type: entra, cloud: AzureChina, credential: on_behalf_of, tenant_id: contoso, client_id: agent-app, client_secret_env: AGENT_SECRET}",
			wantAudience: "https://cognitiveservices.azure.cn",
		},
		{
			name: "private authority, on behalf of a user", host: "login.fake-private-cloud.test", user: true,
			auth:         "{type: entra, cloud: {authority_host: 'https://login.fake-private-cloud.test/', instance_discovery: false}, credential: on_behalf_of, tenant_id: contoso, client_id: agent-app, client_secret_env: AGENT_SECRET, scope: 'https://ai.fake-private-cloud.test/.default'}",
			wantAudience: "https://ai.fake-private-cloud.test",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fe := fakeentra.Start(fakeentra.Options{Host: tc.host, TenantID: "contoso", ClientID: "agent-app", ClientSecret: "agent-secret"})
			defer fe.Close()
			var refused atomic.Int64
			model, err := fakemodel.Start(fakemodel.Options{Reply: "ok", Check: func(r *fakemodel.Request) int {
				_, tok := r.Credential()
				if _, err := fe.Check(tok, time.Now()); err != nil || fe.Audience(tok) != tc.wantAudience {
					refused.Add(1)
					t.Logf("model endpoint refused a token for %q: %v", fe.Audience(tok), err)
					return http.StatusUnauthorized
				}
				return 0
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer model.Close()
			cfg := writeConfig(t, fmt.Sprintf("providers:\n  foundry:\n    type: azure\n    base_url: %s\n    model: gpt-4.1\n    auth: %s\n", model.URL, tc.auth))
			set, err := registry.Load(cfg, registry.Options{PerUser: tc.user, HTTPClient: fe.Client(), LookupEnv: envMap(map[string]string{"AGENT_SECRET": "agent-secret"})})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			f := session.NewFactory(set, session.Options{})
			sc, err := f.SessionConfig(ctx, "foundry", session.ToolFree())
			if tc.user {
				ut := &credential.Token{Value: credential.NewSecret(fe.UserToken("alice", time.Hour)), Kind: credential.KindBearer}
				sc, err = f.SessionConfigFor(ctx, "foundry", appUser{ut}, session.ToolFree())
			}
			if err != nil {
				t.Fatal(err)
			}
			s, err := rt.Client.CreateSession(ctx, sc)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Disconnect()
			if _, err := session.Reply(ctx, s, "hello"); err != nil {
				t.Fatalf("turn: %v (authority refused: %v)", err, fe.Refused())
			}
			if n := refused.Load(); n != 0 || len(model.Requests()) == 0 {
				t.Errorf("model endpoint: %d requests, %d refused", len(model.Requests()), n)
			}
		})
	}
}

// TestKeyVaultInANationalCloudEndToEnd reads a model key from a vault of
// Azure Government (NAME.vault.usgovcloudapi.net) with a service principal
// of that cloud, named by the store's auth block alone, and runs a turn
// with it through the real runtime: the real azsecrets follows the vault's
// challenge to the cloud's Key Vault resource, and the real azidentity signs
// in at the cloud's authority (both served under their real host names).
func TestKeyVaultInANationalCloudEndToEnd(t *testing.T) {
	needRuntime(t)
	t.Parallel()
	const key = "sk-CANARY-usgov-vault-7d1f"
	n := fakehosts.New()
	fe := fakeentra.Start(fakeentra.Options{Host: "login.microsoftonline.us", TenantID: "contoso", ClientID: "agent-app", ClientSecret: "agent-secret", Network: n})
	defer fe.Close()
	vault := fakekeyvault.Start(fakekeyvault.Options{Suffix: "vault.usgovcloudapi.net", TenantID: "contoso", Network: n, Check: func(tok string) (string, error) {
		oid, err := fe.Check(tok, time.Now())
		if err == nil && fe.Audience(tok) != "https://vault.usgovcloudapi.net" {
			err = fmt.Errorf("token for %s, not for the vault", fe.Audience(tok))
		}
		return oid, err
	}})
	defer vault.Close()
	vault.Set("model-key", key)
	model, err := fakemodel.Start(fakemodel.Options{Reply: "ok", Check: func(r *fakemodel.Request) int {
		if _, got := r.Credential(); got != key {
			return http.StatusUnauthorized
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	cfg := writeConfig(t, fmt.Sprintf(`providers:
  gov:
    type: openai
    base_url: %s/v1
    model: gpt-4.1
    auth:
      type: static
      api_key_secret:
        store: azure_key_vault
        secret: %s
        auth: {cloud: AzureGovernment, credential: client_secret, tenant_id: contoso, client_id: agent-app, client_secret_env: AGENT_SECRET}
`, model.URL, vault.SecretURL("model-key", "")))
	set, err := registry.Load(cfg, registry.Options{HTTPClient: n.Client(), LookupEnv: envMap(map[string]string{"AGENT_SECRET": "agent-secret"})})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sc, err := session.NewFactory(set, session.Options{}).SessionConfig(ctx, "gov", session.ToolFree())
	if err != nil {
		t.Fatalf("%v (vault refused: %v; authority refused: %v)", err, vault.Rejected(), fe.Refused())
	}
	s, err := rt.Client.CreateSession(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	if _, err := session.Reply(ctx, s, "hello"); err != nil {
		t.Fatalf("turn: %v", err)
	}
	if vault.Reads() == 0 || len(model.Requests()) == 0 {
		t.Errorf("%d vault reads, %d model requests", vault.Reads(), len(model.Requests()))
	}
}
