package gcp

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/kindtest"
)

// TestConformance runs the kind kit on a service-account key file whose
// token endpoint is the fake's; a line of the private key is the canary.
func TestConformance(t *testing.T) {
	srv := startGCP(t, fakegcp.Options{Lifetime: time.Hour})
	key, keyPEM := srv.ServiceAccountKey()
	file := writeFile(t, "sa.json", string(key))
	keyBody := strings.Split(keyPEM, "\n")[1]
	kindtest.Run(t, kindtest.Kind{
		Type:     "gcp",
		Provider: "type: openai\nbase_url: " + vertexURL + "\nmodel: gemini-2.5-flash",
		Valid:    "credentials_file: " + file,
		Invalid: []string{
			"credentials_file: " + file + "\nimpersonate_service_account: vertex",
			"scopes: [cloud-platform]",
		},
		HTTPClient: &http.Client{},
		Secrets:    []string{keyBody},
	})
}
