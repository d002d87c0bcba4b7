package azurekeyvault_test

import (
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
	"github.com/byokcred/byokcred/kindtest"
)

// TestConformance runs the kind kit on a static key read from the fake
// vault with a managed identity (the idp of TestMain): the store's block
// and its nested auth block are the kit's to probe.
func TestConformance(t *testing.T) {
	kv := startVault(t, fakeclock.New(), checkToken)
	kv.Set("openai-key", canary)
	kindtest.Run(t, kindtest.Kind{
		Type: "static",
		Valid: "api_key_secret:\n" +
			"  store: azure_key_vault\n" +
			"  secret: " + kv.SecretURL("openai-key", "") + "\n" +
			"  auth:\n" +
			"    credential: managed_identity",
		Invalid: []string{
			"api_key_secret:\n  store: azure_key_vault\n  secret: openai-key",
			// Two keys: the error must not quote the literal one.
			"api_key: " + canary + "\napi_key_secret:\n  store: azure_key_vault\n  secret: " + kv.SecretURL("openai-key", ""),
		},
		HTTPClient: kv.Client(),
		Secrets:    []string{canary},
	})
}
