package proxy_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakeentra"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
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
	live := perUserLive(t, fe, model.URL)
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

// oboProxy is a per-user proxy in front of a fake Entra authority and a
// model that accepts only tokens the authority minted.
type oboProxy struct {
	fe    *fakeentra.Server
	live  *registry.Live
	model *fakemodel.Server
	*fixture
}

func startOBOProxy(t *testing.T, opts proxy.Options) *oboProxy {
	t.Helper()
	fe := fakeentra.Start(fakeentra.Options{TenantID: "contoso", ClientID: "proxy-app", ClientSecret: "proxy-app-secret"})
	t.Cleanup(fe.Close)
	model := startModel(t, fakemodel.Options{Reply: "ok", Check: func(r *fakemodel.Request) int {
		if _, err := fe.Check(bearerOf(*r), time.Now()); err != nil {
			return http.StatusUnauthorized
		}
		return 0
	}})
	live := perUserLive(t, fe, model.URL)
	return &oboProxy{fe: fe, live: live, model: model, fixture: startProxy(t, live, opts)}
}

func (o *oboProxy) stats(t *testing.T) registry.UserStats {
	t.Helper()
	p, err := o.live.Current().Provider("foundry")
	if err != nil {
		t.Fatal(err)
	}
	return p.UserStats()
}

// forgedToken is a JWT claiming user oid that the authority never issued.
func forgedToken(oid string) string {
	enc := base64.RawURLEncoding
	body, _ := json.Marshal(map[string]any{"oid": oid, "aud": "api://proxy-app", "exp": time.Now().Add(time.Hour).Unix(), "jti": rand.Text()})
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(body) + ".c2lnbmF0dXJl"
}

const chatBody = `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`

// TestPerUserProxyRefusedTokensHoldNoCache: junk bearer tokens the
// authority refuses get 401 and leave no cache behind (only a digest, so
// the same junk is refused without another exchange); a real user's cache
// survives them.
func TestPerUserProxyRefusedTokensHoldNoCache(t *testing.T) {
	o := startOBOProxy(t, proxy.Options{})
	real := o.fe.UserToken("real", time.Hour)
	if r := do(t, "POST", o.url+"/foundry/chat/completions", chatBody, map[string]string{"Authorization": "Bearer " + real}); r.Status != http.StatusOK {
		t.Fatalf("real user: %d %s", r.Status, r.Body)
	}
	junk := make([]string, 40)
	for i := range junk {
		junk[i] = forgedToken(fmt.Sprintf("junk-%02d", i))
	}
	for round := range 2 {
		for _, tok := range junk {
			if r := do(t, "POST", o.url+"/foundry/chat/completions", chatBody, map[string]string{"Authorization": "Bearer " + tok}); r.Status != http.StatusUnauthorized {
				t.Fatalf("round %d: junk token: %d %s, want 401", round, r.Status, r.Body)
			}
		}
	}
	st := o.stats(t)
	if diff := cmp.Diff(registry.UserStats{Users: 1, Refused: 40}, st, cmpopts.IgnoreFields(registry.UserStats{}, "Bytes")); diff != "" {
		t.Errorf("per-user caches after 40 junk tokens sent twice (-want +got):\n%s", diff)
	}
	if n := len(o.fe.Refused()); n != 40 {
		t.Errorf("the authority refused %d exchanges; want 40 (each junk token once)", n)
	}
	if r := do(t, "POST", o.url+"/foundry/chat/completions", chatBody, map[string]string{"Authorization": "Bearer " + real}); r.Status != http.StatusOK || o.fe.Requests("real") != 1 {
		t.Errorf("real user after the junk: %d, %d exchanges; want 200 from its cached token", r.Status, o.fe.Requests("real"))
	}
}

// TestPerUserProxyNewTokensRateLimited: a flood of new junk tokens ends in
// 429 with Retry-After and no exchange, while a user whose token is cached
// keeps being served.
func TestPerUserProxyNewTokensRateLimited(t *testing.T) {
	o := startOBOProxy(t, proxy.Options{})
	real := o.fe.UserToken("real", time.Hour)
	if r := do(t, "POST", o.url+"/foundry/chat/completions", chatBody, map[string]string{"Authorization": "Bearer " + real}); r.Status != http.StatusOK {
		t.Fatalf("real user: %d %s", r.Status, r.Body)
	}
	// Junk in concurrent batches, so that it outruns the bucket's refill
	// however slow each exchange is on a loaded machine.
	const batch, batches = 16, 100
	var limited response
	for i := 0; i < batches && limited.Status == 0; i++ {
		answers := make(chan response, batch)
		for range batch {
			go func() {
				answers <- do(t, "POST", o.url+"/foundry/chat/completions", chatBody, map[string]string{"Authorization": "Bearer " + forgedToken("junk")})
			}()
		}
		for range batch {
			switch r := <-answers; r.Status {
			case http.StatusUnauthorized:
			case http.StatusTooManyRequests:
				limited = r
			default:
				t.Fatalf("junk token: %d %s", r.Status, r.Body)
			}
		}
	}
	if limited.Status == 0 {
		t.Fatalf("no junk token was limited in %d", batch*batches)
	}
	refused := len(o.fe.Refused())
	if ra := limited.Header.Get("Retry-After"); ra == "" || ra == "0" || !strings.Contains(limited.Body, "too many new access tokens") {
		t.Errorf("limited answer: Retry-After %q, body %s", ra, limited.Body)
	}
	if r := do(t, "POST", o.url+"/foundry/chat/completions", chatBody, map[string]string{"Authorization": "Bearer " + real}); r.Status != http.StatusOK {
		t.Errorf("cached user while new tokens are limited: %d %s, want 200", r.Status, r.Body)
	}
	if st := o.stats(t); st.Limited == 0 || st.Users != 1 {
		t.Errorf("stats %+v: want the limited request counted and only the real user cached", st)
	}
	if n := len(o.fe.Refused()); n != refused {
		t.Errorf("the authority saw %d more exchanges after the limit", n-refused)
	}
}

// TestPerUserProxyClientTokenNeverAnAssertion: with a client token, a
// client that sends it as Authorization: Bearer gets 401 saying where each
// token goes, and the client token never reaches the identity provider.
func TestPerUserProxyClientTokenNeverAnAssertion(t *testing.T) {
	const client = "CLIENT-TOKEN-CANARY-0123456789abcdef"
	o := startOBOProxy(t, proxy.Options{ClientToken: credential.NewSecret(client)})
	user := o.fe.UserToken("alice", time.Hour)
	tests := []struct {
		name   string
		header map[string]string
		status int
		want   string
	}{
		{"client token as bearer only", map[string]string{"Authorization": "Bearer " + client}, http.StatusUnauthorized, "not the proxy's client token (send that as X-Byokcred-Token, api-key or x-api-key)"},
		{"client token as both", map[string]string{"Authorization": "Bearer " + client, proxy.ClientTokenHeader: client}, http.StatusUnauthorized, "not the proxy's client token"},
		{"padded bearer", map[string]string{"Authorization": "bearer   " + client + "  ", "X-Api-Key": client}, http.StatusUnauthorized, "not the proxy's client token"},
		{"client token and user token", map[string]string{"Authorization": "Bearer " + user, "Api-Key": client}, http.StatusOK, "ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "POST", o.url+"/foundry/chat/completions", chatBody, tc.header)
			if r.Status != tc.status || !strings.Contains(r.Body, tc.want) {
				t.Errorf("status %d body %s; want %d with %q", r.Status, r.Body, tc.status, tc.want)
			}
		})
	}
	if got := o.fe.Refused(); len(got) != 0 {
		t.Errorf("the authority was sent assertions it refused: %q", got)
	}
	if n := o.fe.Requests("alice"); n != 1 {
		t.Errorf("alice: %d exchanges, want 1", n)
	}
	if strings.Contains(o.logs.String(), client) {
		t.Error("the client token appears in the log")
	}
}

// TestPerUserProxyLogsNoUnverifiedUser: a forged token's claims are not
// presented as the user in the log: the line names the token's digest and
// what it claims.
func TestPerUserProxyLogsNoUnverifiedUser(t *testing.T) {
	o := startOBOProxy(t, proxy.Options{})
	forged := forgedToken("alice")
	if r := do(t, "POST", o.url+"/foundry/chat/completions", chatBody, map[string]string{"Authorization": "Bearer " + forged}); r.Status != http.StatusUnauthorized {
		t.Fatalf("forged token: %d %s", r.Status, r.Body)
	}
	logs := o.logs.String()
	want := "token " + credential.NewSecret(forged).Fingerprint() + " claiming user oid=alice"
	if !strings.Contains(logs, want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
	if all, claimed := strings.Count(logs, "user oid=alice"), strings.Count(logs, "claiming user oid=alice"); all != claimed {
		t.Errorf("the log names alice as the user %d times without saying it is a claim:\n%s", all-claimed, logs)
	}
	if strings.Contains(logs, forged) {
		t.Error("the forged token appears in the log")
	}
}

// perUserLive loads a config whose provider foundry (at modelURL) acts on
// behalf of the caller through fe, the proxy's application being
// proxy-app; it is closed when the test ends.
func perUserLive(t *testing.T, fe *fakeentra.Server, modelURL string) *registry.Live {
	t.Helper()
	path := filepath.Join(t.TempDir(), "byokcred.yaml")
	writeFile(t, path, fmt.Sprintf(`providers:
  foundry:
    type: openai
    base_url: %s
    model: gpt-4.1
    auth: {type: entra, credential: on_behalf_of, tenant_id: contoso, client_id: proxy-app, client_secret_env: PROXY_APP_SECRET, scope: "https://obo-proxy.example/.default"}
`, modelURL))
	live, err := registry.NewLive(path, registry.Options{PerUser: true, HTTPClient: fe.Client(), LookupEnv: func(k string) (string, bool) {
		if k == "PROXY_APP_SECRET" {
			return "proxy-app-secret", true
		}
		return os.LookupEnv(k)
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Close() })
	return live
}
