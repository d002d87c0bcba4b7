package gcp

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/internal/testkit/fakehosts"
	"github.com/byokcred/byokcred/kind"
)

// countingTransport counts the requests it carries, by host.
type countingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[req.URL.Host]++
	c.mu.Unlock()
	return c.base.RoundTrip(req)
}

func (c *countingTransport) hosts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// googleHosts serves srv under the Google host names the SDK does not let
// a caller change (STS, IAM Credentials), and returns a client that
// reaches them (and loopback) and counts its requests.
func googleHosts(t *testing.T, srv *fakegcp.Server) (*http.Client, *countingTransport) {
	t.Helper()
	n := fakehosts.New()
	hs := n.Serve(srv, "sts.googleapis.com", "iamcredentials.googleapis.com")
	t.Cleanup(hs.Close)
	ct := &countingTransport{base: n.Client().Transport, n: map[string]int{}}
	return &http.Client{Transport: ct}, ct
}

// googleExternalAccount is an external_account file whose STS and
// impersonation URLs are Google's own.
func googleExternalAccount(t *testing.T, impersonate string) string {
	t.Helper()
	m := map[string]any{
		"type":               "external_account",
		"audience":           "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"token_url":          "https://sts.googleapis.com/v1/token",
		"credential_source":  map[string]any{"file": writeFile(t, "subject", canarySubject)},
	}
	if impersonate != "" {
		m["service_account_impersonation_url"] = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/" + impersonate + ":generateAccessToken"
	}
	b, _ := json.Marshal(m)
	return writeFile(t, "external.json", string(b))
}

// TestInjectedClientCarriesRequests: the client a program gives
// (kind.Build.HTTPClient) carries the kind's requests — the token
// endpoints of a credentials file, STS and IAM Credentials under their real
// host names, the metadata server's descriptions, doctor's walk — so a test
// (or a program with its own proxy or CA) reaches Google through it alone.
func TestInjectedClientCarriesRequests(t *testing.T) {
	const sa = "vertex-runner@byok-test-project.iam.gserviceaccount.com"
	tests := []struct {
		name string
		// run uses the kind with b's client; srv is the fake.
		run  func(t *testing.T, srv *fakegcp.Server, b *kind.Build) error
		want func(srv *fakegcp.Server) map[string]int
	}{
		{
			name: "external_account through sts.googleapis.com, impersonating through iamcredentials.googleapis.com",
			run: func(t *testing.T, srv *fakegcp.Server, b *kind.Build) error {
				a := &Auth{CredentialsFile: googleExternalAccount(t, sa)}
				src, err := a.Source(b)
				if err != nil {
					return err
				}
				_, err = src.Source.Token(context.Background())
				return err
			},
			want: func(*fakegcp.Server) map[string]int {
				return map[string]int{"sts.googleapis.com": 1, "iamcredentials.googleapis.com": 1}
			},
		},
		{
			name: "impersonate_service_account through iamcredentials.googleapis.com, described by the metadata server",
			run: func(t *testing.T, srv *fakegcp.Server, b *kind.Build) error {
				a := &Auth{ImpersonateServiceAccount: sa}
				src, err := a.Source(b)
				if err != nil {
					return err
				}
				_, err = src.Source.Token(context.Background())
				return err
			},
			want: func(srv *fakegcp.Server) map[string]int {
				// The metadata server's own token is the SDK's compute
				// credential, which takes no client (DetectDefault); the
				// universe domain check and the description take it.
				return map[string]int{"iamcredentials.googleapis.com": 1, srv.Host: 2}
			},
		},
		{
			name: "service-account key's token_uri",
			run: func(t *testing.T, srv *fakegcp.Server, b *kind.Build) error {
				key, _ := srv.ServiceAccountKey()
				a := &Auth{CredentialsFile: writeFile(t, "sa.json", string(key))}
				src, err := a.Source(b)
				if err != nil {
					return err
				}
				_, err = src.Source.Token(context.Background())
				return err
			},
			want: func(srv *fakegcp.Server) map[string]int { return map[string]int{srv.Host: 1} },
		},
		{
			name: "Credentials for another Google API",
			run: func(t *testing.T, srv *fakegcp.Server, b *kind.Build) error {
				a := &Auth{CredentialsFile: googleExternalAccount(t, "")}
				a.ValidateCredentials(b)
				creds, err := a.SDKCredentials(context.Background())
				if err != nil {
					return err
				}
				_, err = creds.Token(context.Background())
				return err
			},
			want: func(*fakegcp.Server) map[string]int { return map[string]int{"sts.googleapis.com": 1} },
		},
		{
			name: "doctor's walk",
			run: func(t *testing.T, srv *fakegcp.Server, b *kind.Build) error {
				t.Setenv(envCredentials, googleExternalAccount(t, ""))
				a := &Auth{}
				a.ValidateCredentials(b)
				links := a.Diagnose(context.Background())
				if len(links) == 0 || !links[0].Answered {
					t.Errorf("walk: %+v, want %s to answer", links, envCredentials)
				}
				return nil
			},
			want: func(srv *fakegcp.Server) map[string]int {
				// The metadata server's token, not consulted (ADC stops at
				// the file), is asked too.
				return map[string]int{"sts.googleapis.com": 1, srv.Host: 1}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startGCP(t, fakegcp.Options{SubjectToken: canarySubject})
			client, ct := googleHosts(t, srv)
			if err := tc.run(t, srv, &kind.Build{HTTPClient: client}); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want(srv), ct.hosts()); diff != "" {
				t.Errorf("requests the injected client carried (-want +got):\n%s", diff)
			}
		})
	}
}
