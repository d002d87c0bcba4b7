package entra

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakeentra"
)

// TestOBOCheckProvesTheAppCredential: an on-behalf-of provider's Check
// asks the authority for the application's own token (client credentials
// grant, no user): nil when the authority accepts the application's secret
// or federated assertion, an error naming the tenant and client — never
// the secret — when it refuses them. A second check within the token's
// life does not reach the authority again (readiness probes run every few
// seconds).
func TestOBOCheckProvesTheAppCredential(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	os.WriteFile(good, []byte("federated-assertion\n"), 0o600)
	os.WriteFile(bad, []byte("federated-canary-assertion\n"), 0o600)
	const canary = "app-secret-canary-Zq81"
	tests := []struct {
		name, auth, secret string
		wantOK             bool
		wantGrants         int
	}{
		{"secret accepted", "client_secret_env: APP_SECRET, scope: 'https://chk1.example/.default'", "app-secret", true, 1},
		{"secret refused", "client_secret_env: APP_SECRET, scope: 'https://chk2.example/.default'", canary, false, 0},
		{"assertion accepted", "client_assertion: workload_identity, token_file: " + good + ", scope: 'https://chk3.example/.default'", "", true, 1},
		{"assertion refused", "client_assertion: workload_identity, token_file: " + bad + ", scope: 'https://chk4.example/.default'", "", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fe := fakeentra.Start(fakeentra.Options{TenantID: "tenant1", ClientID: "app1", ClientSecret: "app-secret", ClientAssertions: []string{"federated-assertion"}})
			defer fe.Close()
			p := oboProvider(t, fe, "{type: entra, credential: on_behalf_of, tenant_id: tenant1, client_id: app1, "+tc.auth+"}", map[string]string{"APP_SECRET": tc.secret})
			var errs []error
			for range 2 {
				errs = append(errs, p.Check(context.Background()))
			}
			type result struct {
				OK     []bool
				Grants int
			}
			got := result{OK: []bool{errs[0] == nil, errs[1] == nil}, Grants: fe.AppGrants()}
			want := result{OK: []bool{tc.wantOK, tc.wantOK}, Grants: tc.wantGrants}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("checks (-want +got):\n%s\nerrors: %v", diff, errs)
			}
			if err := errs[0]; err != nil {
				msg := err.Error()
				for _, w := range []string{"tenant tenant1 did not accept the application credential of client app1", "invalid_client"} {
					if !strings.Contains(msg, w) {
						t.Errorf("error lacks %q:\n%s", w, msg)
					}
				}
				if strings.Contains(msg, canary) || strings.Contains(msg, "federated-canary-assertion") {
					t.Errorf("error shows the application's secret:\n%s", msg)
				}
			}
		})
	}
}
