package awssecretsmanager_test

import (
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/kindtest"
)

// TestConformance runs the kit's store check on a key read from the fake
// Secrets Manager with container credentials, the reference and its
// nested auth block being the kit's to probe.
func TestConformance(t *testing.T) {
	fakeaws.Isolate(t)
	w := newWorld(t)
	w.sm.Put("openai", canary)
	kindtest.RunStore(t, kindtest.Store{
		Name: "aws_secrets_manager",
		Valid: "secret: " + w.sm.ARN("openai") + "\n" +
			"auth:\n" +
			"  region: us-east-1",
		Invalid: []string{
			"secret: \"my key!\"",
			// The error must not quote the value of a key it refuses.
			"secret: " + w.sm.ARN("openai") + "\nnonsense: " + canary,
		},
		HTTPClient: w.client,
		Secrets:    []string{canary},
	})
}
