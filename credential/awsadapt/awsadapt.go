// Package awsadapt hands byokcred AWS credentials: any
// aws.CredentialsProvider (config.LoadDefaultConfig's, an assumed role's,
// your own) becomes a source of short-term Amazon Bedrock API keys for a
// registry ProviderSpec, signed as the `aws` auth type of a config file
// signs them (auth/aws.NewKey: the same code).
package awsadapt

import (
	"context"
	"errors"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	authaws "github.com/byokcred/byokcred/auth/aws"
	"github.com/byokcred/byokcred/credential"
)

// BedrockKeySource returns a source of Bedrock API keys for region minted
// from creds. Each key lives up to 12 hours, never past the credentials'
// own expiry, and carries its expiry, so the registry's cache mints the
// next one ahead of it. When creds is an *aws.CredentialsCache it is
// invalidated before each key, so that a key is never signed with
// credentials about to expire.
func BedrockKeySource(creds awssdk.CredentialsProvider, region string) credential.TokenSource {
	return &source{creds: creds, region: region, now: time.Now}
}

type source struct {
	creds  awssdk.CredentialsProvider
	region string
	now    func() time.Time
}

// Token implements credential.TokenSource.
func (s *source) Token(ctx context.Context) (*credential.Token, error) {
	if s.creds == nil {
		return nil, errors.New("awsadapt: no credentials provider: pass the Credentials of config.LoadDefaultConfig's aws.Config")
	}
	if s.region == "" {
		return nil, errors.New("awsadapt: no region: pass the Bedrock endpoint's region, such as us-east-1")
	}
	if c, ok := s.creds.(*awssdk.CredentialsCache); ok {
		c.Invalidate()
	}
	c, err := s.creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("awsadapt: retrieving AWS credentials: %w", err)
	}
	tok, err := authaws.NewKey(ctx, c, s.region, s.now())
	if err != nil {
		return nil, fmt.Errorf("awsadapt: %w", err)
	}
	return tok, nil
}
