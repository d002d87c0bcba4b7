// Package aws is the `auth.type: aws` credential kind: short-term Amazon
// Bedrock API keys minted locally from AWS credentials of the SDK's default
// chain (environment, shared config profile, web identity, container
// credentials, IMDS), optionally through an assumed role. Import it for its
// side effect of registering the kind:
//
//	import _ "github.com/byokcred/byokcred/auth/aws"
package aws

//go:generate go run ../../schema/fielddocs -type Auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/byokcred/byokcred/internal/lazyre"
	"github.com/byokcred/byokcred/kind"
)

func init() {
	kind.Register("aws", func() kind.AuthConfig { return new(Auth) })
}

// Auth is `auth.type: aws`: Bedrock API keys signed with AWS credentials.
type Auth struct {
	// Region is the AWS region of the Bedrock endpoint (e.g. us-east-1,
	// us-gov-west-1); a key signed for one region is refused by another.
	// Its partition decides the STS endpoint and which role ARNs apply;
	// Bedrock API keys are documented in the aws and aws-us-gov partitions
	// only. Required.
	Region string `yaml:"region"`
	// Profile is a profile of the shared config/credentials files (default:
	// $AWS_PROFILE, else the SDK's default chain).
	Profile string `yaml:"profile"`
	// RoleARN is an IAM role to assume (sts:AssumeRole) with the chain's
	// credentials before signing, e.g. arn:aws:iam::123456789012:role/bedrock.
	RoleARN string `yaml:"role_arn"`
	// ExternalID is the external id the role's trust policy asks for
	// (with role_arn only).
	ExternalID string `yaml:"external_id"`
	// SessionName names the assumed-role session in CloudTrail (with
	// role_arn only; default byokcred).
	SessionName string `yaml:"session_name"`

	// client carries the SDK's requests (kind.Build.HTTPClient, taken
	// by ValidateCredentials); nil leaves the SDK its default client.
	client *http.Client
}

var (
	regionRe      = lazyre.New(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	roleARNRe     = lazyre.New(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	sessionNameRe = lazyre.New(`^[\w+=,.@-]{2,64}$`)
	// bedrockHostRe matches Bedrock's inference hosts (bedrock-runtime and
	// bedrock-mantle); the region is group 1 or 2.
	bedrockHostRe = lazyre.New(`^(?:bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?|bedrock-mantle\.([a-z0-9-]+)\.api\.aws)$`)
)

// Validate implements kind.AuthConfig.
func (a *Auth) Validate(b *kind.Build) {
	if a.Region == "" {
		b.Errorf("", "aws auth needs region (the Bedrock endpoint's region, e.g. us-east-1)")
	} else if regionRe.MatchString(a.Region) {
		if err := checkBedrockRegion(a.Region); err != nil {
			b.Errorf("region", "%v", err)
		} else if r := baseURLRegion(b.Provider.BaseURL); r != "" && r != a.Region {
			b.Errorf("region", "region %s disagrees with base_url, which is Bedrock in %s: a key signed for %s is refused there", a.Region, r, a.Region)
		}
	}
	a.ValidateCredentials(b)
}

// ValidateCredentials checks the keys that say which AWS identity to use —
// region's form when it is set, profile, role_arn, external_id,
// session_name — without the checks that only Bedrock needs (a region, and
// one that agrees with base_url). Another module that reads AWS with these
// keys, such as a secret store's auth block, validates them with it; b's
// path is the block holding them.
func (a *Auth) ValidateCredentials(b *kind.Build) {
	a.client = b.HTTPClient
	if a.Region != "" && !regionRe.MatchString(a.Region) {
		b.Errorf("region", "%q is not an AWS region name (like us-east-1)", a.Region)
	}
	if a.RoleARN != "" && !roleARNRe.MatchString(a.RoleARN) {
		b.Errorf("role_arn", "%q is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)", a.RoleARN)
	} else if a.RoleARN != "" && regionRe.MatchString(a.Region) {
		if err := checkRolePartition(a.RoleARN, a.Region); err != nil {
			b.Errorf("role_arn", "%v", err)
		}
	}
	if a.RoleARN == "" {
		for _, k := range []struct{ key, v string }{{"external_id", a.ExternalID}, {"session_name", a.SessionName}} {
			if k.v != "" {
				b.Errorf(k.key, "%s applies only with role_arn", k.key)
			}
		}
	}
	if a.SessionName != "" && !sessionNameRe.MatchString(a.SessionName) {
		b.Errorf("session_name", "session_name must be 2 to 64 characters of letters, digits and +=,.@_-")
	}
	// The shared files are this machine's, not the config's: --offline
	// (CI, no credentials) does not read them.
	if a.Profile != "" && !b.Offline {
		if err := checkProfile(a.Profile, b.LookupEnv); err != nil {
			b.EnvErrorf("profile", "%v", err)
		}
	}
}

// baseURLRegion returns the region of a Bedrock runtime base URL, or "" for
// any other URL (a gateway, a loopback test endpoint).
func baseURLRegion(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if m := bedrockHostRe.FindStringSubmatch(strings.ToLower(u.Hostname())); m != nil {
		return m[1] + m[2]
	}
	return ""
}

// checkProfile reports a profile that the shared files the SDK would read
// do not define, without any network I/O, and a shared file that is not a
// regular file of a sane size.
func checkProfile(profile string, lookup func(string) (string, bool)) error {
	files, err := openSharedFiles(lookup)
	if err != nil {
		return err
	}
	defer files.Close()
	_, err = awsconfig.LoadSharedConfigProfile(context.Background(), profile, files.sharedOptions)
	return checkProfileError(profile, files, err)
}

// checkProfileError is LoadSharedConfigProfile's err in checkProfile's
// words, naming the files rather than their copies.
func checkProfileError(profile string, files *sharedFiles, err error) error {
	if _, ok := errors.AsType[awsconfig.SharedConfigProfileNotExistError](err); ok {
		return errors.New("profile " + profile + " is not defined in " + files.names())
	}
	if err != nil {
		// Other problems (a malformed file) surface when the SDK loads
		// the profile; the SDK's message names the file.
		return errors.New("profile " + profile + ": " + files.rename(err).Error())
	}
	return nil
}

// Source implements kind.AuthConfig.
func (a *Auth) Source(b *kind.Build) (kind.Result, error) {
	src, err := newSource(a, b.Now)
	if err != nil {
		return kind.Result{}, err
	}
	return kind.Result{Source: src, Describe: a.DescribeToken}, nil
}
