package builtin_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/auth/static"
	_ "github.com/byokcred/byokcred/builtin"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

// TestRegistersTheStockKindsAndStores pins what the stock byokcred
// accepts: importing builtin registers exactly these.
func TestRegistersTheStockKindsAndStores(t *testing.T) {
	tests := []struct {
		name string
		want []string
		got  []string
	}{
		{"auth types", []string{"aws", "entra", "gcp", "plugin", "static"}, kind.Types()},
		{"secret stores", []string{"aws_secrets_manager", "azure_key_vault", "google_secret_manager"}, static.Stores()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestUnknownNamesNoImport: with every built-in registered, importing
// builtin would not help, so the error for an unknown name only lists the
// known ones, as the stock byokcred always said.
func TestUnknownNamesNoImport(t *testing.T) {
	path := configtest.Write(t, `providers:
  a:
    type: openai
    base_url: https://a.example
    model: m
    auth: {type: statik, api_key: k}
  b:
    type: openai
    base_url: https://a.example
    model: m
    auth: {type: static, api_key_secret: {store: vault9, secret: k}}
`)
	_, err := registry.Load(path, registry.Options{})
	if err == nil {
		t.Fatal("Load: no error for an unknown auth type and store")
	}
	want := []string{
		`c.yaml:6:18: providers.a.auth.type: unknown auth type "statik"; did you mean "static"? (known: aws, entra, gcp, plugin, static)`,
		`c.yaml:11:50: providers.b.auth.api_key_secret.store: unknown store "vault9" (known: aws_secrets_manager, azure_key_vault, google_secret_manager)`,
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load error (-want +got):\n%s", diff)
	}
}
