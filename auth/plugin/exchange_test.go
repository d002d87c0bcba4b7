package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/plugintest"
	"github.com/byokcred/byokcred/registry"
)

// rfc8693 is a loopback token-exchange endpoint (Okta/Keycloak shaped): it
// checks the client and the subject token and answers with a token naming
// the subject's user.
type rfc8693 struct {
	mu       sync.Mutex
	users    map[string]string // subject token -> user
	requests map[string]int
	bad      []string
}

func (e *rfc8693) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f := r.PostForm
	id, secret, _ := r.BasicAuth()
	if id == "" {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	refuse := func(code, desc string) {
		e.bad = append(e.bad, code+": "+desc)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	switch {
	case id != "gateway-client" || secret != "gateway-secret":
		refuse("invalid_client", "bad client")
	case f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange":
		refuse("unsupported_grant_type", f.Get("grant_type"))
	case f.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:access_token" || f.Get("audience") != "llm-gateway":
		refuse("invalid_request", "subject_token_type or audience")
	case e.users[f.Get("subject_token")] == "":
		refuse("invalid_grant", "subject token not recognised")
	default:
		u := e.users[f.Get("subject_token")]
		e.requests[u]++
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("gw-%s-%d", u, e.requests[u]), "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
			"token_type": "Bearer", "expires_in": 3600,
		})
	}
}

type subjectUser string

func (u subjectUser) Token(context.Context) (*credential.Token, error) {
	return &credential.Token{Value: credential.NewSecret(string(u)), Kind: credential.KindBearer}, nil
}

// TestTokenExchangeThroughThePlugin: the per-session subject token reaches
// the real oauth2 plugin process through the protocol, each user gets a
// token exchanged for them (one exchange per user token), a rejected subject
// gets an error without the token, and a plugin that does not announce
// per-user configs (the file plugin, like any v1 plugin) is never sent a
// user's token.
func TestTokenExchangeThroughThePlugin(t *testing.T) {
	oauthBin, err := plugintest.Build("oauth2")
	if err != nil {
		t.Fatal(err)
	}
	fileBin, err := plugintest.Build("file")
	if err != nil {
		t.Fatal(err)
	}
	defer plugintest.Cleanup()
	ep := &rfc8693{users: map[string]string{"subject-token-ALICE-c4n4ry": "alice", "subject-token-BOB-c4n4ry": "bob"}, requests: map[string]int{}}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("service-key\n"), 0o600)
	path := configtest.Write(t, `plugins:
  oauth2: {command: `+oauthBin+`}
  file: {command: `+fileBin+`}
providers:
  gw:
    type: openai
    base_url: https://gw.example/v1
    model: m
    auth:
      type: plugin
      plugin: oauth2
      per_user: true
      config: {grant: token_exchange, token_url: "`+srv.URL+`/token", client_id: gateway-client, client_secret: gateway-secret, audience: llm-gateway}
  old:
    type: openai
    base_url: https://gw.example/v1
    model: m
    auth: {type: plugin, plugin: file, per_user: true, config: {path: `+keyFile+`}}
`)
	set, err := registry.Load(path, registry.Options{PerUser: true})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	gw, _ := set.Provider("gw")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got := map[string][]string{}
	for _, u := range []string{"alice", "bob"} {
		us, err := gw.ForUser(subjectUser("subject-token-" + strings.ToUpper(u) + "-c4n4ry"))
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			tok, err := us.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got[u] = append(got[u], tok.Value.Reveal())
		}
	}
	want := map[string][]string{"alice": {"gw-alice-1", "gw-alice-1", "gw-alice-1"}, "bob": {"gw-bob-1", "gw-bob-1", "gw-bob-1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tokens per user (-want +got):\n%s", diff)
	}

	tests := []struct {
		name, provider, subject string
		want                    []string
	}{
		{"rejected subject", "gw", "subject-token-MALLORY-c4n4ry", []string{"provider gw", "invalid_grant", "subject token not recognised"}},
		{"plugin without per-user support", "old", "subject-token-ALICE-c4n4ry", []string{"provider old", "did not announce this config as per-user", "the user's token was not sent"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := set.Provider(tc.provider)
			us, err := p.ForUser(subjectUser(tc.subject))
			if err != nil {
				t.Fatal(err)
			}
			_, err = us.Token(ctx)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "c4n4ry") || strings.Contains(err.Error(), "gateway-secret") {
				t.Errorf("error shows a secret:\n%v", err)
			}
		})
	}
}
