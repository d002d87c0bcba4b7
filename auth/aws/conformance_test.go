package aws_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/kindtest"
)

// containerToken is the container credentials endpoint's authorization
// token: a canary the kind's SDK handles.
const containerToken = "CANARY-aws-container-token-3f8a51"

// TestConformance runs the kind kit on container credentials from the
// fake endpoint.
func TestConformance(t *testing.T) {
	creds := startAWS(t, fakeaws.Options{Lifetime: time.Hour, AuthToken: containerToken})
	creds.Setenv(t)
	// One attempt per fetch: the SDK's backoff would only slow the
	// refused fetches down.
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	kindtest.Run(t, kindtest.Kind{
		Type:     "aws",
		Provider: "type: openai\nbase_url: https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1\nmodel: m",
		Valid:    "region: us-east-1",
		Invalid: []string{
			"region: US-EAST-1",
			"region: us-east-1\nkey_lifetime: " + containerToken,
		},
		HTTPClient: &http.Client{},
		Secrets:    []string{containerToken},
	})
}
