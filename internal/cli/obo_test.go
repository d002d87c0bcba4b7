package cli

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeentra"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// TestChatOnBehalfOfUser: a config with an on-behalf-of credential is
// refused by chat without a user, and with --user-token-env the model gets
// a token minted for that user (never the user's own token).
func TestChatOnBehalfOfUser(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	fe := fakeentra.Start(fakeentra.Options{TenantID: "contoso", ClientID: "cli-app", ClientSecret: "cli-app-secret"})
	defer fe.Close()
	userTok := fe.UserToken("carol", time.Hour)
	var gotUser atomic.Value
	model, err := fakemodel.Start(fakemodel.Options{Reply: "hi carol", Check: func(r *fakemodel.Request) int {
		_, tok := r.Credential()
		oid, err := fe.Check(tok, time.Now())
		if err != nil {
			return http.StatusUnauthorized
		}
		gotUser.Store(oid)
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  foundry:
    type: azure
    base_url: `+model.URL+`
    wire_api: responses
    model: gpt-4.1
    auth: {type: entra, credential: on_behalf_of, tenant_id: contoso, client_id: cli-app, client_secret_env: APP_SECRET, scope: 'https://obo-cli.example/.default'}
`)
	env := map[string]string{"APP_SECRET": "cli-app-secret", "USER_TOKEN": userTok}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"without a user", []string{"-c", cfg, "chat", "-m", "foundry", "hello"}, 2, "", "acts on behalf of each user"},
		// validate checks the file and acts for nobody: the config is valid.
		{"validate", []string{"-c", cfg, "validate"}, 0, cfg + ": OK (1 provider: foundry)\n", ""},
		{"with --user-token-env", []string{"-c", cfg, "chat", "-m", "foundry", "--user-token-env", "USER_TOKEN", "hello"}, 0, "hi carol\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantCode == 0 && testing.Short() {
				t.Skip("-short: no Copilot runtime")
			}
			var out, errb strings.Builder
			code := Run(context.Background(), tc.args, Env{Stdout: &out, Stderr: &errb, LookupEnv: lookup, HTTPClient: fe.Client()})
			if code != tc.wantCode || out.String() != tc.wantOut || !strings.Contains(errb.String(), tc.wantErr) {
				t.Errorf("code %d, stdout %q, stderr %q; want %d, %q, stderr containing %q", code, out.String(), errb.String(), tc.wantCode, tc.wantOut, tc.wantErr)
			}
			if strings.Contains(out.String()+errb.String(), userTok) {
				t.Error("output shows the user's token")
			}
		})
	}
	if got, _ := gotUser.Load().(string); !testing.Short() && got != "carol" {
		t.Errorf("model saw a token for %q, want carol", got)
	}
}
