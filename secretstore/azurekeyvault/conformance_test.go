package azurekeyvault_test

import (
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
	"github.com/byokcred/byokcred/kindtest"
)

// TestConformance runs the kit's store check on a key read from the fake
// vault with a managed identity (the idp of TestMain): the reference and
// its nested auth block are the kit's to probe.
func TestConformance(t *testing.T) {
	kv := startVault(t, fakeclock.New(), checkToken)
	kv.Set("openai-key", canary)
	kindtest.RunStore(t, kindtest.Store{
		Name: "azure_key_vault",
		Valid: "secret: " + kv.SecretURL("openai-key", "") + "\n" +
			"auth:\n" +
			"  credential: managed_identity",
		Invalid: []string{
			"secret: openai-key",
			// The error must not quote the value of a key it refuses.
			"secret: " + kv.SecretURL("openai-key", "") + "\nnonsense: " + canary,
		},
		HTTPClient: kv.Client(),
		Secrets:    []string{canary},
	})
}
