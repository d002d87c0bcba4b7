package awssecretsmanager_test

import (
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/kindtest"
)

// TestConformance runs the kind kit on a static key read from the fake
// Secrets Manager with container credentials, the store's block and its
// nested auth block being the kit's to probe.
func TestConformance(t *testing.T) {
	fakeaws.Isolate(t)
	w := newWorld(t)
	w.sm.Put("openai", canary)
	kindtest.Run(t, kindtest.Kind{
		Type: "static",
		Valid: "api_key_secret:\n" +
			"  store: aws_secrets_manager\n" +
			"  secret: " + w.sm.ARN("openai") + "\n" +
			"  auth:\n" +
			"    region: us-east-1",
		Invalid: []string{
			"api_key_secret:\n  store: aws_secrets_manager\n  secret: \"my key!\"",
			// Two keys: the error must not quote the literal one.
			"api_key: " + canary + "\napi_key_secret:\n  store: aws_secrets_manager\n  secret: " + w.sm.ARN("openai"),
		},
		HTTPClient: w.client,
		Secrets:    []string{canary},
	})
}
