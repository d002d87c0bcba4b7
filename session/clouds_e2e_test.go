package session_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/copilotcli"
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
// endpoint is under a host name of that cloud too (*.openai.azure.us,
// *.openai.azure.cn), which the runtime resolves and dials itself: through
// the national runtime's proxy, verifying the fake's certificate.
func TestNationalAndPrivateCloudsEndToEnd(t *testing.T) {
	needRuntime(t)
	t.Parallel()
	nr := nationalRuntime(t)
	tests := []struct {
		name, host, modelHost, auth, wantAudience string
		user                                      bool // on_behalf_of: the session is a user's
	}{
		{
			name: "azure government, service principal", host: "login.microsoftonline.us", modelHost: "gov-agents.openai.azure.us",
			auth:         "{type: entra, cloud: AzureGovernment, credential: client_secret, tenant_id: contoso, client_id: agent-app, client_secret_env: AGENT_SECRET}",
			wantAudience: "https://cognitiveservices.azure.us",
		},
		{
			name: "azure china, on behalf of a user", host: "login.chinacloudapi.cn", modelHost: "cn-agents.openai.azure.cn", user: true,
			auth:         "{type: entra, cloud: AzureChina, credential: on_behalf_of, tenant_id: contoso, client_id: agent-app, client_secret_env: AGENT_SECRET}",
			wantAudience: "https://cognitiveservices.azure.cn",
		},
		{
			name: "private authority, on behalf of a user", host: "login.fake-private-cloud.test", modelHost: "models.fake-private-cloud.test", user: true,
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
			arrivals := nr.serve(t, model, tc.modelHost)
			cfg := writeConfig(t, fmt.Sprintf("providers:\n  foundry:\n    type: azure\n    base_url: https://%s\n    model: gpt-4.1\n    auth: %s\n", tc.modelHost, tc.auth))
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
			s, err := nr.rt.Client.CreateSession(ctx, sc)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Disconnect()
			if _, err := session.Reply(ctx, s, "hello"); err != nil {
				t.Fatalf("turn: %v (authority refused: %v; proxy refused: %v)", err, fe.Refused(), nr.proxy.Refused())
			}
			if n := refused.Load(); n != 0 || len(model.Requests()) == 0 {
				t.Errorf("model endpoint: %d requests, %d refused", len(model.Requests()), n)
			}
			nr.checkArrivals(t, tc.modelHost, arrivals())
		})
	}
}

// TestKeyVaultInANationalCloudEndToEnd reads a model key from a vault of
// Azure Government (NAME.vault.usgovcloudapi.net) with a service principal
// of that cloud, named by the store's auth block alone, and runs a turn
// with it through the real runtime: the real azsecrets follows the vault's
// challenge to the cloud's Key Vault resource, and the real azidentity signs
// in at the cloud's authority (both served under their real host names), and
// the runtime sends the key to a model endpoint of that cloud
// (*.openai.azure.us, through the national runtime's proxy).
func TestKeyVaultInANationalCloudEndToEnd(t *testing.T) {
	needRuntime(t)
	t.Parallel()
	nr := nationalRuntime(t)
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
	const modelHost = "gov-vault-key.openai.azure.us"
	arrivals := nr.serve(t, model, modelHost)
	cfg := writeConfig(t, fmt.Sprintf(`providers:
  gov:
    type: openai
    base_url: https://%s/openai/v1
    model: gpt-4.1
    auth:
      type: static
      api_key_secret:
        store: azure_key_vault
        secret: %s
        auth: {cloud: AzureGovernment, credential: client_secret, tenant_id: contoso, client_id: agent-app, client_secret_env: AGENT_SECRET}
`, modelHost, vault.SecretURL("model-key", "")))
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
	s, err := nr.rt.Client.CreateSession(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	if _, err := session.Reply(ctx, s, "hello"); err != nil {
		t.Fatalf("turn: %v (proxy refused: %v)", err, nr.proxy.Refused())
	}
	if vault.Reads() == 0 || len(model.Requests()) == 0 {
		t.Errorf("%d vault reads, %d model requests", vault.Reads(), len(model.Requests()))
	}
	nr.checkArrivals(t, modelHost, arrivals())
}

// national is the Copilot runtime of the national-cloud tests: a runtime of
// its own, so that the other tests keep the environment a user's runtime
// has. Its environment points it at a loopback forward proxy (HTTPS_PROXY,
// HTTP_PROXY) that tunnels the model host names the tests serve on net, and
// refuses every other name, and makes it trust net's test CA
// (NODE_EXTRA_CA_CERTS): the runtime resolves and dials a national model
// host (gov-agents.openai.azure.us) itself, and checks the fake's
// certificate for that name, as it would in that cloud. Loopback addresses
// (no_proxy) go direct. The first test that needs it starts it; TestMain
// closes it.
var national struct {
	once sync.Once
	err  error
	dir  string
	nr   *nationalRT
}

type nationalRT struct {
	rt    *copilotcli.Runtime
	net   *fakehosts.Network
	proxy *fakehosts.Proxy
}

func nationalRuntime(t *testing.T) *nationalRT {
	t.Helper()
	national.once.Do(func() {
		nr := &nationalRT{net: fakehosts.New()}
		nr.proxy = nr.net.StartProxy()
		national.nr = nr
		national.dir, national.err = os.MkdirTemp("", "byokcred-national-")
		if national.err != nil {
			return
		}
		ca, err := nr.net.WriteCA(national.dir)
		if err != nil {
			national.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		nr.rt, national.err = copilotcli.Start(ctx, copilotcli.Options{Env: proxiedEnv(os.Environ(), nr.proxy.URL, ca)})
	})
	if national.err != nil {
		t.Fatalf("national-cloud runtime: %v", national.err)
	}
	return national.nr
}

func closeNationalRuntime() {
	if national.nr == nil {
		return
	}
	if national.nr.rt != nil {
		national.nr.rt.Close()
	}
	national.nr.proxy.Close()
	if national.dir != "" {
		os.RemoveAll(national.dir)
	}
}

// proxiedEnv is environ with the proxy and CA variables replaced by ours:
// both spellings, since programs differ in which one wins.
func proxiedEnv(environ []string, proxyURL, caFile string) []string {
	var out []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToLower(name) {
		case "http_proxy", "https_proxy", "all_proxy", "no_proxy", "node_extra_ca_certs", "node_use_env_proxy":
			continue
		}
		out = append(out, kv)
	}
	for _, name := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
		out = append(out, name+"="+proxyURL)
	}
	return append(out, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost", "NODE_EXTRA_CA_CERTS="+caFile)
}

// serve serves model under host on the national network until the test
// ends, and returns what each request it received named: its Host header
// and the TLS server name the runtime asked for.
func (nr *nationalRT) serve(t *testing.T, model http.Handler, host string) func() []string {
	t.Helper()
	var mu sync.Mutex
	var got []string
	srv := nr.net.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Host+" (tls "+r.TLS.ServerName+")")
		mu.Unlock()
		model.ServeHTTP(w, r)
	}), host)
	t.Cleanup(srv.Close)
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
}

// checkArrivals checks that the model requests arrived at host, by name,
// through a tunnel of the proxy, and that the proxy refused nothing.
func (nr *nationalRT) checkArrivals(t *testing.T, host string, got []string) {
	t.Helper()
	want := make([]string, len(got))
	for i := range want {
		want[i] = host + " (tls " + host + ")"
	}
	if len(got) == 0 {
		t.Errorf("no request reached %s", host)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("model requests' host (-want +got):\n%s", diff)
	}
	if !slices.Contains(nr.proxy.Tunnels(), host+":443") {
		t.Errorf("the proxy opened no tunnel to %s:443; it opened %v", host, nr.proxy.Tunnels())
	}
	if r := nr.proxy.Refused(); len(r) != 0 {
		t.Errorf("the proxy refused %v: the runtime reached for hosts outside the test", r)
	}
}
