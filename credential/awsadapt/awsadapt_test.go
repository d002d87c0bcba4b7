package awsadapt_test

import (
	"context"
	"errors"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	authaws "github.com/byokcred/byokcred/auth/aws"
	"github.com/byokcred/byokcred/credential/awsadapt"
)

func TestBedrockKeySource(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	soon := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	creds := func(c awssdk.Credentials, err error) awssdk.CredentialsProvider {
		return awssdk.CredentialsProviderFunc(func(context.Context) (awssdk.Credentials, error) { return c, err })
	}
	type result struct {
		AccessKeyID, Region, Kind string
		ExpiryIsKeys              bool
		LifetimeCapped            bool
		Err                       string
		IsCause                   bool
	}
	tests := []struct {
		name   string
		creds  awssdk.CredentialsProvider
		region string
		want   result
	}{
		{"long-lived credentials: a 12-hour key", creds(awssdk.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, nil), "us-west-2",
			result{AccessKeyID: "AKIDEXAMPLE", Region: "us-west-2", Kind: "bearer", ExpiryIsKeys: true}},
		{"expiring credentials: the key ends with them", awssdk.NewCredentialsCache(creds(awssdk.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "s", SessionToken: "t", CanExpire: true, Expires: soon}, nil)), "eu-central-1",
			result{AccessKeyID: "ASIAEXAMPLE", Region: "eu-central-1", Kind: "bearer", ExpiryIsKeys: true, LifetimeCapped: true}},
		{"error", creds(awssdk.Credentials{}, boom), "us-east-1", result{Err: "awsadapt: retrieving AWS credentials: boom", IsCause: true}},
		{"no region", creds(awssdk.Credentials{}, nil), "", result{Err: "awsadapt: no region: pass the Bedrock endpoint's region, such as us-east-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := awsadapt.BedrockKeySource(tc.creds, tc.region).Token(context.Background())
			var got result
			if err != nil {
				got.Err, got.IsCause = err.Error(), errors.Is(err, boom)
			} else {
				info, _, perr := authaws.ParseKey(tok.Value.Reveal())
				if perr != nil {
					t.Fatal(perr)
				}
				got.AccessKeyID, got.Region, got.Kind = info.AccessKeyID, info.Region, tok.Kind.String()
				got.ExpiryIsKeys = tok.Expiry.Equal(info.Expiry)
				got.LifetimeCapped = !tok.Expiry.After(soon)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
