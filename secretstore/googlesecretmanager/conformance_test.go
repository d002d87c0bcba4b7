package googlesecretmanager_test

import (
	"testing"

	"github.com/byokcred/byokcred/kindtest"
)

// TestConformance runs the kit's store check on a key read from the fake
// Secret Manager, the reference being the kit's to probe.
func TestConformance(t *testing.T) {
	_, sm := start(t)
	sm.AddVersion(global, canary)
	sm.Allow(global, account)
	kindtest.RunStore(t, kindtest.Store{
		Name:  "google_secret_manager",
		Valid: "secret: " + global,
		Invalid: []string{
			"secret: my-secret",
			// The error must not quote the value of a key it refuses.
			"secret: " + global + "\nnonsense: " + canary,
		},
		HTTPClient: sm.Client(),
		Secrets:    []string{canary},
	})
}
