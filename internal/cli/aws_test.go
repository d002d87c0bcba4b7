package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	awsauth "github.com/byokcred/byokcred/auth/aws"
	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/internal/testkit/fakebedrock"
)

// TestTokenAndDoctorDescribeBedrockKeys: `token` shows a Bedrock key's
// access key id, region and expiry, `doctor` which AWS credential source
// answered and that Bedrock accepts the key — and neither prints the secret
// access key, the session token or the key's signature.
func TestTokenAndDoctorDescribeBedrockKeys(t *testing.T) {
	creds, err := fakeaws.Start(fakeaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer creds.Close()
	creds.Setenv(t)
	bedrock, err := fakebedrock.Start(fakebedrock.Options{Region: "eu-central-1", Lookup: creds.Lookup})
	if err != nil {
		t.Fatal(err)
	}
	defer bedrock.Close()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  bedrock:
    type: openai
    base_url: `+bedrock.BaseURL()+`
    model: anthropic.claude-sonnet-4
    auth: {type: aws, region: eu-central-1}
`)
	var outputs []string
	r := run(t, nil, "-c", cfg, "token", "bedrock")
	if r.code != 0 {
		t.Fatalf("token: exit %d: %s", r.code, r.stderr)
	}
	outputs = append(outputs, r.stdout, r.stderr)
	issued := creds.Issued()
	for _, w := range []string{"kind:           bearer", "access key id:  " + issued[0].AccessKeyID, "region:         eu-central-1", "key expires:    "} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("token output lacks %q:\n%s", w, r.stdout)
		}
	}

	r = run(t, nil, "-c", cfg, "token", "bedrock", "--json")
	outputs = append(outputs, r.stdout, r.stderr)
	var tj tokenOutput
	if err := json.Unmarshal([]byte(r.stdout), &tj); err != nil {
		t.Fatalf("token --json: %v\n%s", err, r.stdout)
	}
	var names []string
	for _, f := range tj.Facts {
		names = append(names, f.Name)
	}
	if diff := cmp.Diff([]string{"access key id", "region", "signed at", "key expires"}, names); diff != "" {
		t.Errorf("token --json facts (-want +got):\n%s", diff)
	}

	r = run(t, nil, "-c", cfg, "doctor", "bedrock", "--probe", "-o", "json")
	outputs = append(outputs, r.stdout, r.stderr)
	if r.code != 0 {
		t.Fatalf("doctor: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var reports []doctorReport
	if err := json.Unmarshal([]byte(r.stdout), &reports); err != nil {
		t.Fatalf("doctor json: %v\n%s", err, r.stdout)
	}
	var answered []string
	for _, l := range reports[0].Chain {
		if l.Answered {
			answered = append(answered, l.Name)
		}
	}
	if diff := cmp.Diff([]string{"container"}, answered); diff != "" {
		t.Errorf("doctor's chain (-want +got):\n%s", diff)
	}
	statuses := map[string]string{}
	for _, c := range reports[0].Checks {
		statuses[c.Name] = c.Status
	}
	if diff := cmp.Diff(map[string]string{"config": "ok", "credential": "ok", "default chain": "ok", "token": "ok", "probe": "ok"}, statuses); diff != "" {
		t.Errorf("doctor checks (-want +got):\n%s\n%s", diff, r.stdout)
	}
	if len(bedrock.Accepted()) == 0 || len(bedrock.Rejected()) != 0 {
		t.Errorf("the probe's key: %d accepted, rejected %v", len(bedrock.Accepted()), bedrock.Rejected())
	}

	all := strings.Join(outputs, "\n")
	for _, c := range creds.Issued() {
		for _, secret := range []string{c.SecretAccessKey, c.SessionToken} {
			if strings.Contains(all, secret) {
				t.Errorf("output contains a secret of %s", c.AccessKeyID)
			}
		}
	}
	for _, k := range bedrock.Accepted() {
		_, q, err := awsauth.ParseKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(all, q.Get("X-Amz-Signature")) {
			t.Errorf("output contains a key's signature")
		}
	}
}
