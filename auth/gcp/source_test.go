package gcp

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/kind"
)

// startGCP starts a fake and makes it the only source of Application
// Default Credentials: no GOOGLE_APPLICATION_CREDENTIALS, an empty HOME
// (no gcloud well-known file), the metadata host on loopback.
func startGCP(t *testing.T, opts fakegcp.Options) *fakegcp.Server {
	t.Helper()
	s, err := fakegcp.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	isolateADC(t)
	s.Setenv(t)
	return s
}

func isolateADC(t *testing.T) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv(envCredentials, "")
	// Never let the SDK probe 169.254.169.254: a closed loopback port
	// unless the test starts a metadata server.
	t.Setenv(envMetadataHost, "127.0.0.1:1")
	t.Setenv("GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED", "")
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMetadataServerTokens: each fetch reaches the metadata server and
// returns a fresh token with the server's expiry, so that the
// credential.Cache, not the SDK's cache, decides when tokens rotate.
func TestMetadataServerTokens(t *testing.T) {
	srv := startGCP(t, fakegcp.Options{Lifetime: 30 * time.Minute})
	src, err := NewSource(SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var got []string
	for range 3 {
		tok, err := src.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Check(tok.Value.Reveal(), time.Now()); err != nil {
			t.Fatal(err)
		}
		if tok.Kind != credential.KindBearer {
			t.Errorf("kind %v, want bearer", tok.Kind)
		}
		if d := time.Until(tok.Expiry); d < 29*time.Minute || d > 30*time.Minute {
			t.Errorf("expiry in %s, want the server's 30m", d)
		}
		got = append(got, tok.Value.Reveal())
	}
	var want []string
	for _, is := range srv.Issued() {
		want = append(want, is.Token)
		if is.Scopes != DefaultScope {
			t.Errorf("scopes %q, want %q", is.Scopes, DefaultScope)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tokens returned vs issued (-issued +returned):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"credential: metadata server " + srv.Host + " (compute)",
		"service account: vertex@byok-test-project.iam.gserviceaccount.com",
		"project: byok-test-project",
	}, factLines(src.desc.facts())); diff != "" {
		t.Errorf("description (-want +got):\n%s", diff)
	}
}

const canarySubject = "CANARY-SUBJECT-TOKEN-5f1e2d"

// externalAccount writes a workload identity federation file whose
// subject token comes from a file and whose token_url is srv's STS.
// With subject "URL" the subject token comes from srv's URL source
// instead (as on Azure, from IMDS).
func externalAccount(t *testing.T, srv *fakegcp.Server, subject, impersonate string) string {
	t.Helper()
	source := map[string]any{"file": writeFile(t, "subject.jwt", subject)}
	if subject == "URL" {
		source = map[string]any{"url": srv.URL + "/subject-token", "headers": map[string]string{"Metadata": "true"}}
	}
	m := map[string]any{
		"type":               "external_account",
		"audience":           "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov",
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"token_url":          srv.URL + "/v1/token",
		"credential_source":  source,
	}
	if impersonate != "" {
		m["service_account_impersonation_url"] = srv.URL + "/v1/projects/-/serviceAccounts/" + impersonate + ":generateAccessToken"
	}
	b, _ := json.Marshal(m)
	return writeFile(t, "external.json", string(b))
}

func TestExternalAccount(t *testing.T) {
	const sa = "vertex-caller@byok-test-project.iam.gserviceaccount.com"
	tests := []struct {
		name        string
		subject     string
		impersonate string
		wantVia     []string
		wantDesc    []string
		wantErr     string
	}{
		{
			name: "federated token from STS", subject: canarySubject,
			wantVia:  []string{"sts", "sts"},
			wantDesc: []string{"credential: credentials_file FILE (external_account)"},
		},
		{
			name: "federated token impersonating a service account", subject: canarySubject, impersonate: sa,
			wantVia:  []string{"sts", "iam", "sts", "iam"},
			wantDesc: []string{"credential: credentials_file FILE (external_account)", "service account: " + sa},
		},
		{
			name: "subject token from a URL", subject: "URL",
			wantVia:  []string{"sts", "sts"},
			wantDesc: []string{"credential: credentials_file FILE (external_account)"},
		},
		{
			name: "subject token refused", subject: "CANARY-WRONG-SUBJECT-77aa",
			wantErr: "gcp: credentials_file FILE: ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startGCP(t, fakegcp.Options{SubjectToken: canarySubject, Lifetime: time.Hour})
			file := externalAccount(t, srv, tc.subject, tc.impersonate)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			src, err := NewSource(SourceOptions{CredentialsJSON: data, CredentialsFile: file})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for range 2 {
				tok, err := src.Token(context.Background())
				if tc.wantErr != "" {
					if err == nil {
						t.Fatal("want an error")
					}
					msg := err.Error()
					if !strings.HasPrefix(msg, strings.ReplaceAll(tc.wantErr, "FILE", file)) {
						t.Errorf("error %q, want prefix %q", msg, tc.wantErr)
					}
					for _, c := range []string{canarySubject, tc.subject} {
						if strings.Contains(msg, c) {
							t.Errorf("error shows the subject token: %s", msg)
						}
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := srv.Check(tok.Value.Reveal(), time.Now()); err != nil {
					t.Fatal(err)
				}
				got = append(got, tok.Value.Reveal())
			}
			var via []string
			last := srv.Issued()[len(srv.Issued())-1]
			for _, is := range srv.Issued() {
				via = append(via, is.Via)
			}
			if diff := cmp.Diff(tc.wantVia, via); diff != "" {
				t.Errorf("tokens minted (-want +got):\n%s", diff)
			}
			if got[1] != last.Token {
				t.Errorf("second fetch returned %q, want the newest token %q", got[1], last.Token)
			}
			var want []string
			for _, l := range tc.wantDesc {
				want = append(want, strings.ReplaceAll(l, "FILE", file))
			}
			if diff := cmp.Diff(want, factLines(src.desc.facts())); diff != "" {
				t.Errorf("description (-want +got):\n%s", diff)
			}
		})
	}
}

// TestImpersonateServiceAccount: the metadata server's token buys the
// named service account's token from IAM Credentials, a new one per fetch.
func TestImpersonateServiceAccount(t *testing.T) {
	const sa = "vertex-runner@byok-test-project.iam.gserviceaccount.com"
	srv := startGCP(t, fakegcp.Options{})
	client, _ := googleHosts(t, srv)
	src, err := NewSource(SourceOptions{ImpersonateServiceAccount: sa, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 2 {
		tok, err := src.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tok.Value.Reveal())
	}
	var want []string
	for _, is := range srv.Issued() {
		if is.Via == "iam" {
			if is.Account != sa {
				t.Errorf("impersonated %q, want %q", is.Account, sa)
			}
			want = append(want, is.Token)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tokens (-iam issued +returned):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"credential: metadata server " + srv.Host + " (compute)",
		"service account: " + sa + " (impersonated)",
		"project: byok-test-project",
	}, factLines(src.desc.facts())); diff != "" {
		t.Errorf("description (-want +got):\n%s", diff)
	}
}

// TestRejectedTokenSearchesAgain: after the endpoint rejects a token (the
// cache's Invalidate), the next fetch runs ADC's search again, so a
// credential that was replaced — here GOOGLE_APPLICATION_CREDENTIALS set to
// a workload identity file while the metadata server was in use — is
// picked up without a restart; an ordinary refresh keeps the credential.
func TestRejectedTokenSearchesAgain(t *testing.T) {
	srv := startGCP(t, fakegcp.Options{SubjectToken: canarySubject})
	src, err := NewSource(SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cache := credential.NewCache(src, credential.CacheOptions{Name: "vertex"})
	defer cache.Close()
	ctx := context.Background()
	first, err := cache.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envCredentials, externalAccount(t, srv, canarySubject, ""))
	// An unforced fetch keeps the credential it found.
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	cache.Invalidate(first)
	second, err := cache.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var via []string
	for _, is := range srv.Issued() {
		via = append(via, is.Via)
	}
	if diff := cmp.Diff([]string{"metadata", "metadata", "sts"}, via); diff != "" {
		t.Errorf("tokens minted (-want +got):\n%s", diff)
	}
	if second.Value.Equal(first.Value) {
		t.Error("the rejected token was handed out again")
	}
	if !strings.HasPrefix(src.desc.from, envCredentials+" ") {
		t.Errorf("source now %q, want the GOOGLE_APPLICATION_CREDENTIALS file", src.desc.from)
	}
}

// factLines shows facts as `name: value` lines, for comparing.
func factLines(facts []kind.TokenFact) []string {
	var out []string
	for _, f := range facts {
		out = append(out, f.Name+": "+f.Value)
	}
	return out
}

// TestCredentials: Auth.Credentials finds the same credential as the
// kind's source but keeps the SDK's token cache (one metadata request for
// two tokens), and refuses a key file opened up to others.
func TestCredentials(t *testing.T) {
	srv := startGCP(t, fakegcp.Options{})
	creds, err := (&Auth{}).SDKCredentials(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 2 {
		tok, err := creds.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Check(tok.Value, time.Now()); err != nil {
			t.Fatal(err)
		}
		got = append(got, tok.Value)
	}
	if got[0] != got[1] || srv.Requests("metadata-token") != 1 {
		t.Errorf("%d metadata token requests for two tokens (same: %v), want one: the SDK's cache answers", srv.Requests("metadata-token"), got[0] == got[1])
	}

	key, _ := srv.ServiceAccountKey()
	file := writeFile(t, "sa.json", string(key))
	os.Chmod(file, 0o644)
	_, err = (&Auth{CredentialsFile: file}).SDKCredentials(context.Background())
	if err == nil || !strings.Contains(err.Error(), "gcp: credentials_file: secretfile: "+file+" is readable by group or others") {
		t.Errorf("credentials over a 0644 key file: %v", err)
	}
}
