package cli

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/kind"
)

// TestTokenAndDoctorDescribeGCP: `token` and `doctor` on a Vertex provider
// say which ADC source answered, with the service account, project and
// expiry, and never print the access token.
func TestTokenAndDoctorDescribeGCP(t *testing.T) {
	srv, err := fakegcp.Start(fakegcp.Options{Lifetime: 20 * time.Minute, Project: "vertex-proj-1", Email: "runner@vertex-proj-1.iam.gserviceaccount.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	srv.Setenv(t)
	cfg := writeFile(t, "byokcred.yaml", `providers:
  vertex:
    type: openai
    base_url: https://us-central1-aiplatform.googleapis.com/v1/projects/vertex-proj-1/locations/us-central1/endpoints/openapi
    model: google/gemini-2.5-flash
    auth: {type: gcp, project: vertex-proj-1, location: us-central1}
`)
	r := run(t, nil, "-c", cfg, "token", "vertex")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, w := range []string{
		"kind:             bearer",
		"expires:          ",
		"credential:       metadata server " + srv.Host + " (compute)",
		"service account:  runner@vertex-proj-1.iam.gserviceaccount.com",
		"project:          vertex-proj-1",
	} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("output lacks %q:\n%s", w, r.stdout)
		}
	}
	// The metadata server's expires_in (20 minutes), not the SDK's view of it.
	if !regexp.MustCompile(`expires: +\S+ \(in (19m5\ds|20m0s)\)`).MatchString(r.stdout) {
		t.Errorf("want an expiry in 20 minutes:\n%s", r.stdout)
	}
	r = run(t, nil, "-c", cfg, "token", "vertex", "--json")
	var out tokenOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err, r.stdout)
	}
	if diff := cmp.Diff([]kind.TokenFact{
		{Name: "credential", Value: "metadata server " + srv.Host + " (compute)"},
		{Name: "service account", Value: "runner@vertex-proj-1.iam.gserviceaccount.com"},
		{Name: "project", Value: "vertex-proj-1"},
	}, out.Facts); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	doc := run(t, nil, "-c", cfg, "doctor", "vertex")
	if doc.code != 0 {
		t.Fatalf("doctor exit %d: %s%s", doc.code, doc.stdout, doc.stderr)
	}
	for _, w := range []string{
		"metadata server answered; GOOGLE_APPLICATION_CREDENTIALS: GOOGLE_APPLICATION_CREDENTIALS is not set; gcloud well-known file: no file at",
		"credential: metadata server " + srv.Host + " (compute); service account: runner@vertex-proj-1.iam.gserviceaccount.com; project: vertex-proj-1",
	} {
		if !strings.Contains(doc.stdout, w) {
			t.Errorf("doctor output lacks %q:\n%s", w, doc.stdout)
		}
	}
	issued := srv.Issued()
	if len(issued) == 0 {
		t.Fatal("no token minted")
	}
	for _, is := range issued {
		if strings.Contains(r.stdout+r.stderr+doc.stdout+doc.stderr, is.Token) {
			t.Errorf("a minted access token was printed")
		}
	}
}

// TestGCPSecretsNeverPrinted: with metadata-server tokens, a
// service-account key file and a refused external_account subject token,
// no command at any log level prints an access token, key material or the
// subject token.
func TestGCPSecretsNeverPrinted(t *testing.T) {
	const subject = "CANARY-gcp-subject-4c3b2a19"
	srv, err := fakegcp.Start(fakegcp.Options{SubjectToken: "another-subject"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	srv.Setenv(t)
	key, keyPEM := srv.ServiceAccountKey()
	keyFile := writeFile(t, "sa.json", string(key))
	subjectFile := writeFile(t, "subject", subject)
	ext := writeFile(t, "ext.json", `{"type":"external_account","audience":"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
"subject_token_type":"urn:ietf:params:oauth:token-type:jwt","token_url":"`+srv.URL+`/v1/token","credential_source":{"file":"`+subjectFile+`"}}`)
	cfg := writeFile(t, "byokcred.yaml", `providers:
  md: {type: openai, base_url: https://x.example/v1, model: m, auth: {type: gcp}}
  key: {type: openai, base_url: https://x.example/v1, model: m, auth: {type: gcp, credentials_file: `+keyFile+`}}
  ext: {type: openai, base_url: https://x.example/v1, model: m, auth: {type: gcp, credentials_file: `+ext+`}}
`)
	keyLines := strings.Split(keyPEM, "\n")[1:4]
	for _, level := range []string{"debug", "error"} {
		for _, format := range []string{"text", "json"} {
			for _, c := range [][]string{
				{"validate"}, {"providers"}, {"doctor"}, {"doctor", "--json"},
				{"token", "md"}, {"token", "key", "--json"}, {"token", "ext"},
				{"copilot-env", "--agent", "off", "md"}, {"copilot-env", "--agent", "off", "ext"},
			} {
				r := run(t, nil, append([]string{"-c", cfg, "--log-level", level, "--log-format", format}, c...)...)
				all := r.stdout + r.stderr
				secrets := append([]string{subject}, keyLines...)
				for _, is := range srv.Issued() {
					secrets = append(secrets, is.Token)
				}
				for _, s := range secrets {
					if strings.Contains(all, s) {
						t.Errorf("%v (%s/%s, exit %d) printed a secret:\n%s", c, level, format, r.code, all)
						break
					}
				}
			}
		}
	}
	if len(srv.Issued()) == 0 || len(srv.Rejected()) == 0 {
		t.Errorf("want tokens minted and the subject token refused: issued %d, rejected %v", len(srv.Issued()), srv.Rejected())
	}
}
