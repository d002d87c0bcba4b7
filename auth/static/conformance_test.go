package static_test

import (
	"testing"

	"github.com/byokcred/byokcred/kindtest"
)

const (
	keyCanary    = "sk-CANARY-static-conformance-61c2e0"
	bearerCanary = "CANARY-static-bearer-conformance-0a7d93"
)

// TestConformance runs the kind kit on each way a static credential is
// given (the stores have their own in secretstore/*).
func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		kind kindtest.Kind
	}{
		{"api_key_env", kindtest.Kind{Valid: "api_key_env: KEY", Env: map[string]string{"KEY": keyCanary}}},
		{"api_key", kindtest.Kind{Valid: "api_key: ${KEY}", Env: map[string]string{"KEY": keyCanary}}},
		{"bearer_token_file", kindtest.Kind{Valid: "bearer_token_file: token", Files: map[string]string{"token": bearerCanary + "\n"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := tc.kind
			k.Type, k.NoFetch = "static", true
			k.Secrets = []string{keyCanary, bearerCanary}
			k.Invalid = []string{
				"api_key: " + keyCanary + "\nbearer_token_env: TOKEN",
				"api_key_env: ''",
				"api_key_secret: {store: azure_key_vault, vault: https://v.vault.azure.net, secret: k, nonsense: " + keyCanary + "}",
			}
			kindtest.Run(t, k)
		})
	}
}
