package googlesecretmanager_test

import (
	"testing"

	"github.com/byokcred/byokcred/kindtest"
)

// TestConformance runs the kind kit on a static key read from the fake
// Secret Manager, the store's block being the kit's to probe.
func TestConformance(t *testing.T) {
	_, sm := start(t)
	sm.AddVersion(global, canary)
	sm.Allow(global, account)
	kindtest.Run(t, kindtest.Kind{
		Type: "static",
		Valid: "api_key_secret:\n" +
			"  store: google_secret_manager\n" +
			"  secret: " + global,
		Invalid: []string{
			"api_key_secret:\n  store: google_secret_manager\n  secret: my-secret",
			// Two keys: the error must not quote the literal one.
			"api_key: " + canary + "\napi_key_secret:\n  store: google_secret_manager\n  secret: " + global,
		},
		HTTPClient: sm.Client(),
		Secrets:    []string{canary},
	})
}
