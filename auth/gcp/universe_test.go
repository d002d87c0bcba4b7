package gcp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
)

const tpcVertexURL = "https://u-central1-aiplatform.example-tpc.goog/v1/projects/byok-test-project/locations/u-central1/endpoints/openapi"

// TestUniverseDomainValidation: a Vertex AI base_url must be in the
// universe the auth block names (googleapis.com by default).
func TestUniverseDomainValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, baseURL, auth string
		want                []string
	}{
		{name: "a partner universe", baseURL: tpcVertexURL, auth: "{type: gcp, universe_domain: example-tpc.goog}"},
		{name: "global endpoint of a partner universe", baseURL: "https://aiplatform.example-tpc.goog/v1/projects/byok-test-project/locations/global/endpoints/openapi", auth: "{type: gcp, universe_domain: example-tpc.goog}"},
		{name: "the public universe named", baseURL: vertexURL, auth: "{type: gcp, universe_domain: googleapis.com}"},
		{name: "a partner endpoint, the public universe", baseURL: tpcVertexURL, auth: "{type: gcp}", want: []string{
			"providers.p.base_url: base_url is Vertex AI in universe example-tpc.goog, but the credential's universe is googleapis.com (auth.universe_domain); set universe_domain: example-tpc.goog, or use the endpoint of universe googleapis.com",
		}},
		{name: "a public endpoint, a partner universe", baseURL: vertexURL, auth: "{type: gcp, universe_domain: example-tpc.goog}", want: []string{
			"providers.p.base_url: base_url is Vertex AI in universe googleapis.com, but the credential's universe is example-tpc.goog (auth.universe_domain); set universe_domain: googleapis.com, or use the endpoint of universe example-tpc.goog",
		}},
		{name: "host of another region in the universe", baseURL: strings.Replace(tpcVertexURL, "u-central1-aiplatform", "u-east1-aiplatform", 1), auth: "{type: gcp, universe_domain: example-tpc.goog}", want: []string{
			`providers.p.base_url: base_url host u-east1-aiplatform.example-tpc.goog does not serve location "u-central1" (want u-central1-aiplatform.example-tpc.goog)`,
		}},
		{name: "a URL for a universe", baseURL: vertexURL, auth: "{type: gcp, universe_domain: 'https://example-tpc.goog'}", want: []string{
			`providers.p.auth.universe_domain: invalid universe_domain "https://example-tpc.goog": want a domain name such as googleapis.com (the universe's, without a service name)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, _ := loadErrors(t, "    type: openai\n    base_url: "+tc.baseURL+"\n    model: gemini-2.5-flash\n    auth: "+tc.auth+"\n")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// universeKey is a service-account key file of universe (no universe_domain
// field for the public one).
func universeKey(t *testing.T, universe string) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	f := map[string]string{
		"type": "service_account", "project_id": "byok-test-project", "private_key_id": "0123456789abcdef",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "vertex@byok-test-project.iam.gserviceaccount.com", "client_id": "1234567890",
		// Unreachable: a key of a partner universe signs its own tokens
		// (self-signed JWTs), it never asks a token endpoint.
		"token_uri": "https://127.0.0.1:1/token",
	}
	if universe != "" {
		f["universe_domain"] = universe
	}
	data, _ := json.Marshal(f)
	return writeFile(t, "sa.json", string(data))
}

// TestCredentialUniverse: the credential must belong to the configured
// universe; a key of a partner universe signs its own tokens there, and the
// description names the universe.
func TestCredentialUniverse(t *testing.T) {
	isolateADC(t)
	tests := []struct {
		name, keyUniverse, baseURL, auth string
		wantErr                          string
		wantFacts                        []string
	}{
		{name: "partner key, partner universe", keyUniverse: "example-tpc.goog", baseURL: tpcVertexURL, auth: "universe_domain: example-tpc.goog",
			wantFacts: []string{"credential: credentials_file KEY (service_account)", "service account: vertex@byok-test-project.iam.gserviceaccount.com", "project: byok-test-project", "universe domain: example-tpc.goog"}},
		{name: "partner key, public universe", keyUniverse: "example-tpc.goog", baseURL: vertexURL,
			wantErr: "gcp: credentials_file KEY belongs to universe example-tpc.goog, but the config's universe_domain is googleapis.com; use a credential of googleapis.com or set universe_domain: example-tpc.goog"},
		{name: "public key, partner universe", baseURL: tpcVertexURL, auth: "universe_domain: example-tpc.goog",
			wantErr: "gcp: credentials_file KEY belongs to universe googleapis.com, but the config's universe_domain is example-tpc.goog; use a credential of example-tpc.goog or set universe_domain: googleapis.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := universeKey(t, tc.keyUniverse)
			auth := "{type: gcp, credentials_file: '" + key + "'"
			if tc.auth != "" {
				auth += ", " + tc.auth
			}
			errs, set := loadErrors(t, "    type: openai\n    base_url: "+tc.baseURL+"\n    model: gemini-2.5-flash\n    auth: "+auth+"}\n")
			if errs != nil {
				t.Fatal(errs)
			}
			p, err := set.Provider("p")
			if err != nil {
				t.Fatal(err)
			}
			tok, err := p.Token(context.Background())
			gotErr := ""
			if err != nil {
				gotErr = strings.ReplaceAll(err.Error(), key, "KEY")
			}
			if !strings.Contains(gotErr, tc.wantErr) || (tc.wantErr == "") != (gotErr == "") {
				t.Fatalf("error %q, want one containing %q", gotErr, tc.wantErr)
			}
			if err != nil {
				return
			}
			// A self-signed JWT: issued by the account, for the scope.
			parts := strings.Split(tok.Value.Reveal(), ".")
			var claims struct{ Iss, Scope string }
			if body, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(body, &claims) != nil {
				t.Fatalf("token is not a JWT: %v", err)
			}
			if diff := cmp.Diff(struct{ Iss, Scope string }{"vertex@byok-test-project.iam.gserviceaccount.com", DefaultScope}, claims); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			var facts []string
			for _, l := range factLines(p.DescribeToken(tok)) {
				facts = append(facts, strings.ReplaceAll(l, key, "KEY"))
			}
			if diff := cmp.Diff(tc.wantFacts, facts); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMetadataServerUniverse: with a universe named, the metadata server's
// own universe must agree (the fake, like a server of the public universe,
// has none to report, which means googleapis.com).
func TestMetadataServerUniverse(t *testing.T) {
	startGCP(t, fakegcp.Options{Lifetime: 30 * time.Minute})
	tests := []struct{ name, universe, wantErr string }{
		{name: "the public universe named", universe: DefaultUniverseDomain},
		{name: "another universe named", universe: "example-tpc.goog", wantErr: "belongs to universe googleapis.com, but the config's universe_domain is example-tpc.goog"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := NewSource(SourceOptions{UniverseDomain: tc.universe})
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Token(context.Background())
			if (err != nil) != (tc.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
