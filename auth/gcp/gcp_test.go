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

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

const vertexURL = "https://europe-west4-aiplatform.googleapis.com/v1/projects/byok-test-project/locations/europe-west4/endpoints/openapi"

// loadErrors loads a one-provider config and returns its problems as
// "path: message" lines.
func loadErrors(t *testing.T, provider string) ([]string, *registry.Set) {
	t.Helper()
	path := configtest.Write(t, "providers:\n  p:\n"+provider)
	set, err := registry.Load(path, registry.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		var got []string
		for _, line := range strings.Split(err.Error(), "\n") {
			// drop FILE:LINE:COL: and the known-keys tail
			_, msg, _ := strings.Cut(line, ": ")
			msg, _, _ = strings.Cut(msg, " (known keys")
			got = append(got, msg)
		}
		return got, nil
	}
	t.Cleanup(func() { set.Close() })
	return nil, set
}

func TestGCPValidation(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.json")
	os.WriteFile(loose, []byte(`{"type":"service_account"}`), 0o644)
	os.Chmod(loose, 0o644)
	missing := filepath.Join(dir, "missing.json")
	tests := []struct {
		name    string
		typ     string
		baseURL string
		auth    string
		want    []string // error messages after the position
	}{
		{name: "defaults", auth: "{type: gcp}"},
		{name: "project and location agree", auth: "{type: gcp, project: byok-test-project, location: europe-west4}"},
		{name: "global endpoint", baseURL: "https://aiplatform.googleapis.com/v1/projects/byok-test-project/locations/global/endpoints/openapi", auth: "{type: gcp, location: global}"},
		{name: "project disagrees with base_url", auth: "{type: gcp, project: other-project}", want: []string{
			`providers.p.base_url: base_url is Vertex AI project "byok-test-project", but auth.project is "other-project"`,
		}},
		{name: "location disagrees with base_url", auth: "{type: gcp, location: us-central1}", want: []string{
			`providers.p.base_url: base_url is Vertex AI location "europe-west4", but auth.location is "us-central1"`,
		}},
		{name: "host of another region", baseURL: "https://us-central1-aiplatform.googleapis.com/v1/projects/byok-test-project/locations/europe-west4/endpoints/openapi", auth: "{type: gcp}", want: []string{
			`providers.p.base_url: base_url host us-central1-aiplatform.googleapis.com does not serve location "europe-west4" (want europe-west4-aiplatform.googleapis.com)`,
		}},
		{name: "vertex needs type openai", typ: "azure", auth: "{type: gcp}", want: []string{
			`providers.p.type: Vertex AI's OpenAI-compatible endpoint needs type openai, not "azure"`,
		}},
		{name: "key file readable by others", auth: "{type: gcp, credentials_file: " + loose + "}", want: []string{
			"providers.p.auth.credentials_file: secretfile: " + loose + " is readable by group or others (mode 0644); run: chmod 600 " + loose,
		}},
		{name: "key file missing", auth: "{type: gcp, credentials_file: " + missing + "}", want: []string{
			"providers.p.auth.credentials_file: cannot read credentials file: stat " + missing + ": no such file or directory",
		}},
		{name: "bad and repeated scopes", auth: "{type: gcp, scopes: [cloud-platform, 'https://www.googleapis.com/auth/cloud-platform', 'https://www.googleapis.com/auth/cloud-platform']}", want: []string{
			`providers.p.auth.scopes[0]: invalid scope "cloud-platform": want a Google OAuth scope URL such as https://www.googleapis.com/auth/cloud-platform`,
			"providers.p.auth.scopes[2]: scope https://www.googleapis.com/auth/cloud-platform is listed twice",
		}},
		{name: "bad ids", auth: "{type: gcp, project: My_Project, location: 'us central', impersonate_service_account: vertex}", want: []string{
			`providers.p.auth.project: invalid project id "My_Project": 6 to 30 lowercase letters, digits or hyphens, starting with a letter`,
			`providers.p.auth.location: invalid location "us central": want a Vertex AI region such as us-central1 or global`,
			`providers.p.auth.impersonate_service_account: invalid service account "vertex": want an email such as vertex@PROJECT.iam.gserviceaccount.com`,
		}},
		{name: "unknown key", auth: "{type: gcp, credential_file: x.json}", want: []string{
			`providers.p.auth.credential_file: unknown key "credential_file"; did you mean "credentials_file"?`,
		}},
		{name: "bad refresh", auth: "{type: gcp, refresh: hourly}", want: []string{
			`providers.p.auth.refresh: unknown refresh "hourly" (one of: per_request, per_session)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolateADC(t)
			typ, base := cmpOr(tc.typ, "openai"), cmpOr(tc.baseURL, vertexURL)
			got, _ := loadErrors(t, "    type: "+typ+"\n    base_url: "+base+"\n    model: gemini-2.5-flash\n    auth: "+tc.auth+"\n")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestServiceAccountKeyFile: a key file named by credentials_file signs
// its way to a token at the file's token_uri, the token describes the
// account and project, and no key material shows in the description.
func TestServiceAccountKeyFile(t *testing.T) {
	srv := startGCP(t, fakegcp.Options{Lifetime: 10 * time.Minute})
	key, keyPEM := srv.ServiceAccountKey()
	file := writeFile(t, "sa.json", string(key))
	_, set := loadErrors(t, "    type: openai\n    base_url: "+vertexURL+"\n    model: gemini-2.5-flash\n    auth: {type: gcp, credentials_file: "+file+"}\n")
	p, err := set.Provider("p")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Check(tok.Value.Reveal(), time.Now()); err != nil {
		t.Fatal(err)
	}
	desc := factLines(p.DescribeToken(tok))
	if diff := cmp.Diff([]string{
		"credential: credentials_file " + file + " (service_account)",
		"service account: vertex@byok-test-project.iam.gserviceaccount.com",
		"project: byok-test-project",
	}, desc); diff != "" {
		t.Errorf("description (-want +got):\n%s", diff)
	}
	keyBody := strings.Split(keyPEM, "\n")[1]
	if out := strings.Join(desc, "\n") + tok.Value.String(); strings.Contains(out, keyBody) || strings.Contains(out, tok.Value.Reveal()) {
		t.Errorf("description or token string shows a secret: %s", out)
	}
	// A key file opened up after the config was loaded is refused when the
	// source is built again, not read.
	os.Chmod(file, 0o644)
	if _, err := (&Auth{CredentialsFile: file}).Source(&kind.Build{}); err == nil || strings.Contains(err.Error(), keyBody) ||
		!strings.Contains(err.Error(), "is readable by group or others") {
		t.Errorf("source over a 0644 key file: %v", err)
	}
}

func TestDiagnose(t *testing.T) {
	srv, err := fakegcp.Start(fakegcp.Options{SubjectToken: canarySubject})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	key, _ := srv.ServiceAccountKey()
	tests := []struct {
		name  string
		setup func(t *testing.T)
		want  []kind.ChainLink
	}{
		{
			name:  "metadata server answers",
			setup: func(t *testing.T) { srv.Setenv(t) },
			want: []kind.ChainLink{
				{Name: "GOOGLE_APPLICATION_CREDENTIALS", Err: "GOOGLE_APPLICATION_CREDENTIALS is not set"},
				{Name: "gcloud well-known file", Err: "no file at HOME/.config/gcloud/application_default_credentials.json (gcloud auth application-default login writes it)"},
				{Name: "metadata server", Answered: true},
			},
		},
		{
			name: "key file answers, metadata server not consulted",
			setup: func(t *testing.T) {
				srv.Setenv(t)
				t.Setenv(envCredentials, writeFile(t, "sa.json", string(key)))
			},
			want: []kind.ChainLink{
				{Name: "GOOGLE_APPLICATION_CREDENTIALS", Answered: true},
				{Name: "gcloud well-known file", Err: "no file at HOME/.config/gcloud/application_default_credentials.json (gcloud auth application-default login writes it)"},
				{Name: "metadata server", Err: "answers, but ADC stops at GOOGLE_APPLICATION_CREDENTIALS"},
			},
		},
		{
			name: "well-known file fails, no metadata server",
			setup: func(t *testing.T) {
				dir := filepath.Join(os.Getenv("HOME"), ".config", "gcloud")
				os.MkdirAll(dir, 0o700)
				os.WriteFile(filepath.Join(dir, "application_default_credentials.json"), []byte(`{"type":"magic"}`), 0o600)
			},
			want: []kind.ChainLink{
				{Name: "GOOGLE_APPLICATION_CREDENTIALS", Err: "GOOGLE_APPLICATION_CREDENTIALS is not set"},
				{Name: "gcloud well-known file", Err: `type "magic" is not a credential type byokcred loads; want one of: service_account, authorized_user, external_account, external_account_authorized_user, impersonated_service_account (ADC stops here and fails)`},
				{Name: "metadata server", Err: "METADATA-ERR (not consulted: ADC stops at gcloud well-known file)"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			isolateADC(t)
			tc.setup(t)
			got := (&Auth{}).Diagnose(context.Background())
			for i := range got {
				got[i].Err = strings.ReplaceAll(got[i].Err, os.Getenv("HOME"), "HOME")
				if strings.Contains(got[i].Err, "127.0.0.1:1") && strings.Contains(got[i].Err, "connection refused") {
					got[i].Err = "METADATA-ERR" + got[i].Err[strings.Index(got[i].Err, " (not consulted"):]
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestBrokenKeyFileErrorsShowNoKeyMaterial: a key file whose key cannot be
// parsed fails with an error naming the file, never quoting the key.
func TestBrokenKeyFileErrorsShowNoKeyMaterial(t *testing.T) {
	const canary = "CANARYKEYMATERIAL0a1b2c3d4e5f"
	isolateADC(t)
	tests := []struct {
		name, key string
	}{
		{"not PEM", canary},
		{"PEM of garbage", "-----BEGIN PRIVATE KEY-----\n" + canary + "\n-----END PRIVATE KEY-----\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(map[string]string{"type": "service_account", "private_key": tc.key, "private_key_id": canary,
				"client_email": "x@byok-test-project.iam.gserviceaccount.com", "token_uri": "http://127.0.0.1:1/token"})
			file := writeFile(t, "sa.json", string(b))
			src, err := (&Auth{CredentialsFile: file}).Source(&kind.Build{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = src.Source.Token(context.Background())
			if err == nil {
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), "gcp: credentials_file "+file+": ") || strings.Contains(err.Error(), canary) {
				t.Errorf("error %q: want it to name the file and not quote the key", err)
			}
		})
	}
}
