package entra

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

func TestEntraValidation(t *testing.T) {
	loose := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(loose, []byte("s"), 0o644)
	os.Chmod(loose, 0o644)
	tests := []struct {
		name string
		auth string
		want []string // error messages after the position
	}{
		{name: "default needs nothing", auth: "{type: entra}"},
		{name: "user-assigned managed identity", auth: "{type: entra, credential: managed_identity, client_id: abc}"},
		{name: "unknown credential", auth: "{type: entra, credential: magic}", want: []string{
			`providers.p.auth.credential: unknown credential "magic" (one of: azure_cli, azure_developer_cli, client_certificate, client_secret, default, environment, managed_identity, on_behalf_of, workload_identity)`,
		}},
		{name: "key that does not apply", auth: "{type: entra, credential: azure_cli, client_id: x}", want: []string{
			"providers.p.auth.client_id: client_id does not apply to credential azure_cli (it takes: tenant_id)",
		}},
		{name: "two identity names", auth: "{type: entra, credential: managed_identity, client_id: x, object_id: y}", want: []string{
			"providers.p.auth: a managed identity is named by one of client_id, resource_id or object_id; 2 are set",
		}},
		{name: "service principal without ids or secret", auth: "{type: entra, credential: client_secret}", want: []string{
			"providers.p.auth: credential client_secret needs tenant_id",
			"providers.p.auth: credential client_secret needs client_id (the application id)",
			"providers.p.auth: credential client_secret needs client_secret_env or client_secret_file",
		}},
		{name: "service principal secret file too open", auth: "{type: entra, credential: client_secret, tenant_id: t, client_id: c, client_secret_file: " + loose + "}", want: []string{
			"providers.p.auth.client_secret_file: secretfile: " + loose + " is readable by group or others (mode 0644); run: chmod 600 " + loose,
		}},
		{name: "bad scope and refresh", auth: "{type: entra, scope: 'https://x/.default&a=b', refresh: hourly}", want: []string{
			`providers.p.auth.scope: invalid scope "https://x/.default&a=b": want a resource followed by /.default, such as https://cognitiveservices.azure.com/.default, using only letters, digits and . _ ~ : / -`,
			`providers.p.auth.refresh: unknown refresh "hourly" (one of: per_request, per_session)`,
		}},
		{name: "no literal secrets", auth: "{type: entra, credential: client_secret, client_secret: oops}", want: []string{
			"providers.p.auth: credential client_secret needs tenant_id",
			"providers.p.auth: credential client_secret needs client_id (the application id)",
			"providers.p.auth: credential client_secret needs client_secret_env or client_secret_file",
			`providers.p.auth.client_secret: unknown key "client_secret"; did you mean "client_secret_env"?`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := configtest.Write(t, "providers:\n  p:\n    type: azure\n    base_url: https://r.openai.azure.com\n    model: m\n    auth: "+tc.auth+"\n")
			set, err := registry.Load(path, registry.Options{LookupEnv: func(string) (string, bool) { return "", false }})
			var got []string
			if err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					// drop FILE:LINE:COL: and the known-keys tail
					_, msg, _ := strings.Cut(line, ": ")
					msg, _, _ = strings.Cut(msg, " (known keys")
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

// TestSDKCredentials: the credential for another Azure service is built
// for every credential kind but on_behalf_of, which needs a user.
func TestSDKCredentials(t *testing.T) {
	tests := []struct {
		name    string
		auth    Auth
		wantErr string
	}{
		{name: "default", auth: Auth{}},
		{name: "managed identity", auth: Auth{Credential: "managed_identity", ClientID: "c"}},
		{name: "azure cli", auth: Auth{Credential: "azure_cli"}},
		{name: "on_behalf_of", auth: Auth{Credential: "on_behalf_of", TenantID: "t", ClientID: "c"},
			wantErr: "entra: credential on_behalf_of acts for a signed-in user and has no credential of its own"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cred, err := tc.auth.SDKCredentials(&kind.Build{LookupEnv: func(string) (string, bool) { return "", false }})
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if (cred == nil) != (tc.wantErr != "") {
				t.Errorf("credential %v with error %q", cred, gotErr)
			}
		})
	}
}
