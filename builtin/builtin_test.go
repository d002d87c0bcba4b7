package builtin_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
		{"secret stores", []string{"aws_secrets_manager", "azure_key_vault", "google_secret_manager"}, kind.Stores()},
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
		`c.yaml:6:18: providers.a.auth.type: unknown auth type "statik" (known: aws, entra, gcp, plugin, static)`,
		`c.yaml:11:50: providers.b.auth.api_key_secret.store: unknown store "vault9" (known: aws_secrets_manager, azure_key_vault, google_secret_manager)`,
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load error (-want +got):\n%s", diff)
	}
}

// TestKeysOfAnotherStore: with every built-in store linked, a key that the
// selected store does not take but another does is refused naming the
// store it applies to and the keys this one takes; a key no store takes
// is refused by the strict decoding, listing the same keys.
func TestKeysOfAnotherStore(t *testing.T) {
	path := configtest.Write(t, `providers:
  a:
    type: openai
    base_url: https://a.example
    model: m
    auth: {type: static, api_key_secret: {store: azure_key_vault, secret: 'https://v.vault.azure.net/secrets/k', version_stage: AWSCURRENT}}
  b:
    type: openai
    base_url: https://a.example
    model: m
    auth: {type: static, api_key_secret: {store: google_secret_manager, secret: projects/my-project/secrets/k, json_kye: key}}
`)
	_, err := registry.Load(path, registry.Options{})
	if err == nil {
		t.Fatal("Load: no error for keys the stores do not take")
	}
	want := []string{
		`c.yaml:6:129: providers.a.auth.api_key_secret.version_stage: version_stage applies to aws_secrets_manager only; azure_key_vault takes auth, json_key, refresh_interval, secret, store, version`,
		`c.yaml:11:112: providers.b.auth.api_key_secret.json_kye: unknown key "json_kye"; did you mean "json_key"? (known keys: auth, json_key, refresh_interval, secret, store, version)`,
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load error (-want +got):\n%s", diff)
	}
}
