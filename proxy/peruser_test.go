package proxy_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/fakeentra"
	"github.com/byokcred/byokcred/internal/fakemodel"
	"github.com/byokcred/byokcred/proxy"
	"github.com/byokcred/byokcred/registry"
)

// TestPerUserProxy: each client's own bearer token is exchanged on behalf of
// its user, the upstream sees only the exchanged token, two clients at once
// never get each other's, and a missing, malformed or rejected user token
// gets 401 with a plain message.
func TestPerUserProxy(t *testing.T) {
	fe := fakeentra.Start(fakeentra.Options{TenantID: "contoso", ClientID: "proxy-app", ClientSecret: "proxy-app-secret"})
	defer fe.Close()
	fe.Hook(t)
	var mu sync.Mutex
	seen := map[string]int{} // user oid -> upstream requests
	var wrong int
	model := startModel(t, fakemodel.Options{Reply: "ok", Check: func(r *fakemodel.Request) int {
		oid, err := fe.Check(bearerOf(*r), time.Now())
		mu.Lock()
		defer mu.Unlock()
		if err != nil || oid != r.Header.Get("X-Test-User") {
			wrong++
			return http.StatusUnauthorized
		}
		seen[oid]++
		return 0
	}})
	path := filepath.Join(t.TempDir(), "byokcred.yaml")
	writeFile(t, path, fmt.Sprintf(`providers:
  foundry:
    type: openai
    base_url: %s
    model: gpt-4.1
    auth: {type: entra, credential: on_behalf_of, tenant_id: contoso, client_id: proxy-app, client_secret_env: PROXY_APP_SECRET, scope: "https://obo-proxy.example/.default"}
`, model.URL))
	live, err := registry.NewLive(path, registry.Options{PerUser: true, LookupEnv: func(k string) (string, bool) {
		if k == "PROXY_APP_SECRET" {
			return "proxy-app-secret", true
		}
		return os.LookupEnv(k)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	f := startProxy(t, live, proxy.Options{})
	users := map[string]string{"alice": fe.UserToken("alice", time.Hour), "bob": fe.UserToken("bob", time.Hour)}
	body := `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`
	var wg sync.WaitGroup
	for oid, tok := range users {
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp := do(t, "POST", f.url+"/foundry/chat/completions", body, map[string]string{"Authorization": "Bearer " + tok, "X-Test-User": oid})
				if resp.Status != http.StatusOK {
					t.Errorf("%s: status %d: %s", oid, resp.Status, resp.Body)
				}
			}()
		}
	}
	wg.Wait()
	mu.Lock()
	if wrong != 0 || seen["alice"] != 10 || seen["bob"] != 10 {
		t.Errorf("upstream saw %v and %d requests with a token not minted for their user", seen, wrong)
	}
	mu.Unlock()
	for _, r := range model.Requests() {
		for oid, tok := range users {
			if strings.Contains(fmt.Sprint(r.Header), tok) {
				t.Errorf("%s's own token was forwarded upstream", oid)
			}
		}
	}
	for oid := range users {
		if n := fe.Requests(oid); n != 1 {
			t.Errorf("%s: %d OBO exchanges for 10 requests, want 1", oid, n)
		}
	}

	fe.Revoke("mallory")
	mallory := fe.UserToken("mallory", time.Hour)
	fe.Revoke("mallory")
	tests := []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"missing", nil, "provider foundry acts on behalf of the caller: send your access token for this proxy's application as Authorization: Bearer"},
		{"malformed", map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, "provider foundry acts on behalf of the caller"},
		{"two tokens", map[string]string{"Authorization": "Bearer a b"}, "provider foundry acts on behalf of the caller"},
		{"revoked", map[string]string{"Authorization": "Bearer " + mallory}, "provider foundry: your access token was not accepted (expired, revoked or not issued for this proxy's application); sign in again"},
		{"expired", map[string]string{"Authorization": "Bearer " + fe.UserToken("eve", -time.Minute)}, "your access token was not accepted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, "POST", f.url+"/foundry/chat/completions", body, tc.header)
			if resp.Status != http.StatusUnauthorized || !strings.Contains(resp.Body, tc.want) {
				t.Errorf("status %d body %q; want 401 with %q", resp.Status, resp.Body, tc.want)
			}
			if v := tc.header["Authorization"]; v != "" && (strings.Contains(resp.Body, strings.TrimPrefix(v, "Bearer ")) || strings.Contains(f.logs.String(), strings.TrimPrefix(v, "Bearer "))) {
				t.Error("the user's token appears in the answer or the log")
			}
		})
	}
}
