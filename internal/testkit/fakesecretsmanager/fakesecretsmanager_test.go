package fakesecretsmanager_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/internal/testkit/fakesecretsmanager"
)

func start(t *testing.T) (*fakeaws.Server, *fakesecretsmanager.Server) {
	t.Helper()
	creds, err := fakeaws.Start(fakeaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { creds.Close() })
	sm, err := fakesecretsmanager.Start(fakesecretsmanager.Options{Region: "eu-west-1", Lookup: creds.Lookup})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Close() })
	return creds, sm
}

// client is the real SDK client pointed at sm, signing with c in region.
func client(sm *fakesecretsmanager.Server, c aws.Credentials, region string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(aws.Config{
		Region:           region,
		Credentials:      credentials.StaticCredentialsProvider{Value: c},
		BaseEndpoint:     aws.String(sm.URL),
		RetryMaxAttempts: 1,
	})
}

func code(err error) string {
	if err == nil {
		return ""
	}
	if ae, ok := errors.AsType[smithy.APIError](err); ok {
		return ae.ErrorCode()
	}
	return err.Error()
}

// TestSignatureChecked: only requests signed by the SDK with the secret of
// credentials fakeaws issued, for secretsmanager in the server's region,
// are answered.
func TestSignatureChecked(t *testing.T) {
	creds, sm := start(t)
	sm.Put("k", "v1")
	good := creds.Add()
	ac := aws.Credentials{AccessKeyID: good.AccessKeyID, SecretAccessKey: good.SecretAccessKey}
	tests := []struct {
		name       string
		creds      func() aws.Credentials
		region     string
		wantCode   string
		wantReason string
	}{
		{name: "signed with issued credentials", creds: func() aws.Credentials { return ac }, region: "eu-west-1"},
		{name: "wrong secret key", creds: func() aws.Credentials { c := ac; c.SecretAccessKey += "x"; return c }, region: "eu-west-1",
			wantCode: "InvalidSignatureException", wantReason: "signature does not match"},
		{name: "unknown access key", creds: func() aws.Credentials { c := ac; c.AccessKeyID = "AKIAUNKNOWN"; return c }, region: "eu-west-1",
			wantCode: "UnrecognizedClientException", wantReason: "unknown access key id AKIAUNKNOWN"},
		{name: "session token not issued with the key", creds: func() aws.Credentials { c := ac; c.SessionToken = "forged"; return c }, region: "eu-west-1",
			wantCode: "UnrecognizedClientException", wantReason: "wrong session token for " + good.AccessKeyID},
		{name: "signed for another region", creds: func() aws.Credentials { return ac }, region: "us-east-1",
			wantCode: "InvalidSignatureException", wantReason: "signed for region us-east-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(sm.Rejected())
			out, err := client(sm, tc.creds(), tc.region).GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("k")})
			if diff := cmp.Diff(tc.wantCode, code(err)); diff != "" {
				t.Fatalf("error code (-want +got):\n%s", diff)
			}
			if tc.wantCode == "" {
				if got := aws.ToString(out.SecretString); got != "v1" {
					t.Errorf("SecretString = %q, want v1", got)
				}
				return
			}
			rej := sm.Rejected()[before:]
			want := []fakesecretsmanager.Rejection{{Code: tc.wantCode, Reason: tc.wantReason}}
			if diff := cmp.Diff(want, rej); diff != "" {
				t.Errorf("rejections (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVersionsAndStages: Put makes a new AWSCURRENT and moves the old one to
// AWSPREVIOUS; versions and stages resolve as GetSecretValue does.
func TestVersionsAndStages(t *testing.T) {
	creds, sm := start(t)
	c := creds.Add()
	cl := client(sm, aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}, "eu-west-1")
	v1 := sm.Put("app/key", "one")
	v2 := sm.Put("app/key", "two")
	v3 := sm.Put("app/key", "three")
	arn := sm.ARN("app/key")
	tests := []struct {
		name        string
		in          secretsmanager.GetSecretValueInput
		wantValue   string
		wantVersion string
		wantStages  []string
		wantCode    string
	}{
		{name: "current by name", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("app/key")}, wantValue: "three", wantVersion: v3.ID, wantStages: []string{"AWSCURRENT"}},
		{name: "by full arn", in: secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}, wantValue: "three", wantVersion: v3.ID, wantStages: []string{"AWSCURRENT"}},
		{name: "by partial arn", in: secretsmanager.GetSecretValueInput{SecretId: aws.String(arn[:len(arn)-7])}, wantValue: "three", wantVersion: v3.ID, wantStages: []string{"AWSCURRENT"}},
		{name: "previous stage", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("app/key"), VersionStage: aws.String("AWSPREVIOUS")}, wantValue: "two", wantVersion: v2.ID, wantStages: []string{"AWSPREVIOUS"}},
		{name: "pinned version", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("app/key"), VersionId: aws.String(v1.ID)}, wantValue: "one", wantVersion: v1.ID, wantStages: []string{}},
		{name: "unknown version", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("app/key"), VersionId: aws.String("00000000-0000-0000-0000-000000000000")}, wantCode: "ResourceNotFoundException"},
		{name: "unknown stage", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("app/key"), VersionStage: aws.String("AWSPENDING")}, wantCode: "ResourceNotFoundException"},
		{name: "version not in stage", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("app/key"), VersionId: aws.String(v1.ID), VersionStage: aws.String("AWSCURRENT")}, wantCode: "InvalidRequestException"},
		{name: "unknown secret", in: secretsmanager.GetSecretValueInput{SecretId: aws.String("nope")}, wantCode: "ResourceNotFoundException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := cl.GetSecretValue(context.Background(), &tc.in)
			if diff := cmp.Diff(tc.wantCode, code(err)); diff != "" {
				t.Fatalf("error code (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			type view struct {
				Value, Version string
				Stages         []string
			}
			if diff := cmp.Diff(view{tc.wantValue, tc.wantVersion, tc.wantStages}, view{aws.ToString(out.SecretString), aws.ToString(out.VersionId), out.VersionStages}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	out, err := cl.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("app/key")})
	if err != nil {
		t.Fatal(err)
	}
	if !aws.ToTime(out.CreatedDate).Equal(v3.Created) || time.Since(v3.Created) > time.Minute {
		t.Errorf("CreatedDate %s, want %s", aws.ToTime(out.CreatedDate), v3.Created)
	}
}
