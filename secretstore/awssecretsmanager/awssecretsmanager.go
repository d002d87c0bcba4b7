// Package awssecretsmanager is the `aws_secrets_manager` secret store of the
// static auth kind: the credential is a secret in AWS Secrets Manager, read
// with GetSecretValue under the workload's AWS identity (the SDK's default
// chain, a profile or an assumed role: the keys of `auth.type: aws`).
// Import it for its side effect of registering the store:
//
//	import _ "github.com/byokcred/byokcred/secretstore/awssecretsmanager"
//
// A reference names the secret by name (auth.region is then required) or
// by ARN (its region is the ARN's):
//
//	auth:
//	  type: static
//	  api_key_secret:
//	    store: aws_secrets_manager
//	    secret: arn:aws:secretsmanager:us-east-1:123456789012:secret:openai-AbCdEf
//	    auth: {role_arn: arn:aws:iam::123456789012:role/secret-reader}
//
// AWS_ENDPOINT_URL_SECRETS_MANAGER (the SDK's own setting) redirects the
// reads, e.g. to a VPC endpoint.
package awssecretsmanager

//go:generate go run ../../schema/fielddocs -type store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	awsauth "github.com/byokcred/byokcred/auth/aws"
	// A store is reached through static's api_key_secret and
	// bearer_token_secret: importing one makes them available.
	_ "github.com/byokcred/byokcred/auth/static"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/lazyre"
	"github.com/byokcred/byokcred/internal/storelimit"
	"github.com/byokcred/byokcred/kind"
)

func init() {
	kind.RegisterStore("aws_secrets_manager", func() kind.Store { return new(store) })
}

var (
	// arnRe is a secret's ARN in any partition (aws, aws-cn, aws-us-gov,
	// …): region group 2; the name may be partial (without the random
	// suffix Secrets Manager appends), which GetSecretValue also takes.
	arnRe = lazyre.New(`^arn:(aws[a-z-]*):secretsmanager:([a-z]{2}(?:-[a-z]+)+-[0-9]+):([0-9]{12}):secret:([A-Za-z0-9/_+=.@-]{1,512})$`)
	// nameRe is a secret name as CreateSecret allows it.
	nameRe = lazyre.New(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	// versionRe is a VersionId: 32 to 64 characters (a UUID, or the
	// ClientRequestToken the version was put with).
	versionRe = lazyre.New(`^[\x21-\x7e]{32,64}$`)
	// stageRe is a staging label: 1 to 256 characters.
	stageRe = lazyre.New(`^[\x21-\x7e]{1,256}$`)
	// deniedIdentityRe finds the caller in an AccessDeniedException
	// message ("User: arn:aws:sts::…:assumed-role/R/S is not authorized
	// to perform: …").
	deniedIdentityRe = lazyre.New(`User: (\S+) is not authorized`)
)

// store is the `aws_secrets_manager` block of a reference: which secret,
// where, and the identity that reads it (its keys beside store, json_key
// and refresh_interval).
type store struct {
	// Secret is the Secrets Manager secret's name (auth.region then says
	// where it is) or its ARN; ${VAR} expands.
	Secret string `yaml:"secret" byok:"expand"`
	// Version pins one version of the secret (its VersionId); default: the
	// version staged AWSCURRENT, followed as the secret rotates.
	Version string `yaml:"version"`
	// VersionStage is the staging label of the version to read (default
	// AWSCURRENT).
	VersionStage string `yaml:"version_stage"`
	// Auth is the AWS identity that reads the secret: the keys of
	// auth.type aws, without type. Default: the SDK's default credential
	// chain, in the region of the secret's ARN.
	Auth *awsauth.Auth `yaml:"auth"`

	// auth holds the reference's aws keys, with Region resolved (the
	// ARN's when the block does not say).
	auth awsauth.Auth
	arn  bool
}

var (
	_ kind.Store        = (*store)(nil)
	_ kind.Diagnoser    = (*store)(nil)
	_ kind.SecretReader = (*reader)(nil)
)

// Validate implements kind.Store. b's path is the reference block.
func (s *store) Validate(b *kind.Build) {
	if s.Secret == "" {
		if !b.Failed("secret") {
			b.Errorf("", "missing key \"secret\": the Secrets Manager secret's name or ARN")
		}
		return
	}
	var arnRegion string
	validID := true
	if strings.HasPrefix(s.Secret, "arn:") {
		s.arn = true
		if m := arnRe.FindStringSubmatch(s.Secret); m != nil {
			arnRegion = m[2]
		} else {
			validID = false
			b.Errorf("secret", "%q is not a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf)", s.Secret)
		}
	} else if !nameRe.MatchString(s.Secret) {
		validID = false
		b.Errorf("secret", "%q is neither a secret name (1 to 512 letters, digits and /_+=.@-) nor a secret ARN", s.Secret)
	}
	if s.Version != "" && !versionRe.MatchString(s.Version) {
		b.Errorf("version", "version %q is not a Secrets Manager VersionId (32 to 64 characters, usually a UUID; `aws secretsmanager list-secret-version-ids` lists them)", s.Version)
	}
	if s.VersionStage != "" && !stageRe.MatchString(s.VersionStage) {
		b.Errorf("version_stage", "version_stage %q is not a staging label (1 to 256 characters without spaces, such as AWSCURRENT or AWSPREVIOUS)", s.VersionStage)
	}
	ab := b.Sub("auth")
	if s.Auth != nil {
		s.auth = *s.Auth
		s.auth.ValidateCredentials(ab)
	}
	switch {
	case ab.Failed("region") || !validID:
	case arnRegion != "" && s.auth.Region != "" && s.auth.Region != arnRegion:
		ab.Errorf("region", "region %s disagrees with the secret's ARN, which is in %s: leave region out or make them agree", s.auth.Region, arnRegion)
	case arnRegion == "" && s.auth.Region == "" && s.Auth == nil:
		b.Errorf("", "secret %s is a name, so its region is needed: add auth: {region: REGION} (e.g. us-east-1), or give the secret's ARN", s.Secret)
	case arnRegion == "" && s.auth.Region == "":
		ab.Errorf("", "missing key \"region\": secret %s is a name, so its region is needed (e.g. us-east-1), or give the secret's ARN", s.Secret)
	}
	if s.auth.Region == "" {
		s.auth.Region = arnRegion
	}
}

// Reader implements kind.Store. The client is made on the first read:
// resolving the credential chain may look up a host name.
func (s *store) Reader(b *kind.Build) (kind.SecretReader, error) {
	r := &reader{store: *s}
	if b.HTTPClient != nil {
		r.http = b.HTTPClient
	}
	return r, nil
}

// Diagnose implements kind.Diagnoser: the AWS credential chain that
// reads the secret, as `auth.type: aws` walks it.
func (s *store) Diagnose(ctx context.Context) []kind.ChainLink {
	return s.auth.Diagnose(ctx)
}

// reader reads one secret with GetSecretValue each time it is asked.
type reader struct {
	store
	// http carries the Secrets Manager requests (kind.Build.HTTPClient;
	// nil: the SDK's default client).
	http storelimit.Doer

	mu     sync.Mutex
	client *secretsmanager.Client
}

// Reference implements kind.SecretReader: the ARN, or the name and its
// region, with the pinned version or stage.
func (r *reader) Reference() string {
	ref := r.Secret
	if !r.arn {
		ref += " in " + r.auth.Region
	}
	if r.Version != "" {
		ref += ", version " + r.Version
	}
	if r.VersionStage != "" {
		ref += ", stage " + r.VersionStage
	}
	return ref
}

func (r *reader) getClient(ctx context.Context) (*secretsmanager.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		cfg, err := r.auth.SDKCredentials(ctx)
		if err != nil {
			return nil, fmt.Errorf("awssecretsmanager: %w", err)
		}
		// The SDK reads and decodes the whole answer before it returns:
		// the limit is on the wire, under it.
		r.client = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
			if r.http != nil {
				o.HTTPClient = r.http
			}
			o.HTTPClient = storelimit.Client(o.HTTPClient)
		})
	}
	return r.client, nil
}

// ReadSecret implements kind.SecretReader.
func (r *reader) ReadSecret(ctx context.Context) (*kind.SecretValue, error) {
	c, err := r.getClient(ctx)
	if err != nil {
		return nil, err
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.Secret)}
	if r.Version != "" {
		in.VersionId = aws.String(r.Version)
	}
	if r.VersionStage != "" {
		in.VersionStage = aws.String(r.VersionStage)
	}
	out, err := c.GetSecretValue(ctx, in)
	if err != nil {
		return nil, r.explain(err)
	}
	var v string
	switch {
	case out.SecretString != nil:
		v = *out.SecretString
	case out.SecretBinary != nil:
		v = string(out.SecretBinary)
	}
	return &kind.SecretValue{Value: credential.NewSecret(v), Version: aws.ToString(out.VersionId), Created: aws.ToTime(out.CreatedDate)}, nil
}

// explain turns a GetSecretValue error into one that says what to do. AWS's
// own message is kept: it names the caller and the policy that decided, and
// never holds a secret value.
func (r *reader) explain(err error) error {
	if tl, ok := storelimit.AsTooLarge(err); ok {
		return fmt.Errorf("awssecretsmanager: Secrets Manager in %s: %w", r.auth.Region, tl)
	}
	status := 0
	if re, ok := errors.AsType[interface {
		error
		HTTPStatusCode() int
	}](err); ok {
		status = re.HTTPStatusCode()
	}
	ae, isAPI := errors.AsType[smithy.APIError](err)
	if !isAPI {
		if _, ok := errors.AsType[*smithy.DeserializationError](err); ok {
			// The decoder's message may quote the body, which may hold
			// the secret.
			return fmt.Errorf("awssecretsmanager: Secrets Manager in %s answered HTTP %d with a body that is not a GetSecretValue answer; is AWS_ENDPOINT_URL_SECRETS_MANAGER right?", r.auth.Region, status)
		}
		if status >= 500 {
			return r.unavailable(status)
		}
		return fmt.Errorf("awssecretsmanager: reading the secret in %s: %w; check the AWS credentials the reference's auth block selects", r.auth.Region, err)
	}
	code, msg := ae.ErrorCode(), ae.ErrorMessage()
	switch code {
	case "ResourceNotFoundException":
		if r.Version != "" || r.VersionStage != "" {
			return fmt.Errorf("awssecretsmanager: Secrets Manager in %s has no such version of the secret: check version and version_stage (aws: %s)", r.auth.Region, msg)
		}
		return fmt.Errorf("awssecretsmanager: Secrets Manager in %s has no secret %s: check its name and region (aws: %s)", r.auth.Region, r.Secret, msg)
	case "AccessDeniedException":
		who := "the identity that reads it"
		if m := deniedIdentityRe.FindStringSubmatch(msg); m != nil {
			who = m[1]
		}
		return fmt.Errorf("awssecretsmanager: access denied: allow secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its KMS key, when that is a customer managed key) for %s (aws: %s)", who, msg)
	case "DecryptionFailure":
		return fmt.Errorf("awssecretsmanager: Secrets Manager cannot decrypt the secret with its KMS key: check that the key is enabled and allows kms:Decrypt for the identity that reads it (aws: %s)", msg)
	case "InvalidRequestException":
		hint := ""
		if strings.Contains(msg, "deletion") {
			hint = "; restore it with `aws secretsmanager restore-secret`, or point the config at another secret"
		}
		return fmt.Errorf("awssecretsmanager: Secrets Manager refuses to read the secret: %s%s", msg, hint)
	case "InvalidParameterException":
		return fmt.Errorf("awssecretsmanager: Secrets Manager rejects the request: %s; check secret, version and version_stage", msg)
	case "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException", "ExpiredTokenException", "InvalidClientTokenId":
		return fmt.Errorf("awssecretsmanager: Secrets Manager in %s refuses the AWS credentials (%s: %s); check the credentials the reference's auth block selects", r.auth.Region, code, msg)
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded":
		return fmt.Errorf("awssecretsmanager: Secrets Manager in %s is throttling reads: retried at the next refresh; if this persists, raise refresh_interval or share one reference among providers", r.auth.Region)
	case "InternalServiceError":
		return r.unavailable(status)
	}
	if status >= 500 {
		return r.unavailable(status)
	}
	return fmt.Errorf("awssecretsmanager: reading the secret in %s: %s: %s", r.auth.Region, code, msg)
}

func (r *reader) unavailable(status int) error {
	return fmt.Errorf("awssecretsmanager: Secrets Manager in %s is unavailable (HTTP %d): retried at the next refresh", r.auth.Region, status)
}
