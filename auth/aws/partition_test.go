package aws_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/internal/testkit/fakehosts"
	"github.com/byokcred/byokcred/registry"
)

// TestPartitionValidation: a region's partition decides whether Bedrock API
// keys can be used there (AWS documents them in aws and aws-us-gov only)
// and which role ARNs apply; each refusal is at the key to change.
func TestPartitionValidation(t *testing.T) {
	t.Parallel()
	const gov = "https://bedrock-runtime.us-gov-west-1.amazonaws.com/openai/v1"
	tests := []struct {
		name, baseURL, auth string
		want                []string
	}{
		{name: "govcloud", baseURL: gov, auth: "{type: aws, region: us-gov-west-1}"},
		{name: "govcloud fips", baseURL: "https://bedrock-runtime-fips.us-gov-east-1.amazonaws.com/openai/v1", auth: "{type: aws, region: us-gov-east-1}"},
		{name: "govcloud role", baseURL: gov, auth: "{type: aws, region: us-gov-west-1, role_arn: 'arn:aws-us-gov:iam::123456789012:role/bedrock'}"},
		{name: "china", baseURL: "https://bedrock-runtime.cn-north-1.amazonaws.com.cn/openai/v1", auth: "{type: aws, region: cn-north-1}", want: []string{
			"providers.p.auth.region: region cn-north-1 is in partition aws-cn, where AWS does not document Amazon Bedrock API keys (only in aws and aws-us-gov); use the endpoint's own key with auth type static, or a region of those partitions",
		}},
		{name: "isolated", baseURL: "https://gateway.example/v1", auth: "{type: aws, region: us-iso-east-1}", want: []string{
			"providers.p.auth.region: region us-iso-east-1 is in partition aws-iso, where AWS does not document Amazon Bedrock API keys (only in aws and aws-us-gov); use the endpoint's own key with auth type static, or a region of those partitions",
		}},
		{name: "no partition", baseURL: "https://gateway.example/v1", auth: "{type: aws, region: xx-east-1}", want: []string{
			"providers.p.auth.region: region xx-east-1 is in no AWS partition (aws, aws-us-gov, aws-cn, …); check its spelling",
		}},
		{name: "commercial role in govcloud", baseURL: gov, auth: "{type: aws, region: us-gov-west-1, role_arn: 'arn:aws:iam::123456789012:role/bedrock'}", want: []string{
			"providers.p.auth.role_arn: role_arn is a role of partition aws, but region us-gov-west-1 is in partition aws-us-gov: STS there cannot assume it; use a role ARN of arn:aws-us-gov:iam::… or a region of aws",
		}},
		{name: "govcloud region, commercial endpoint", baseURL: "https://bedrock-runtime.us-east-1.amazonaws.com/openai/v1", auth: "{type: aws, region: us-gov-west-1}", want: []string{
			"providers.p.auth.region: region us-gov-west-1 disagrees with base_url, which is Bedrock in us-east-1: a key signed for us-gov-west-1 is refused there",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := configtest.Write(t, fmt.Sprintf("providers:\n  p:\n    type: openai\n    base_url: %s\n    model: m\n    auth: %s\n", tc.baseURL, tc.auth))
			set, err := registry.Load(path, registry.Options{LookupEnv: func(string) (string, bool) { return "", false }})
			var got []string
			if err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					_, msg, _ := strings.Cut(line, ": ")
					got = append(got, msg)
				}
			} else {
				set.Close()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestGovCloudKeyThroughRegionalSTS: in aws-us-gov, the role is assumed at
// the region's own STS endpoint (the SDK resolves it from the region; no
// endpoint is configured), and the key is signed for the GovCloud region
// with the host AWS's token generators sign for every region.
func TestGovCloudKeyThroughRegionalSTS(t *testing.T) {
	creds := startAWS(t, fakeaws.Options{Lifetime: 30 * time.Minute})
	fakeaws.Isolate(t)
	base := creds.Add()
	t.Setenv("AWS_ACCESS_KEY_ID", base.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", base.SecretAccessKey)
	n := fakehosts.New()
	sts := creds.ServeSTS(n, "sts.us-gov-west-1.amazonaws.com")
	defer sts.Close()
	bedrock := startBedrock(t, "us-gov-west-1", creds)

	path := configtest.Write(t, "providers:\n  p:\n    type: openai\n    base_url: https://bedrock-runtime.us-gov-west-1.amazonaws.com/openai/v1\n    model: m\n    auth: {type: aws, region: us-gov-west-1, role_arn: 'arn:aws-us-gov:iam::123456789012:role/bedrock'}\n")
	set, err := registry.Load(path, registry.Options{HTTPClient: n.Client()})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	p, err := set.Provider("p")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := bedrock.Verify(tok.Value.Reveal(), time.Now()); err != nil {
		t.Errorf("a GovCloud endpoint refuses the key: %v", err)
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
	type view struct{ STSHost, STSRegion, RoleARN, KeyRegion, SignedBy string }
	want := view{"sts.us-gov-west-1.amazonaws.com", "us-gov-west-1", "arn:aws-us-gov:iam::123456789012:role/bedrock", "us-gov-west-1", assumed[0].AccessKeyID}
	info := keyInfo(t, tok)
	got := view{assumed[0].STSHost, assumed[0].STSRegion, assumed[0].RoleARN, info.Region, info.AccessKeyID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
