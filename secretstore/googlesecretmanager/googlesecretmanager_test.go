package googlesecretmanager_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/internal/testkit/fakesecretmanager"
	"github.com/byokcred/byokcred/internal/testkit/storetest"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
	_ "github.com/byokcred/byokcred/secretstore/googlesecretmanager"
)

const (
	canary  = "sk-CANARY-5e0c9b1d"
	account = "vertex@byok-test-project.iam.gserviceaccount.com" // fakegcp's metadata account
	project = "byok-test-project"
	global  = "projects/byok-test-project/secrets/openai-key"
)

// isolateADC makes gcp's metadata server the only source of Application
// Default Credentials, and points it at host.
func isolateADC(t *testing.T, host string) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	t.Setenv("GCE_METADATA_HOST", host)
	t.Setenv("GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED", "")
}

// start runs the identity and Secret Manager fakes and points the store at
// them: the identity through the environment, Secret Manager through the
// client storetest.Load is given (sm.Client()).
func start(t *testing.T) (*fakegcp.Server, *fakesecretmanager.Server) {
	t.Helper()
	g, err := fakegcp.Start(fakegcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	isolateADC(t, g.Host)
	sm, err := fakesecretmanager.Start(fakesecretmanager.Options{GCP: g})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Close() })
	return g, sm
}

func TestValidation(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.json")
	ref := func(name, body string) string {
		return "  " + name + ":\n    type: openai\n    base_url: https://a.example\n    model: m\n    auth:\n      type: static\n      api_key_secret:\n        store: google_secret_manager\n" + body
	}
	path := configtest.Write(t, "providers:\n"+
		ref("ok1", "        secret: projects/byok-test-project/secrets/openai-key\n")+
		ref("ok2", "        secret: projects/123456789012/locations/europe-west4/secrets/Key_2/versions/7\n")+
		ref("ok3", "        secret: projects/byok-test-project/secrets/k\n        version: latest\n        auth: {scopes: ['https://www.googleapis.com/auth/cloud-platform']}\n")+
		ref("a", "        secret: my-secret\n")+
		ref("b", "        secret: projects/p/secrets/s\n")+
		ref("c", "        secret: projects/byok-test-project/secrets/a.b\n")+
		ref("d", "        secret: projects/byok-test-project/locations/global/secrets/s\n")+
		ref("e", "        secret: projects/byok-test-project/secrets/s/versions/2\n        version: '3'\n")+
		ref("f", "        secret: projects/byok-test-project/secrets/s\n        version: current\n        version_stage: AWSCURRENT\n")+
		ref("g", "        secret: projects/byok-test-project/secrets/s/versions/0\n")+
		ref("h", "        secret: projects/byok-test-project/secrets/s\n        auth:\n          project: byok-test-project\n          location: us-central1\n          refresh: per_session\n")+
		ref("i", "        secret: projects/byok-test-project/secrets/s\n        auth: {impersonate_service_account: reader, scopes: [cloud-platform], credentials_file: "+missing+"}\n")+
		ref("j", "        secret: projects/byok-test-project/secrets/s\n        auth: {type: gcp}\n")+
		ref("k", "        version: '3'\n"))
	_, err := registry.Load(path, registry.Options{})
	if err == nil {
		t.Fatal("want errors")
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
	want := []string{
		`c.yaml:39:17: providers.a.auth.api_key_secret.secret: invalid Secret Manager secret "my-secret": want projects/PROJECT/secrets/NAME or projects/PROJECT/locations/REGION/secrets/NAME, optionally followed by /versions/N`,
		`c.yaml:48:17: providers.b.auth.api_key_secret.secret: invalid Secret Manager secret "projects/p/secrets/s": project "p" is neither a project id (6 to 30 lowercase letters, digits or hyphens, starting with a letter) nor a project number`,
		`c.yaml:57:17: providers.c.auth.api_key_secret.secret: invalid Secret Manager secret "projects/byok-test-project/secrets/a.b": the secret id "a.b" must be 1 to 255 letters, digits, underscores or hyphens`,
		`c.yaml:66:17: providers.d.auth.api_key_secret.secret: invalid Secret Manager secret "projects/byok-test-project/locations/global/secrets/s": a global secret is named projects/byok-test-project/secrets/s, without locations/global`,
		`c.yaml:76:18: providers.e.auth.api_key_secret.version: the secret "projects/byok-test-project/secrets/s/versions/2" already names version 2; keep one of version and /versions/ in secret`,
		`c.yaml:86:18: providers.f.auth.api_key_secret.version: invalid version "current": a version number (1, 2, …) or latest`,
		`c.yaml:87:9: providers.f.auth.api_key_secret.version_stage: unknown key "version_stage" (known keys: auth, json_key, refresh_interval, secret, store, version)`,
		`c.yaml:96:17: providers.g.auth.api_key_secret.secret: invalid Secret Manager secret "projects/byok-test-project/secrets/s/versions/0": version "0" is neither a version number nor latest`,
		`c.yaml:107:20: providers.h.auth.api_key_secret.auth.project: project is a Vertex AI key and does not apply to a secret's credential; the secret's name says its project and location, refresh_interval when it is re-read`,
		`c.yaml:108:21: providers.h.auth.api_key_secret.auth.location: location is a Vertex AI key and does not apply to a secret's credential; the secret's name says its project and location, refresh_interval when it is re-read`,
		`c.yaml:109:20: providers.h.auth.api_key_secret.auth.refresh: refresh is a Vertex AI key and does not apply to a secret's credential; the secret's name says its project and location, refresh_interval when it is re-read`,
		`c.yaml:119:45: providers.i.auth.api_key_secret.auth.impersonate_service_account: invalid service account "reader": want an email such as vertex@PROJECT.iam.gserviceaccount.com`,
		`c.yaml:119:62: providers.i.auth.api_key_secret.auth.scopes[0]: invalid scope "cloud-platform": want a Google OAuth scope URL such as https://www.googleapis.com/auth/cloud-platform`,
		`c.yaml:119:97: providers.i.auth.api_key_secret.auth.credentials_file: cannot read credentials file: stat ` + missing + `: no such file or directory`,
		`c.yaml:129:16: providers.j.auth.api_key_secret.auth.type: unknown key "type" (known keys: credentials_file, impersonate_service_account, location, project, refresh, scopes, universe_domain)`,
		`c.yaml:136:7: providers.k.auth.api_key_secret: missing key "secret": the Secret Manager secret's resource name, projects/PROJECT/secrets/NAME`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s\ngot:\n%s", diff, strings.Join(got, "\n"))
	}
}

// TestLatestFollowsRotation: an unpinned secret reads the latest version
// with the metadata server's identity, keeps it until the refresh interval
// or a rejection (Invalidate), then reads the new version; the token
// describes the reference and the version read, and no value reaches the
// log, an error or a formatted token.
func TestLatestFollowsRotation(t *testing.T) {
	g, sm := start(t)
	sm.AddVersion(global, canary+"-1")
	sm.Allow(global, account)
	clock, logs := fakeclock.New(), new(syncbuf.Buffer)
	p := storetest.Load(t, clock, logs, sm.Client(), "      api_key_secret: {store: google_secret_manager, secret: "+global+", refresh_interval: 1m}\n")

	if got := storetest.Value(t, p); got != canary+"-1" {
		t.Fatalf("first read = %q", got)
	}
	sm.AddVersion(global, canary+"-2")
	clock.Advance(30 * time.Second)
	if got := storetest.Value(t, p); got != canary+"-1" || sm.Requests() != 1 {
		t.Errorf("before the interval: %q after %d reads, want the first value from one read", got, sm.Requests())
	}
	tok, _ := p.Token(context.Background())
	p.Cache.Invalidate(tok)
	if got := storetest.Value(t, p); got != canary+"-2" {
		t.Errorf("after Invalidate got %q, want version 2", got)
	}
	sm.AddVersion(global, canary+"-3")
	clock.Advance(61 * time.Second)
	storetest.Eventually(t, "version 3 after the interval", func() bool { return storetest.Value(t, p) == canary+"-3" })

	tok, _ = p.Token(context.Background())
	if diff := cmp.Diff([]kind.TokenFact{
		{Name: "secret", Value: global},
		{Name: "version", Value: "3"},
		{Name: "read", Value: "0s ago"},
	}, p.DescribeToken(tok)); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"/v1/" + global + "/versions/latest:access",
		"/v1/" + global + "/versions/latest:access",
		"/v1/" + global + "/versions/latest:access",
	}, sm.Paths()); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	want := []string{"projects/123456789012/secrets/openai-key/versions/1", "projects/123456789012/secrets/openai-key/versions/2", "projects/123456789012/secrets/openai-key/versions/3"}
	if diff := cmp.Diff(want, sm.Reads(account)); diff != "" {
		t.Errorf("versions read by %s (-want +got):\n%s", account, diff)
	}
	// The SDK's token cache answers: one metadata token for three reads.
	if n := g.Requests("metadata-token"); n != 1 {
		t.Errorf("%d metadata token requests, want 1", n)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%v %+v %#v %s %v", tok, tok, tok, tok.Value, p.DescribeToken(tok))
	if out := buf.String() + logs.String(); strings.Contains(out, canary) {
		t.Errorf("a secret value shows:\n%s", out)
	}
}

// TestPinnedVersion: a version pinned either way is read, not the latest,
// and names the reference.
func TestPinnedVersion(t *testing.T) {
	for name, block := range map[string]string{
		"version key":    "{store: google_secret_manager, secret: " + global + ", version: '1'}",
		"in the name":    "{store: google_secret_manager, secret: " + global + "/versions/1}",
		"project number": "{store: google_secret_manager, secret: 'projects/123456789012/secrets/openai-key/versions/1'}",
	} {
		t.Run(name, func(t *testing.T) {
			_, sm := start(t)
			sm.AddVersion(global, canary+"-1")
			sm.AddVersion(global, canary+"-2")
			sm.Allow(global, account)
			p := storetest.Load(t, fakeclock.New(), new(syncbuf.Buffer), sm.Client(), "      api_key_secret: "+block+"\n")
			if got := storetest.Value(t, p); got != canary+"-1" {
				t.Errorf("read %q, want version 1", got)
			}
			tok, _ := p.Token(context.Background())
			facts := p.DescribeToken(tok)
			if len(facts) < 2 || !strings.HasSuffix(facts[0].Value, "/secrets/openai-key/versions/1") || facts[1] != (kind.TokenFact{Name: "version", Value: "1"}) {
				t.Errorf("facts %v, want the pinned reference and version 1", facts)
			}
			if paths := sm.Paths(); len(paths) != 1 || !strings.HasSuffix(paths[0], "/secrets/openai-key/versions/1:access") {
				t.Errorf("paths %v", paths)
			}
		})
	}
}

// TestEndpoints: a global secret is read at secretmanager.googleapis.com,
// a regional one at its region's endpoint, each under its own name.
func TestEndpoints(t *testing.T) {
	tests := []struct {
		name, secret, host, path string
	}{
		{"global", global, "secretmanager.googleapis.com", "/v1/" + global + "/versions/latest:access"},
		{"regional", "projects/byok-test-project/locations/europe-west4/secrets/openai-key", "secretmanager.europe-west4.rep.googleapis.com",
			"/v1/projects/byok-test-project/locations/europe-west4/secrets/openai-key/versions/latest:access"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, sm := start(t)
			sm.AddVersion(tc.secret, canary)
			sm.Allow(tc.secret, account)
			p := storetest.Load(t, fakeclock.New(), new(syncbuf.Buffer), sm.Client(), "      api_key_secret: {store: google_secret_manager, secret: "+tc.secret+"}\n")
			if got := storetest.Value(t, p); got != canary {
				t.Errorf("read %q", got)
			}
			if diff := cmp.Diff([]string{tc.host}, sm.Hosts()); diff != "" {
				t.Errorf("hosts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{tc.path}, sm.Paths()); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadErrors: each way a read fails says what happened and what to do,
// names the reference, and never shows the value.
func TestReadErrors(t *testing.T) {
	const stored = "projects/byok-test-project/secrets/s"
	tests := []struct {
		name   string
		secret string
		setup  func(sm *fakesecretmanager.Server)
		want   string
	}{
		{
			name: "secret not found", secret: "projects/byok-test-project/secrets/gone",
			want: "static: secret projects/byok-test-project/secrets/gone: googlesecretmanager: 404 NOT_FOUND (Secret [projects/123456789012/secrets/gone] not found or has no versions.): no such secret or version; check the name and the version against `gcloud secrets versions list gone --project byok-test-project`",
		},
		{
			name: "version not found", secret: stored + "/versions/9",
			want: "static: secret projects/byok-test-project/secrets/s/versions/9: googlesecretmanager: 404 NOT_FOUND (Secret Version [projects/123456789012/secrets/s/versions/9] not found.): no such secret or version; check the name and the version against `gcloud secrets versions list s --project byok-test-project`",
		},
		{
			name: "permission denied", secret: "projects/byok-test-project/locations/europe-west4/secrets/s",
			setup: func(sm *fakesecretmanager.Server) {
				sm.AddVersion("projects/byok-test-project/locations/europe-west4/secrets/s", canary)
				sm.Allow("projects/byok-test-project/locations/europe-west4/secrets/s", "someone-else@byok-test-project.iam.gserviceaccount.com")
			},
			want: "static: secret projects/byok-test-project/locations/europe-west4/secrets/s: googlesecretmanager: 403 PERMISSION_DENIED (Permission 'secretmanager.versions.access' denied for resource 'projects/byok-test-project/locations/europe-west4/secrets/s/versions/latest' (or it may not exist).): grant roles/secretmanager.secretAccessor on the secret to " + account + " (gcloud secrets add-iam-policy-binding s --project byok-test-project --location europe-west4 --role roles/secretmanager.secretAccessor --member serviceAccount:" + account + ")",
		},
		{
			name: "latest disabled", secret: stored,
			setup: func(sm *fakesecretmanager.Server) { sm.AddVersion(stored, canary+"-2"); sm.Disable(stored, "2") },
			want:  "static: secret projects/byok-test-project/secrets/s: googlesecretmanager: 400 FAILED_PRECONDITION (Secret Version [projects/123456789012/secrets/s/versions/2] is in DISABLED state.): the version is disabled or destroyed; enable it, add a new version, or pin an enabled one (`gcloud secrets versions list s --project byok-test-project`)",
		},
		{
			name: "outage", secret: stored,
			setup: func(sm *fakesecretmanager.Server) { sm.Down(true) },
			want:  "static: secret projects/byok-test-project/secrets/s: googlesecretmanager: 503 UNAVAILABLE (The service is currently unavailable.): Secret Manager is unavailable; a value read before stays in use, and the read is retried",
		},
		{
			name: "bad checksum", secret: stored,
			setup: func(sm *fakesecretmanager.Server) { sm.CorruptChecksum(true) },
			want:  "static: secret projects/byok-test-project/secrets/s: googlesecretmanager: version 1: the payload does not match its CRC32C checksum (corrupted on the way); it is read again at the next refresh",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, sm := start(t)
			sm.AddVersion(stored, canary)
			sm.Allow(stored, account)
			if tc.setup != nil {
				tc.setup(sm)
			}
			logs := new(syncbuf.Buffer)
			p := storetest.Load(t, fakeclock.New(), logs, sm.Client(), "      api_key_secret: {store: google_secret_manager, secret: '"+tc.secret+"'}\n")
			_, err := p.Token(context.Background())
			if err == nil {
				t.Fatal("want an error")
			}
			// The provider's cache may add its own prefix.
			got := err.Error()
			if i := strings.Index(got, "static: secret "); i >= 0 {
				got = got[i:]
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error()+logs.String(), canary) {
				t.Errorf("the error or the log shows the secret:\n%v\n%s", err, logs)
			}
		})
	}
}

// TestKeyFileCredential: the auth block's credentials_file reads the
// secret (a key-file token, not the metadata server's), and a denied read
// names the key file's service account.
func TestKeyFileCredential(t *testing.T) {
	g, sm := start(t)
	key, _ := g.ServiceAccountKey()
	file := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(file, key, 0o600); err != nil {
		t.Fatal(err)
	}
	sm.AddVersion(global, canary)
	sm.Allow(global, account)
	p := storetest.Load(t, fakeclock.New(), new(syncbuf.Buffer), sm.Client(), "      api_key_secret: {store: google_secret_manager, secret: "+global+", auth: {credentials_file: "+file+"}}\n")
	if got := storetest.Value(t, p); got != canary {
		t.Errorf("read %q", got)
	}
	if o, m := g.Requests("oauth2"), g.Requests("metadata-token"); o != 1 || m != 0 {
		t.Errorf("%d key-file and %d metadata token requests, want 1 and 0", o, m)
	}

	const denied = "projects/byok-test-project/secrets/other"
	sm.AddVersion(denied, canary)
	p = storetest.Load(t, fakeclock.New(), new(syncbuf.Buffer), sm.Client(), "      api_key_secret: {store: google_secret_manager, secret: "+denied+", auth: {credentials_file: "+file+"}}\n")
	_, err := p.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "grant roles/secretmanager.secretAccessor on the secret to "+account+" ") {
		t.Errorf("err = %v, want it to name the key file's account", err)
	}
	if n := g.Requests("email"); n != 0 {
		t.Errorf("%d metadata email requests: the account comes from the key file", n)
	}
}

// TestDiagnose: doctor's chain for a secret's credential is gcp's
// Application Default Credentials walk.
func TestDiagnose(t *testing.T) {
	_, sm := start(t)
	p := storetest.Load(t, fakeclock.New(), new(syncbuf.Buffer), sm.Client(), "      api_key_secret: {store: google_secret_manager, secret: "+global+"}\n")
	d, ok := p.Auth.(kind.Diagnoser)
	if !ok {
		t.Fatal("static auth is not a Diagnoser")
	}
	got := d.Diagnose(context.Background())
	for i := range got {
		got[i].Err = strings.ReplaceAll(got[i].Err, os.Getenv("HOME"), "HOME")
	}
	want := []kind.ChainLink{
		{Name: "GOOGLE_APPLICATION_CREDENTIALS", Err: "GOOGLE_APPLICATION_CREDENTIALS is not set"},
		{Name: "gcloud well-known file", Err: "no file at HOME/.config/gcloud/application_default_credentials.json (gcloud auth application-default login writes it)"},
		{Name: "metadata server", Answered: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestRefusedCredentialIsFoundAgain: a token Secret Manager does not
// accept (a key file of another identity provider) is a clear 401 error,
// and the next read searches for the credential again, so a replaced key
// file is used without a restart.
func TestRefusedCredentialIsFoundAgain(t *testing.T) {
	g, sm := start(t)
	other, err := fakegcp.Start(fakegcp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	sm.AddVersion(global, canary)
	sm.Allow(global, account)
	file := filepath.Join(t.TempDir(), "sa.json")
	foreign, _ := other.ServiceAccountKey()
	if err := os.WriteFile(file, foreign, 0o600); err != nil {
		t.Fatal(err)
	}
	clock := fakeclock.New()
	p := storetest.Load(t, clock, new(syncbuf.Buffer), sm.Client(), "      api_key_secret: {store: google_secret_manager, secret: "+global+", auth: {credentials_file: "+file+"}}\n")
	_, err = p.Token(context.Background())
	const want = "static: secret " + global + ": googlesecretmanager: 401 UNAUTHENTICATED (Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. (token not issued by this server)): Secret Manager did not accept the access token; check the credential the reference's auth block selects"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("err = %v\nwant it to end in %s", err, want)
	}
	good, _ := g.ServiceAccountKey()
	if err := os.WriteFile(file, good, 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second) // past the cache's backoff
	storetest.Eventually(t, "a read with the replaced key file", func() bool {
		tok, err := p.Token(context.Background())
		return err == nil && tok.Value.Reveal() == canary
	})
}

// TestJSONWithoutJSONKey: a secret holding several vendors' keys, read
// without json_key, is refused naming its fields, never sent whole (issue
// 23, finding 4).
func TestJSONWithoutJSONKey(t *testing.T) {
	_, sm := start(t)
	v := sm.AddVersion(global, storetest.TwoVendors)
	sm.Allow(global, account)
	logs := new(syncbuf.Buffer)
	p := storetest.Load(t, fakeclock.New(), logs, sm.Client(), "      api_key_secret: {store: google_secret_manager, secret: "+global+"}\n")
	storetest.Refused(t, p, logs, []string{
		"static: secret " + global + ": version " + v +
			` holds a JSON object with fields "anthropic", "openai", not a key: set json_key`,
	}, storetest.OpenAICanary, storetest.AnthropicCanary)
}

// TestOversizedValue: an answer is read up to a bound, and a value over 64
// KiB is refused, naming the reference and the size, never the value (issue
// 23, finding 17).
func TestOversizedValue(t *testing.T) {
	tests := []struct {
		name string
		size int
		want string
	}{
		{"1 MiB: the answer is cut", 1 << 20, "a secret is at most 65536 bytes"},
		{"100 KiB: the value is refused", 100 << 10, ": the secret's value is 102400 bytes; a credential is at most 65536 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, sm := start(t)
			sm.AddVersion(global, storetest.Oversized(tc.size))
			sm.Allow(global, account)
			logs := new(syncbuf.Buffer)
			p := storetest.Load(t, fakeclock.New(), logs, sm.Client(), "      api_key_secret: {store: google_secret_manager, secret: "+global+"}\n")
			storetest.Refused(t, p, logs, []string{"static: secret " + global + ": ", tc.want}, storetest.OversizedCanary, "xxxxxxxx")
		})
	}
}
