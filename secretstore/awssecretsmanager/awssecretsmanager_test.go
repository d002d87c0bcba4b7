package awssecretsmanager_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	_ "github.com/byokcred/byokcred/auth/static"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
	"github.com/byokcred/byokcred/internal/testkit/fakesecretsmanager"
	"github.com/byokcred/byokcred/internal/testkit/storetest"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
	_ "github.com/byokcred/byokcred/secretstore/awssecretsmanager"
)

const canary = "sk-CANARY-5e1b2c94"

// world is the fakes a test reads secrets from: container credentials from
// fakeaws, Secrets Manager in us-east-1 through the SDK's own
// AWS_ENDPOINT_URL_SECRETS_MANAGER.
type world struct {
	creds *fakeaws.Server
	sm    *fakesecretsmanager.Server
	logs  *syncbuf.Buffer
	clock *fakeclock.Clock
	// client is the program's HTTP client (registry.Options.HTTPClient);
	// sent counts the requests it carried.
	client *http.Client
	sent   *counter
}

// counter is a transport that counts the requests it carries to the
// fakes.
type counter struct{ n atomic.Int32 }

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	creds, err := fakeaws.Start(fakeaws.Options{Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { creds.Close() })
	creds.Setenv(t)
	sm, err := fakesecretsmanager.Start(fakesecretsmanager.Options{Region: "us-east-1", Lookup: creds.Lookup})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Close() })
	sm.Setenv(t)
	// One attempt per read: the registry's cache retries, and the SDK's
	// backoff between attempts would only slow the failure cases down.
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	sent := new(counter)
	return &world{creds: creds, sm: sm, logs: new(syncbuf.Buffer), clock: fakeclock.New(), client: &http.Client{Transport: sent}, sent: sent}
}

func TestValidation(t *testing.T) {
	fakeaws.Isolate(t)
	provider := func(name, ref string) string {
		return fmt.Sprintf("  %s:\n    type: openai\n    base_url: https://a.example\n    model: m\n    auth:\n      type: static\n      api_key_secret:\n%s", name, ref)
	}
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-AbCdEf"
	path := configtest.Write(t, "providers:\n"+strings.Join([]string{
		provider("bad_arn", "        store: aws_secrets_manager\n        secret: arn:aws:secretsmanager:us-east-1:1234:secret:x\n"),
		provider("bad_name", "        store: aws_secrets_manager\n        secret: \"my key!\"\n"),
		provider("name_no_auth", "        store: aws_secrets_manager\n        secret: prod/openai\n"),
		provider("name_no_region", "        store: aws_secrets_manager\n        secret: prod/openai\n        auth:\n          role_arn: arn:aws:iam::123456789012:role/reader\n"),
		provider("regions_disagree", "        store: aws_secrets_manager\n        secret: "+arn+"\n        auth: {region: eu-west-1}\n"),
		provider("bad_region", "        store: aws_secrets_manager\n        secret: prod/openai\n        auth: {region: US-EAST-1}\n"),
		provider("misspelt_region", "        store: aws_secrets_manager\n        secret: prod/openai\n        auth: {regin: us-east-1}\n"),
		provider("bad_version", "        store: aws_secrets_manager\n        secret: "+arn+"\n        version: v1\n"),
		provider("bad_stage", "        store: aws_secrets_manager\n        secret: "+arn+"\n        version_stage: \"AWS CURRENT\"\n"),
		provider("external_id_alone", "        store: aws_secrets_manager\n        secret: "+arn+"\n        auth: {external_id: x}\n"),
		provider("bad_role", "        store: aws_secrets_manager\n        secret: "+arn+"\n        auth: {role_arn: reader}\n"),
		provider("unknown_profile", "        store: aws_secrets_manager\n        secret: "+arn+"\n        auth: {profile: nosuch}\n"),
		provider("type_in_auth", "        store: aws_secrets_manager\n        secret: "+arn+"\n        auth: {type: aws}\n"),
		provider("no_secret", "        store: aws_secrets_manager\n        version_stage: AWSPREVIOUS\n"),
		// Valid references: no error may point at these.
		provider("ok_arn", "        store: aws_secrets_manager\n        secret: "+arn+"\n"),
		provider("ok_partial_arn_cn", "        store: aws_secrets_manager\n        secret: arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:openai\n        auth: {region: cn-north-1}\n"),
		provider("ok_name", "        store: aws_secrets_manager\n        secret: prod/openai\n        auth: {region: eu-west-1, role_arn: \"arn:aws:iam::123456789012:role/reader\", external_id: e, session_name: byok}\n"),
		provider("ok_pinned", "        store: aws_secrets_manager\n        secret: "+arn+"\n        version: 0f1e2d3c-4b5a-6978-8a9b-acbdcedfe0f1\n        version_stage: AWSPREVIOUS\n"),
	}, ""))
	_, err := registry.Load(path, registry.Options{})
	if err == nil {
		t.Fatal("want errors")
	}
	msg := strings.ReplaceAll(err.Error(), path, "c.yaml")
	msg = strings.ReplaceAll(msg, os.Getenv("AWS_CONFIG_FILE"), "CONFIG")
	msg = strings.ReplaceAll(msg, os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), "CREDENTIALS")
	got := strings.Split(msg, "\n")
	want := []string{
		`c.yaml:10:17: providers.bad_arn.auth.api_key_secret.secret: "arn:aws:secretsmanager:us-east-1:1234:secret:x" is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf)`,
		`c.yaml:19:17: providers.bad_name.auth.api_key_secret.secret: "my key!" is neither a secret name (1 to 512 letters, digits and /_+=.@-) nor a secret ARN`,
		"c.yaml:26:7: providers.name_no_auth.auth.api_key_secret: secret prod/openai is a name, so its region is needed: add auth: {region: REGION} (e.g. us-east-1), or give the secret's ARN",
		`c.yaml:38:9: providers.name_no_region.auth.api_key_secret.auth: missing key "region": secret prod/openai is a name, so its region is needed (e.g. us-east-1), or give the secret's ARN`,
		"c.yaml:49:24: providers.regions_disagree.auth.api_key_secret.auth.region: region eu-west-1 disagrees with the secret's ARN, which is in us-east-1: leave region out or make them agree",
		`c.yaml:59:24: providers.bad_region.auth.api_key_secret.auth.region: "US-EAST-1" is not an AWS region name (like us-east-1)`,
		`c.yaml:69:16: providers.misspelt_region.auth.api_key_secret.auth.regin: unknown key "regin"; did you mean "region"? (known keys: external_id, profile, region, role_arn, session_name)`,
		"c.yaml:79:18: providers.bad_version.auth.api_key_secret.version: version \"v1\" is not a Secrets Manager VersionId (32 to 64 characters, usually a UUID; `aws secretsmanager list-secret-version-ids` lists them)",
		`c.yaml:89:24: providers.bad_stage.auth.api_key_secret.version_stage: version_stage "AWS CURRENT" is not a staging label (1 to 256 characters without spaces, such as AWSCURRENT or AWSPREVIOUS)`,
		"c.yaml:99:29: providers.external_id_alone.auth.api_key_secret.auth.external_id: external_id applies only with role_arn",
		`c.yaml:109:26: providers.bad_role.auth.api_key_secret.auth.role_arn: "reader" is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)`,
		"c.yaml:119:25: providers.unknown_profile.auth.api_key_secret.auth.profile: profile nosuch is not defined in CONFIG or CREDENTIALS",
		`c.yaml:129:16: providers.type_in_auth.auth.api_key_secret.auth.type: unknown key "type" (known keys: external_id, profile, region, role_arn, session_name)`,
		`c.yaml:136:7: providers.no_secret.auth.api_key_secret: missing key "secret": the Secrets Manager secret's name or ARN`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s\ngot:\n%s", diff, strings.Join(got, "\n"))
	}
}

// TestRotation follows a secret through rotation: re-read every
// refresh_interval, at once after an upstream rejection, with one set of
// container credentials (cached by the SDK) signing every read.
func TestRotation(t *testing.T) {
	w := newWorld(t)
	w.sm.Put("openai", canary+"-1")
	arn := w.sm.ARN("openai")
	p := w.load(t, "      api_key_secret: {store: aws_secrets_manager, secret: \""+arn+"\", refresh_interval: 1m}")

	if got := storetest.Value(t, p); got != canary+"-1" {
		t.Fatalf("first read = %q", got)
	}
	// The program's client (registry.Options.HTTPClient) carried the read.
	if n, reads := w.sent.n.Load(), int32(w.sm.Requests()); n < reads || reads != 1 {
		t.Errorf("the injected client carried %d requests for %d reads, want every read", n, reads)
	}
	w.sm.Put("openai", canary+"-2")
	w.clock.Advance(30 * time.Second)
	if got := storetest.Value(t, p); got != canary+"-1" || w.sm.Requests() != 1 {
		t.Fatalf("before the interval: %q after %d requests, want the first value from one", got, w.sm.Requests())
	}
	w.clock.Advance(31 * time.Second)
	storetest.Eventually(t, "the rotated value", func() bool { return storetest.Value(t, p) == canary+"-2" })

	w.sm.Put("openai", canary+"-3")
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.Cache.Invalidate(tok)
	if got := storetest.Value(t, p); got != canary+"-3" {
		t.Errorf("after Invalidate got %q, want the current version", got)
	}

	issued := w.creds.Issued()
	if len(issued) != 1 {
		t.Fatalf("the container endpoint issued %d credential sets, want 1 (the SDK caches them)", len(issued))
	}
	want := []string{issued[0].AccessKeyID, issued[0].AccessKeyID, issued[0].AccessKeyID}
	if diff := cmp.Diff(want, w.sm.Readers()); diff != "" {
		t.Errorf("reads signed by (-want +got):\n%s", diff)
	}
	if strings.Contains(w.logs.String(), canary) {
		t.Errorf("a secret value reached the log:\n%s", w.logs)
	}
}

// TestReads: what each kind of reference reads, through the real SDK.
func TestReads(t *testing.T) {
	tests := []struct {
		name  string
		block func(w *world, v1 fakesecretsmanager.Version) string
		want  string
		kind  credential.Kind
	}{
		{name: "arn follows AWSCURRENT", want: canary + "-2", kind: credential.KindAPIKey,
			block: func(w *world, _ fakesecretsmanager.Version) string {
				return `      api_key_secret: {store: aws_secrets_manager, secret: "` + w.sm.ARN("openai") + `"}`
			}},
		{name: "partial arn", want: canary + "-2", kind: credential.KindAPIKey,
			block: func(w *world, _ fakesecretsmanager.Version) string {
				arn := w.sm.ARN("openai")
				return `      api_key_secret: {store: aws_secrets_manager, secret: "` + arn[:len(arn)-7] + `"}`
			}},
		{name: "name with auth.region", want: canary + "-2", kind: credential.KindAPIKey,
			block: func(*world, fakesecretsmanager.Version) string {
				return `      api_key_secret: {store: aws_secrets_manager, secret: openai, auth: {region: us-east-1}}`
			}},
		{name: "pinned version", want: canary + "-1", kind: credential.KindAPIKey,
			block: func(_ *world, v1 fakesecretsmanager.Version) string {
				return `      api_key_secret: {store: aws_secrets_manager, secret: openai, version: ` + v1.ID + `, auth: {region: us-east-1}}`
			}},
		{name: "AWSPREVIOUS stage", want: canary + "-1", kind: credential.KindAPIKey,
			block: func(*world, fakesecretsmanager.Version) string {
				return `      api_key_secret: {store: aws_secrets_manager, secret: openai, version_stage: AWSPREVIOUS, auth: {region: us-east-1}}`
			}},
		{name: "json key", want: canary + "-json", kind: credential.KindAPIKey,
			block: func(*world, fakesecretsmanager.Version) string {
				return `      api_key_secret: {store: aws_secrets_manager, secret: creds, json_key: api_key, auth: {region: us-east-1}}`
			}},
		{name: "binary secret as text", want: canary + "-bin", kind: credential.KindAPIKey,
			block: func(*world, fakesecretsmanager.Version) string {
				return `      api_key_secret: {store: aws_secrets_manager, secret: bin, auth: {region: us-east-1}}`
			}},
		{name: "bearer token", want: canary + "-2", kind: credential.KindBearer,
			block: func(*world, fakesecretsmanager.Version) string {
				return `      bearer_token_secret: {store: aws_secrets_manager, secret: openai, auth: {region: us-east-1}}`
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			v1 := w.sm.Put("openai", canary+"-1")
			w.sm.Put("openai", canary+"-2")
			w.sm.Put("creds", `{"api_key":"`+canary+`-json","org":"o"}`)
			w.sm.PutBinary("bin", []byte(canary+"-bin"))
			p := w.load(t, tc.block(w, v1))
			tok, err := p.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if tok.Value.Reveal() != tc.want || tok.Kind != tc.kind {
				t.Errorf("got %v %q, want %v %q", tok.Kind, tok.Value.Reveal(), tc.kind, tc.want)
			}
			var buf bytes.Buffer
			fmt.Fprintf(&buf, "%v %+v %#v %s", tok, tok, tok, tok.Value)
			if strings.Contains(buf.String(), canary) {
				t.Errorf("formatting the token shows the secret: %s", buf.String())
			}
		})
	}
}

// TestReadErrors: each way a read fails is an error that names the
// reference and says what to do next, and never shows the secret.
func TestReadErrors(t *testing.T) {
	const missingVersion = "00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name  string
		setup func(t *testing.T, w *world)
		block string
		want  string
	}{
		{name: "no such secret", block: `{store: aws_secrets_manager, secret: gone, auth: {region: us-east-1}}`,
			want: "static: secret gone in us-east-1: awssecretsmanager: Secrets Manager in us-east-1 has no secret gone: check its name and region (aws: Secrets Manager can't find the specified secret.)"},
		{name: "no such version", block: `{store: aws_secrets_manager, secret: openai, version: ` + missingVersion + `, auth: {region: us-east-1}}`,
			want: "static: secret openai in us-east-1, version " + missingVersion + ": awssecretsmanager: Secrets Manager in us-east-1 has no such version of the secret: check version and version_stage (aws: Secrets Manager can't find the specified secret value for VersionId: " + missingVersion + ")"},
		{name: "no such stage", block: `{store: aws_secrets_manager, secret: openai, version_stage: AWSPENDING, auth: {region: us-east-1}}`,
			want: "static: secret openai in us-east-1, stage AWSPENDING: awssecretsmanager: Secrets Manager in us-east-1 has no such version of the secret: check version and version_stage (aws: Secrets Manager can't find the specified secret value for staging label: AWSPENDING)"},
		{name: "access denied", setup: func(_ *testing.T, w *world) { w.sm.Deny() },
			block: `{store: aws_secrets_manager, secret: openai, auth: {region: us-east-1}}`,
			want:  "static: secret openai in us-east-1: awssecretsmanager: access denied: allow secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its KMS key, when that is a customer managed key) for arn:aws:sts::123456789012:assumed-role/fake-task-role/KEY1 (aws: User: arn:aws:sts::123456789012:assumed-role/fake-task-role/KEY1 is not authorized to perform: secretsmanager:GetSecretValue on resource: openai because no identity-based policy allows the secretsmanager:GetSecretValue action)"},
		{name: "access denied to an assumed role", setup: func(_ *testing.T, w *world) { w.sm.Deny() },
			block: `{store: aws_secrets_manager, secret: openai, auth: {region: us-east-1, role_arn: "arn:aws:iam::123456789012:role/reader", session_name: byok}}`,
			want:  "static: secret openai in us-east-1: awssecretsmanager: access denied: allow secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its KMS key, when that is a customer managed key) for arn:aws:sts::123456789012:assumed-role/reader/byok (aws: User: arn:aws:sts::123456789012:assumed-role/reader/byok is not authorized to perform: secretsmanager:GetSecretValue on resource: openai because no identity-based policy allows the secretsmanager:GetSecretValue action)"},
		{name: "scheduled for deletion", setup: func(_ *testing.T, w *world) { w.sm.Delete("openai") },
			block: `{store: aws_secrets_manager, secret: openai, auth: {region: us-east-1}}`,
			want:  "static: secret openai in us-east-1: awssecretsmanager: Secrets Manager refuses to read the secret: You can't perform this operation on the secret because it was marked for deletion.; restore it with `aws secretsmanager restore-secret`, or point the config at another secret"},
		{name: "kms key unusable", setup: func(_ *testing.T, w *world) { w.sm.BreakKey("openai") },
			block: `{store: aws_secrets_manager, secret: openai, auth: {region: us-east-1}}`,
			want:  "static: secret openai in us-east-1: awssecretsmanager: Secrets Manager cannot decrypt the secret with its KMS key: check that the key is enabled and allows kms:Decrypt for the identity that reads it (aws: Secrets Manager can't decrypt the protected secret text using the provided KMS key.)"},
		{name: "outage", setup: func(_ *testing.T, w *world) { w.sm.Down(true) },
			block: `{store: aws_secrets_manager, secret: openai, auth: {region: us-east-1}}`,
			want:  "static: secret openai in us-east-1: awssecretsmanager: Secrets Manager in us-east-1 is unavailable (HTTP 503): retried at the next refresh"},
		{name: "throttled", setup: func(_ *testing.T, w *world) { w.sm.Throttle(true) },
			block: `{store: aws_secrets_manager, secret: openai, auth: {region: us-east-1}}`,
			want:  "static: secret openai in us-east-1: awssecretsmanager: Secrets Manager in us-east-1 is throttling reads: retried at the next refresh; if this persists, raise refresh_interval or share one reference among providers"},
		{name: "credentials AWS does not know", setup: func(t *testing.T, w *world) {
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN0000")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret")
		}, block: `{store: aws_secrets_manager, secret: openai, auth: {region: us-east-1}}`,
			want: "static: secret openai in us-east-1: awssecretsmanager: Secrets Manager in us-east-1 refuses the AWS credentials (UnrecognizedClientException: The security token included in the request is invalid.); check the credentials the reference's auth block selects"},
		{name: "endpoint that is not Secrets Manager", setup: func(t *testing.T, w *world) {
			// A proxy's login page, quoting what it was sent.
			page := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				fmt.Fprint(rw, "<html>"+canary+"</html>")
			}))
			t.Cleanup(page.Close)
			t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", page.URL)
		}, block: `{store: aws_secrets_manager, secret: openai, auth: {region: us-east-1}}`,
			want: "static: secret openai in us-east-1: awssecretsmanager: Secrets Manager in us-east-1 answered HTTP 200 with a body that is not a GetSecretValue answer; is AWS_ENDPOINT_URL_SECRETS_MANAGER right?"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.sm.Put("openai", canary)
			if tc.setup != nil {
				tc.setup(t, w)
			}
			p := w.load(t, "      api_key_secret: "+tc.block)
			_, err := p.Token(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			got := err.Error()
			for i, c := range w.creds.Issued() {
				got = strings.ReplaceAll(got, c.AccessKeyID, fmt.Sprintf("KEY%d", i+1))
			}
			if diff := cmp.Diff("provider p: no token: "+tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error()+w.logs.String(), canary) {
				t.Errorf("the secret reached the error or the log")
			}
		})
	}
}

// TestNoCredentials: with nothing in the SDK's chain the error says where
// to look, and no request reaches Secrets Manager.
func TestNoCredentials(t *testing.T) {
	w := newWorld(t)
	fakeaws.Isolate(t)
	w.sm.Put("openai", canary)
	p := w.load(t, `      api_key_secret: {store: aws_secrets_manager, secret: openai, auth: {region: us-east-1}}`)
	_, err := p.Token(context.Background())
	const wantStart, wantEnd = "provider p: no token: static: secret openai in us-east-1: awssecretsmanager: reading the secret in us-east-1: ", "; check the AWS credentials the reference's auth block selects"
	if err == nil || !strings.HasPrefix(err.Error(), wantStart) || !strings.HasSuffix(err.Error(), wantEnd) {
		t.Fatalf("err = %v, want %q…%q", err, wantStart, wantEnd)
	}
	if n := w.sm.Requests(); n != 0 {
		t.Errorf("%d requests reached Secrets Manager unsigned", n)
	}
}

// TestOutageKeepsLastValue: a failed re-read keeps the value read last, and
// the log names the reference and the cause.
func TestOutageKeepsLastValue(t *testing.T) {
	w := newWorld(t)
	w.sm.Put("openai", canary+"-1")
	p := w.load(t, `      api_key_secret: {store: aws_secrets_manager, secret: openai, refresh_interval: 1m, auth: {region: us-east-1}}`)
	if got := storetest.Value(t, p); got != canary+"-1" {
		t.Fatalf("first read = %q", got)
	}
	w.sm.Down(true)
	w.clock.Advance(2 * time.Minute)
	storetest.Eventually(t, "a failed re-read", func() bool { storetest.Value(t, p); return w.sm.Requests() > 1 })
	if got := storetest.Value(t, p); got != canary+"-1" {
		t.Errorf("during the outage got %q, want the last value", got)
	}
	storetest.Eventually(t, "the failure logged", func() bool {
		return strings.Contains(w.logs.String(), "openai in us-east-1") && strings.Contains(w.logs.String(), "unavailable (HTTP 503)")
	})
	w.sm.Put("openai", canary+"-2")
	w.sm.Down(false)
	w.clock.Advance(2 * time.Minute)
	storetest.Eventually(t, "the value after recovery", func() bool { return storetest.Value(t, p) == canary+"-2" })
	if strings.Contains(w.logs.String(), canary) {
		t.Errorf("a secret value reached the log:\n%s", w.logs)
	}
}

// TestDescribeToken: `byokcred token` and doctor show the ARN, the version
// read and when it was created.
func TestDescribeToken(t *testing.T) {
	w := newWorld(t)
	// The fake dates versions by the real clock; start the test clock there.
	w.clock.Advance(time.Since(w.clock.Now()))
	v := w.sm.Put("openai", canary)
	arn := w.sm.ARN("openai")
	p := w.load(t, `      api_key_secret: {store: aws_secrets_manager, secret: "`+arn+`", refresh_interval: 24h}`)
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(90 * time.Minute)
	want := []kind.TokenFact{
		{Name: "secret", Value: arn},
		{Name: "version", Value: v.ID},
		{Name: "version created", Value: v.Created.Format(time.RFC3339) + " (1h ago)"},
		{Name: "read", Value: "1h ago"},
	}
	if diff := cmp.Diff(want, p.DescribeToken(tok)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestDiagnose: doctor shows the AWS credential chain that reads the
// secret, as the aws auth kind walks it.
func TestDiagnose(t *testing.T) {
	w := newWorld(t)
	p := w.load(t, `      api_key_secret: {store: aws_secrets_manager, secret: openai, auth: {region: us-east-1}}`)
	d, ok := p.Auth.(kind.Diagnoser)
	if !ok {
		t.Fatalf("%T is not a kind.Diagnoser", p.Auth)
	}
	want := []kind.ChainLink{
		{Name: "environment", Err: "not configured: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"},
		{Name: "web identity", Err: "not configured: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set"},
		{Name: "shared profile", Err: "not configured: no profile default in the shared files"},
		{Name: "container", Answered: true},
		{Name: "IMDS", Err: "not configured: AWS_EC2_METADATA_DISABLED=true"},
	}
	if diff := cmp.Diff(want, d.Diagnose(context.Background())); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := w.sm.Requests(); n != 0 {
		t.Errorf("doctor's walk read the secret %d times", n)
	}
}

// TestAssumedRole: with role_arn the secret is read with the role's
// credentials, assumed once for many reads (cached by the SDK).
func TestAssumedRole(t *testing.T) {
	w := newWorld(t)
	w.sm.Put("openai", canary+"-1")
	p := w.load(t, `      api_key_secret: {store: aws_secrets_manager, secret: openai, auth: {region: us-east-1, role_arn: "arn:aws:iam::123456789012:role/reader", external_id: ext-7}}`)
	if got := storetest.Value(t, p); got != canary+"-1" {
		t.Fatalf("first read = %q", got)
	}
	// The program's client (registry.Options.HTTPClient) carried the read.
	if n, reads := w.sent.n.Load(), int32(w.sm.Requests()); n < reads || reads != 1 {
		t.Errorf("the injected client carried %d requests for %d reads, want every read", n, reads)
	}
	w.sm.Put("openai", canary+"-2")
	tok, _ := p.Token(context.Background())
	p.Cache.Invalidate(tok)
	if got := storetest.Value(t, p); got != canary+"-2" {
		t.Fatalf("second read = %q", got)
	}
	var role []fakeaws.Credentials
	for _, c := range w.creds.Issued() {
		if c.Via == "sts" {
			role = append(role, c)
		}
	}
	if len(role) != 1 {
		t.Fatalf("%d AssumeRole calls, want 1", len(role))
	}
	type view struct {
		RoleARN, ExternalID, SessionName string
		Readers                          []string
	}
	want := view{"arn:aws:iam::123456789012:role/reader", "ext-7", "byokcred", []string{role[0].AccessKeyID, role[0].AccessKeyID}}
	got := view{role[0].RoleARN, role[0].ExternalID, role[0].SessionName, w.sm.Readers()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// load loads provider p whose static auth block is block.
func (w *world) load(t *testing.T, block string) *registry.Provider {
	t.Helper()
	return storetest.Load(t, w.clock, w.logs, w.client, block)
}

// TestJSONWithoutJSONKey: a secret holding several vendors' keys, read
// without json_key, is refused naming its fields, never sent whole (issue
// 23, finding 4).
func TestJSONWithoutJSONKey(t *testing.T) {
	w := newWorld(t)
	w.sm.Put("both", storetest.TwoVendors)
	p := w.load(t, "      api_key_secret: {store: aws_secrets_manager, secret: \""+w.sm.ARN("both")+"\"}")
	storetest.Refused(t, p, w.logs, []string{
		"static: secret " + w.sm.ARN("both") + ": version ",
		` holds a JSON object with fields "anthropic", "openai", not a key: set json_key`,
	}, storetest.OpenAICanary, storetest.AnthropicCanary)
}

// TestOversizedValue: an answer is bounded before the SDK buffers it,
// naming the reference and the size, never the value (issue 23, finding 17:
// a 50 MiB secret was accepted).
//
// The value cap (over 64 KiB, under the answer's cap) is tested for every
// store in auth/static, not here: under -race, the AWS SDK (smithy-go
// v1.28.9) intermittently fails to read any answer over 64 KiB from a
// loopback server ("deserialization failed … use of closed network
// connection", reproduced without byokcred's size limit in the client).
// Secrets Manager holds at most 64 KiB a secret, so real answers stay under
// that size.
func TestOversizedValue(t *testing.T) {
	tests := []struct {
		name string
		size int
		want string
	}{
		{"1 MiB: the answer is cut", 1 << 20, "awssecretsmanager: Secrets Manager in us-east-1: the store's answer is more than 1048576 bytes; a secret is at most 65536 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.sm.Put("big", storetest.Oversized(tc.size))
			p := w.load(t, "      api_key_secret: {store: aws_secrets_manager, secret: \""+w.sm.ARN("big")+"\"}")
			storetest.Refused(t, p, w.logs, []string{"static: secret " + w.sm.ARN("big") + ": ", tc.want}, storetest.OversizedCanary, "xxxxxxxx")
		})
	}
}
