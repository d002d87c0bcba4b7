package session_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	copilot "github.com/github/copilot-sdk/go"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakeentra"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// appUser is the application's own source of one user's access token (in a
// web app: the token from the user's request or session).
type appUser struct{ tok *credential.Token }

func (u appUser) Token(context.Context) (*credential.Token, error) { return u.tok, nil }

// TestOnBehalfOfTwoUsersEndToEnd runs two users' sessions at once through
// the real Copilot runtime, the real azidentity and a fake Entra authority:
// every model request must carry a token minted for its own session's user.
// Then bob's token expires (the registry's clock moves on): bob's next turn
// fails with an error naming bob, and alice's keep going.
func TestOnBehalfOfTwoUsersEndToEnd(t *testing.T) {
	t.Parallel()
	needRuntime(t)
	fe := fakeentra.Start(fakeentra.Options{TenantID: "contoso", ClientID: "agent-app", ClientSecret: "agent-secret"})
	defer fe.Close()
	var mu sync.Mutex
	var skew time.Duration
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	var crossed, refused int
	model, err := fakemodel.Start(fakemodel.Options{Reply: "ok", Check: func(r *fakemodel.Request) int {
		_, tok := r.Credential()
		oid, err := fe.Check(tok, time.Now())
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			refused++
			return http.StatusUnauthorized
		}
		if want := r.Header.Get("X-Test-User"); oid != want {
			crossed++
			return http.StatusForbidden
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	cfgPath := writeConfig(t, fmt.Sprintf(`providers:
  foundry:
    type: azure
    base_url: %s
    wire_api: responses
    model: gpt-4.1
    auth:
      type: entra
      credential: on_behalf_of
      tenant_id: contoso
      client_id: agent-app
      client_secret_env: AGENT_SECRET
      scope: https://obo-e2e.cognitiveservices.example/.default
`, model.URL))
	set, err := registry.Load(cfgPath, registry.Options{PerUser: true, HTTPClient: fe.Client(), Now: clock, LookupEnv: envMap(map[string]string{"AGENT_SECRET": "agent-secret"})})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	f := session.NewFactory(set, session.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if _, err := f.SessionConfig(ctx, "foundry", session.ToolFree()); err == nil || !strings.Contains(err.Error(), "acts on behalf of a user") {
		t.Errorf("a session without a user: err = %v, want a refusal", err)
	}
	lives := map[string]time.Duration{"alice": time.Hour, "bob": time.Minute}
	userTokens := map[string]string{}
	sessions := map[string]*copilot.Session{}
	for _, oid := range []string{"alice", "bob"} {
		userTokens[oid] = fe.UserToken(oid, lives[oid])
		ut := &credential.Token{Value: credential.NewSecret(userTokens[oid]), Kind: credential.KindBearer}
		cfg, err := f.SessionConfigFor(ctx, "foundry", appUser{ut}, session.ToolFree())
		if err != nil {
			t.Fatal(err)
		}
		// Lets the model endpoint tell the sessions apart.
		cfg.Provider.Headers = map[string]string{"X-Test-User": oid}
		s, err := rt.Client.CreateSession(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Disconnect()
		sessions[oid] = s
	}
	turn := func(oids ...string) map[string]error {
		var wg sync.WaitGroup
		errs := make([]error, len(oids))
		for i, oid := range oids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = session.Reply(ctx, sessions[oid], "hello from "+oid)
			}()
		}
		wg.Wait()
		out := map[string]error{}
		for i, oid := range oids {
			out[oid] = errs[i]
		}
		return out
	}
	for oid, err := range turn("alice", "bob") {
		if err != nil {
			t.Fatalf("%s's first turn: %v", oid, err)
		}
	}
	mu.Lock()
	skew = 2 * time.Minute // bob's token has expired; alice's has not
	mu.Unlock()
	res := turn("alice", "bob")
	if res["alice"] != nil {
		t.Errorf("alice's turn after bob's token expired: %v", res["alice"])
	}
	bobErr := res["bob"]
	if bobErr == nil || !strings.Contains(bobErr.Error(), "user oid=bob") || !strings.Contains(bobErr.Error(), "expired at") {
		t.Errorf("bob's turn after his token expired: err = %v, want one naming user oid=bob and the expiry", bobErr)
	}
	if bobErr != nil && strings.Contains(bobErr.Error(), userTokens["bob"]) {
		t.Errorf("bob's error shows his token")
	}
	if err := turn("alice")["alice"]; err != nil {
		t.Errorf("alice's third turn: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if crossed != 0 || refused != 0 {
		t.Errorf("model endpoint: %d requests with another user's token, %d with a token it did not accept", crossed, refused)
	}
	perUser := map[string]int{}
	for _, r := range model.Requests() {
		perUser[r.Header.Get("X-Test-User")]++
	}
	if perUser["alice"] < 3 || perUser["bob"] < 1 {
		t.Errorf("requests per user = %v, want alice ≥ 3 and bob ≥ 1", perUser)
	}
	for _, oid := range []string{"alice", "bob"} {
		if n := fe.Requests(oid); n != 1 {
			t.Errorf("%s: %d OBO requests, want 1 (one per user token)", oid, n)
		}
	}
	t.Logf("requests per user %v; bob's error: %v", perUser, bobErr)
}
