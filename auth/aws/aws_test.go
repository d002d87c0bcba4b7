package aws_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	awsauth "github.com/byokcred/byokcred/auth/aws"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/internal/testkit/fakebedrock"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

func startAWS(t *testing.T, opts fakeaws.Options) *fakeaws.Server {
	t.Helper()
	s, err := fakeaws.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func startBedrock(t *testing.T, region string, creds *fakeaws.Server) *fakebedrock.Server {
	t.Helper()
	b, err := fakebedrock.Start(fakebedrock.Options{Region: region, Lookup: creds.Lookup})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// loadProvider loads a one-provider config whose auth block is authYAML
// (flow style) and returns the provider.
func loadProvider(t *testing.T, baseURL, authYAML string) *registry.Provider {
	t.Helper()
	path := configtest.Write(t, fmt.Sprintf(`providers:
  bedrock:
    type: openai
    base_url: %s
    model: openai.gpt-oss-120b-1:0
    auth: %s
`, baseURL, authYAML))
	set, err := registry.Load(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	p, err := set.Provider("bedrock")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func keyInfo(t *testing.T, tok *credential.Token) awsauth.KeyInfo {
	t.Helper()
	info, _, err := awsauth.ParseKey(tok.Value.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestContainerCredentials(t *testing.T) {
	creds := startAWS(t, fakeaws.Options{Lifetime: time.Hour})
	creds.Setenv(t)
	bedrock := startBedrock(t, "us-east-1", creds)
	p := loadProvider(t, bedrock.BaseURL(), `{type: aws, region: us-east-1}`)

	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := bedrock.Verify(tok.Value.Reveal(), time.Now()); err != nil {
		t.Fatalf("the fake Bedrock refuses the key: %v", err)
	}
	issued := creds.Issued()
	if len(issued) != 1 {
		t.Fatalf("container endpoint issued %d credential sets, want 1", len(issued))
	}
	info := keyInfo(t, tok)
	type view struct {
		Kind, AccessKeyID, Region string
		Expiry                    time.Time
	}
	// The key lives as long as the credentials that signed it (1 h < 12 h),
	// which the SDK treats as expiring 5 minutes early (its expiry window
	// for container credentials).
	want := view{"bearer", issued[0].AccessKeyID, "us-east-1", issued[0].Expiry.Add(-5 * time.Minute)}
	got := view{tok.Kind.String(), info.AccessKeyID, info.Region, tok.Expiry}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !info.Expiry.Equal(tok.Expiry) {
		t.Errorf("X-Amz-Date + X-Amz-Expires = %s, token expiry %s", info.Expiry, tok.Expiry)
	}
}

// Each key is signed with credentials fetched for it: the SDK's own cache
// would otherwise hand back the credentials the last key used, close to
// their end when the key cache refreshes, and the new key would be as
// short-lived as what is left of them.
func TestEachKeyGetsFreshCredentials(t *testing.T) {
	creds := startAWS(t, fakeaws.Options{Lifetime: time.Hour})
	creds.Setenv(t)
	var a awsauth.Auth
	a.Region = "eu-west-1"
	src := newSource(t, &a)
	var ids []string
	for range 3 {
		tok, err := src.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, keyInfo(t, tok).AccessKeyID)
	}
	var want []string
	for _, c := range creds.Issued() {
		want = append(want, c.AccessKeyID)
	}
	if diff := cmp.Diff(want, ids); diff != "" || len(ids) != 3 {
		t.Errorf("keys were not each signed with newly fetched credentials (-issued +used):\n%s", diff)
	}
}

func newSource(t *testing.T, a *awsauth.Auth) credential.TokenSource {
	t.Helper()
	path := configtest.Write(t, "providers:\n  p:\n    type: openai\n    base_url: http://127.0.0.1:1/openai/v1\n    model: m\n    auth: {type: aws, region: us-east-1}\n")
	set, err := registry.Load(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	p, _ := set.Provider("p")
	src, err := a.Source(&kind.Build{Provider: p.Provider, Path: "providers.p.auth", LookupEnv: os.LookupEnv})
	if err != nil {
		t.Fatal(err)
	}
	return src.Source
}

func TestStaticEnvironmentCredentials(t *testing.T) {
	creds := startAWS(t, fakeaws.Options{})
	fakeaws.Isolate(t)
	static := creds.Add()
	t.Setenv("AWS_ACCESS_KEY_ID", static.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", static.SecretAccessKey)
	bedrock := startBedrock(t, "us-west-2", creds)
	p := loadProvider(t, bedrock.BaseURL(), `{type: aws, region: us-west-2}`)
	before := time.Now().Truncate(time.Second)
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := bedrock.Verify(tok.Value.Reveal(), time.Now()); err != nil {
		t.Fatalf("the fake Bedrock refuses the key: %v", err)
	}
	if got := keyInfo(t, tok).AccessKeyID; got != static.AccessKeyID {
		t.Errorf("signed with %s, want the environment's %s", got, static.AccessKeyID)
	}
	// Long-term keys do not expire: the key gets Bedrock's maximum.
	if life := tok.Expiry.Sub(before); life < awsauth.MaxKeyLifetime || life > awsauth.MaxKeyLifetime+2*time.Second {
		t.Errorf("key lifetime %s, want 12h", life)
	}
}

func TestAssumeRole(t *testing.T) {
	creds := startAWS(t, fakeaws.Options{Lifetime: 30 * time.Minute})
	fakeaws.Isolate(t)
	base := creds.Add()
	t.Setenv("AWS_ACCESS_KEY_ID", base.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", base.SecretAccessKey)
	t.Setenv("AWS_ENDPOINT_URL_STS", creds.URL+"/sts/")
	bedrock := startBedrock(t, "us-east-1", creds)
	p := loadProvider(t, bedrock.BaseURL(), `{type: aws, region: us-east-1, role_arn: "arn:aws:iam::123456789012:role/bedrock-invoke", external_id: ext-42, session_name: copilot}`)
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := bedrock.Verify(tok.Value.Reveal(), time.Now()); err != nil {
		t.Fatalf("the fake Bedrock refuses the key: %v", err)
	}
	var assumed []fakeaws.Credentials
	for _, c := range creds.Issued() {
		if c.Via == "sts" {
			assumed = append(assumed, c)
		}
	}
	if len(assumed) != 1 {
		t.Fatalf("%d AssumeRole calls answered, want 1", len(assumed))
	}
	type view struct{ SignedBy, RoleARN, ExternalID, SessionName string }
	want := view{assumed[0].AccessKeyID, "arn:aws:iam::123456789012:role/bedrock-invoke", "ext-42", "copilot"}
	got := view{keyInfo(t, tok).AccessKeyID, assumed[0].RoleARN, assumed[0].ExternalID, assumed[0].SessionName}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !tok.Expiry.Equal(assumed[0].Expiry) {
		t.Errorf("key expiry %s, want the assumed credentials' %s", tok.Expiry, assumed[0].Expiry)
	}
}

func TestKeyLifetime(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		expires time.Duration // 0: long-term credentials
		want    time.Duration
		wantErr string
	}{
		{name: "long-term credentials get 12 h", want: 12 * time.Hour},
		{name: "credentials for 1 h bound the key", expires: time.Hour, want: time.Hour},
		{name: "credentials for 20 h still give 12 h", expires: 20 * time.Hour, want: 12 * time.Hour},
		{name: "expired credentials sign nothing", expires: -time.Minute, wantErr: "aws: the credentials (access key ASIATEST) expire at 2026-12-02T09:59:00Z, too soon to sign a key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := awssdk.Credentials{AccessKeyID: "ASIATEST", SecretAccessKey: "s", SessionToken: "st"}
			if tc.expires != 0 {
				c.CanExpire, c.Expires = true, now.Add(tc.expires)
			}
			tok, err := awsauth.NewKey(context.Background(), c, "us-east-1", now)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, q, err := awsauth.ParseKey(tok.Value.Reveal())
			if err != nil {
				t.Fatal(err)
			}
			got := []string{tok.Expiry.Sub(now).String(), q.Get("X-Amz-Expires")}
			want := []string{tc.want.String(), fmt.Sprint(int(tc.want.Seconds()))}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestKeyShape checks every detail of the key against AWS's generators.
func TestKeyShape(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	c := awssdk.Credentials{AccessKeyID: "ASIATEST", SecretAccessKey: "s", SessionToken: "tok/en+="}
	tok, err := awsauth.NewKey(context.Background(), c, "ap-south-1", now)
	if err != nil {
		t.Fatal(err)
	}
	v := tok.Value.Reveal()
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, "bedrock-api-key-"))
	if err != nil || !strings.HasPrefix(v, "bedrock-api-key-") {
		t.Fatalf("key %.30s… is not bedrock-api-key- + base64", v)
	}
	s := string(raw)
	if !strings.HasPrefix(s, "bedrock.amazonaws.com/?") || !strings.HasSuffix(s, "&Version=1") {
		t.Fatalf("decoded key %q: want bedrock.amazonaws.com/?…&Version=1", s)
	}
	u, err := url.Parse("https://" + strings.TrimSuffix(s, "&Version=1"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("X-Amz-Signature")
	want := url.Values{
		"Action":               {"CallWithBearerToken"},
		"X-Amz-Algorithm":      {"AWS4-HMAC-SHA256"},
		"X-Amz-Credential":     {"ASIATEST/20261202/ap-south-1/bedrock/aws4_request"},
		"X-Amz-Date":           {"20261202T100000Z"},
		"X-Amz-Expires":        {"43200"},
		"X-Amz-Security-Token": {"tok/en+="},
		"X-Amz-SignedHeaders":  {"host"},
	}
	if diff := cmp.Diff(want, q); diff != "" {
		t.Errorf("presigned query (-want +got):\n%s", diff)
	}
}

func TestFakeBedrockRefuses(t *testing.T) {
	creds := startAWS(t, fakeaws.Options{Lifetime: time.Hour})
	fakeaws.Isolate(t)
	bedrock := startBedrock(t, "us-east-1", creds)
	now := time.Now()
	// Fetch one set of temporary credentials the way the SDK would.
	creds.Setenv(t)
	var a awsauth.Auth
	a.Region = "us-east-1"
	tok, err := newSource(t, &a).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := creds.Issued()[0]
	ac := awssdk.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, CanExpire: true, Expires: c.Expiry}
	mint := func(mod func(*awssdk.Credentials) (string, time.Time)) string {
		cc := ac
		region, at := mod(&cc)
		k, err := awsauth.NewKey(context.Background(), cc, region, at)
		if err != nil {
			t.Fatal(err)
		}
		return k.Value.Reveal()
	}
	valid := tok.Value.Reveal()
	tests := []struct {
		name string
		key  string
		at   time.Time
		want string
	}{
		{"forged signature", forge(t, valid), now, "signature does not match"},
		{"wrong region", mint(func(c *awssdk.Credentials) (string, time.Time) { return "us-west-2", now }), now, "key signed for region us-west-2, this endpoint is us-east-1"},
		{"expired key", valid, tok.Expiry.Add(time.Second), "key expired 1s ago"},
		{"unknown access key", mint(func(c *awssdk.Credentials) (string, time.Time) {
			c.AccessKeyID = "ASIAUNKNOWN"
			return "us-east-1", now
		}), now, "unknown access key id ASIAUNKNOWN"},
		{"wrong session token", mint(func(c *awssdk.Credentials) (string, time.Time) { c.SessionToken = "other"; return "us-east-1", now }), now, "wrong session token"},
		{"not a key", "sk-123", now, "no bedrock-api-key- prefix"},
		{"valid key", valid, now, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := bedrock.Verify(tc.key, tc.at); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// forge replaces the signature of key with another well-formed one.
func forge(t *testing.T, key string) string {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(key, "bedrock-api-key-"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "X-Amz-Signature=") + len("X-Amz-Signature=")
	sig := []byte(s[i : i+64])
	sig[0] = "01"[map[bool]int{true: 1}[sig[0] == '0']]
	return "bedrock-api-key-" + base64.StdEncoding.EncodeToString([]byte(s[:i]+string(sig)+s[i+64:]))
}

func TestValidation(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	os.WriteFile(cfgFile, []byte("[profile dev]\nregion = us-east-1\n"), 0o600)
	credFile := filepath.Join(dir, "credentials")
	os.WriteFile(credFile, nil, 0o600)
	env := map[string]string{"AWS_CONFIG_FILE": cfgFile, "AWS_SHARED_CREDENTIALS_FILE": credFile}
	path := configtest.Write(t, `providers:
  noregion:
    type: openai
    base_url: https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1
    model: m
    auth: {type: aws}
  badregion:
    type: openai
    base_url: https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1
    model: m
    auth: {type: aws, region: US_EAST}
  mismatch:
    type: openai
    base_url: https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1
    model: m
    auth: {type: aws, region: us-east-1}
  profile:
    type: openai
    base_url: https://gateway.example/v1
    model: m
    auth: {type: aws, region: us-east-1, profile: prod}
  knownprofile:
    type: openai
    base_url: https://gateway.example/v2
    model: m
    auth: {type: aws, region: us-east-1, profile: dev}
  role:
    type: openai
    base_url: https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1
    model: m
    auth: {type: aws, region: us-east-1, role_arn: "arn:aws:iam::12345:user/x", session_name: "a b"}
  norole:
    type: openai
    base_url: https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1
    model: m
    auth: {type: aws, region: us-east-1, external_id: e}
  mantle:
    type: openai
    base_url: https://bedrock-mantle.eu-west-1.api.aws/v1
    model: m
    auth: {type: aws, region: us-east-1}
  fine:
    type: openai
    base_url: https://bedrock-runtime-fips.us-east-1.amazonaws.com/openai/v1
    model: m
    auth: {type: aws, region: us-east-1}
`)
	_, err := registry.Load(path, registry.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err == nil {
		t.Fatal("want errors")
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
	want := []string{
		`c.yaml:6:5: providers.noregion.auth: aws auth needs region (the Bedrock endpoint's region, e.g. us-east-1)`,
		`c.yaml:11:31: providers.badregion.auth.region: "US_EAST" is not an AWS region name (like us-east-1)`,
		`c.yaml:16:31: providers.mismatch.auth.region: region us-east-1 disagrees with base_url, which is Bedrock in us-west-2: a key signed for us-east-1 is refused there`,
		`c.yaml:21:51: providers.profile.auth.profile: profile prod is not defined in ` + cfgFile + ` or ` + credFile,
		`c.yaml:31:52: providers.role.auth.role_arn: "arn:aws:iam::12345:user/x" is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)`,
		`c.yaml:31:95: providers.role.auth.session_name: session_name must be 2 to 64 characters of letters, digits and +=,.@_-`,
		`c.yaml:36:55: providers.norole.auth.external_id: external_id applies only with role_arn`,
		`c.yaml:41:31: providers.mantle.auth.region: region us-east-1 disagrees with base_url, which is Bedrock in eu-west-1: a key signed for us-east-1 is refused there`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s\ngot:\n%s", diff, strings.Join(got, "\n"))
	}
}

func TestDiagnose(t *testing.T) {
	creds := startAWS(t, fakeaws.Options{})
	creds.Setenv(t)
	a := &awsauth.Auth{Region: "us-east-1"}
	got := a.Diagnose(context.Background())
	want := []kind.ChainLink{
		{Name: "environment", Err: "not configured: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"},
		{Name: "web identity", Err: "not configured: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set"},
		{Name: "shared profile", Err: "not configured: no profile default in the shared files"},
		{Name: "container", Answered: true},
		{Name: "IMDS", Err: "not configured: AWS_EC2_METADATA_DISABLED=true"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// A wrong container token: the link says why it failed, none answers.
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong")
	got = a.Diagnose(context.Background())
	if got[3].Answered || !strings.Contains(got[3].Err, "fakeaws: wrong authorization token") {
		t.Errorf("container link with a wrong token: %+v", got[3])
	}
}

// The secret access key and session token never show in what byokcred
// prints about a key: its facts, its log value, a fmt of the token.
func TestCanary(t *testing.T) {
	creds := startAWS(t, fakeaws.Options{})
	creds.Setenv(t)
	a := &awsauth.Auth{Region: "us-east-1"}
	tok, err := newSource(t, a).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := creds.Issued()[0]
	_, q, _ := awsauth.ParseKey(tok.Value.Reveal())
	var out bytes.Buffer
	for _, f := range a.DescribeToken(tok) {
		fmt.Fprintf(&out, "%s: %s\n", f.Name, f.Value)
	}
	slog.New(slog.NewTextHandler(&out, nil)).Info("minted", "token", tok)
	fmt.Fprintf(&out, "%v %+v %#v %s\n", tok, tok, tok, tok.Value)
	for _, secret := range []string{c.SecretAccessKey, c.SessionToken, q.Get("X-Amz-Signature"), tok.Value.Reveal()[16:40]} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("output contains a secret part %.6s…:\n%s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "access key id: "+c.AccessKeyID) || !strings.Contains(out.String(), "region: us-east-1") {
		t.Errorf("facts lack the access key id or region:\n%s", out.String())
	}
}

// TestREADMEConfig loads the config the README shows (testdata/readme.yaml,
// quoted verbatim there) and mints a key with it.
func TestREADMEConfig(t *testing.T) {
	snippet, err := os.ReadFile("testdata/readme.yaml")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(snippet)+"```\n") {
		t.Errorf("README.md does not quote auth/aws/testdata/readme.yaml verbatim in a yaml block; copy it there")
	}
	creds := startAWS(t, fakeaws.Options{})
	creds.Setenv(t)
	set, err := registry.Load("testdata/readme.yaml", registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	p, err := set.Provider("bedrock")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info := keyInfo(t, tok); info.Region != "us-east-1" || p.WireAPI != "completions" {
		t.Errorf("key for %s, wire API %q", info.Region, p.WireAPI)
	}
}

// A profile named in the config is the SDK's first choice: its keys sign,
// environment keys are passed over, and doctor's walk says so.
func TestProfile(t *testing.T) {
	creds := startAWS(t, fakeaws.Options{})
	fakeaws.Isolate(t)
	fromFile, fromEnv := creds.Add(), creds.Add()
	credFile := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(credFile, []byte("[dev]\naws_access_key_id = "+fromFile.AccessKeyID+"\naws_secret_access_key = "+fromFile.SecretAccessKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	t.Setenv("AWS_ACCESS_KEY_ID", fromEnv.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", fromEnv.SecretAccessKey)
	bedrock := startBedrock(t, "us-east-1", creds)
	p := loadProvider(t, bedrock.BaseURL(), `{type: aws, region: us-east-1, profile: dev}`)
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := bedrock.Verify(tok.Value.Reveal(), time.Now()); err != nil {
		t.Fatalf("the fake Bedrock refuses the key: %v", err)
	}
	if got := keyInfo(t, tok).AccessKeyID; got != fromFile.AccessKeyID {
		t.Errorf("signed with %s, want profile dev's %s", got, fromFile.AccessKeyID)
	}
	got := p.Auth.(kind.Diagnoser).Diagnose(context.Background())
	want := []kind.ChainLink{
		{Name: "environment", Err: "not used: the config names profile dev"},
		{Name: "web identity", Err: "not used: the config names profile dev"},
		{Name: "shared profile", Answered: true},
		{Name: "container", Err: "not configured: AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_CREDENTIALS_RELATIVE_URI are not set"},
		{Name: "IMDS", Err: "not configured: AWS_EC2_METADATA_DISABLED=true"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("doctor's walk (-want +got):\n%s", diff)
	}
}

// Web identity (EKS IRSA): the SDK exchanges the projected token file for
// role credentials at STS, and doctor's walk names that link.
func TestWebIdentity(t *testing.T) {
	creds := startAWS(t, fakeaws.Options{Lifetime: time.Hour})
	fakeaws.Isolate(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(creds.WebIdentityToken()), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa")
	t.Setenv("AWS_ENDPOINT_URL_STS", creds.URL+"/sts/")
	bedrock := startBedrock(t, "us-east-1", creds)
	p := loadProvider(t, bedrock.BaseURL(), `{type: aws, region: us-east-1}`)
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := bedrock.Verify(tok.Value.Reveal(), time.Now()); err != nil {
		t.Fatalf("the fake Bedrock refuses the key: %v", err)
	}
	issued := creds.Issued()
	if len(issued) != 1 || issued[0].RoleARN != "arn:aws:iam::123456789012:role/irsa" || keyInfo(t, tok).AccessKeyID != issued[0].AccessKeyID {
		t.Errorf("key not signed with the web identity role's credentials: issued %+v", issued)
	}
	var answered []string
	links := p.Auth.(kind.Diagnoser).Diagnose(context.Background())
	for _, l := range links {
		if l.Answered {
			answered = append(answered, l.Name)
		}
	}
	if diff := cmp.Diff([]string{"web identity"}, answered); diff != "" {
		t.Errorf("doctor's walk (-want +got):\n%s", diff)
	}
}

// TestConfig: the config Config returns signs with cached credentials — one
// container fetch, or one AssumeRole, for many requests — unlike the
// Bedrock key source, which wants fresh ones for each key.
func TestConfig(t *testing.T) {
	tests := []struct {
		name          string
		auth          awsauth.Auth
		wantContainer int
		wantSTS       int
		wantRole      string
	}{
		{name: "default chain", auth: awsauth.Auth{Region: "eu-central-1"}, wantContainer: 1},
		{name: "assumed role", auth: awsauth.Auth{Region: "eu-central-1", RoleARN: "arn:aws:iam::123456789012:role/reader", SessionName: "sm"},
			wantContainer: 1, wantSTS: 1, wantRole: "arn:aws:iam::123456789012:role/reader"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds := startAWS(t, fakeaws.Options{Lifetime: time.Hour})
			creds.Setenv(t)
			cfg, err := tc.auth.SDKCredentials(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if n := creds.ContainerRequests() + creds.STSRequests(); n != 0 {
				t.Fatalf("Config made %d requests, want none before first use", n)
			}
			var ids []string
			for range 3 {
				c, err := cfg.Credentials.Retrieve(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, c.AccessKeyID)
			}
			issued := creds.Issued()
			last := issued[len(issued)-1]
			type view struct {
				Region             string
				Container, STS     int
				Used               []string
				RoleARN, SessionID string
			}
			want := view{"eu-central-1", tc.wantContainer, tc.wantSTS, []string{last.AccessKeyID, last.AccessKeyID, last.AccessKeyID}, tc.wantRole, tc.auth.SessionName}
			got := view{cfg.Region, creds.ContainerRequests(), creds.STSRequests(), ids, last.RoleARN, last.SessionName}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// countingTransport counts the requests it carries.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestInjectedHTTPClient: the program's HTTP client
// (registry.Options.HTTPClient) carries the SDK's credential fetches; a CA
// bundle, which the SDK can add only to a client of its own, is refused
// with it, saying what to do.
func TestInjectedHTTPClient(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, caBundle, wantErr string
	}{
		{"the client carries the fetch", "", ""},
		{"with a CA bundle: refused", bundle, "a CA bundle (AWS_CA_BUNDLE or the profile's ca_bundle) is set, and the program gives its own HTTP client (registry.Options.HTTPClient), which the SDK cannot add it to: trust the CA in that client's TLS config and unset the bundle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds := startAWS(t, fakeaws.Options{Lifetime: time.Hour})
			creds.Setenv(t)
			t.Setenv("AWS_CA_BUNDLE", tc.caBundle)
			sent := new(countingTransport)
			path := configtest.Write(t, "providers:\n  bedrock:\n    type: openai\n    base_url: https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1\n    model: m\n    auth: {type: aws, region: us-east-1}\n")
			set, err := registry.Load(path, registry.Options{HTTPClient: &http.Client{Transport: sent}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { set.Close() })
			p, err := set.Provider("bedrock")
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Token(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := int(sent.n.Load()), creds.ContainerRequests(); got != want || want == 0 {
				t.Errorf("the injected client carried %d requests for %d container-credential fetches", got, want)
			}
		})
	}
}
