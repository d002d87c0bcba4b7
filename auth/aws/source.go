package aws

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/byokcred/byokcred/credential"
)

// The shape of a short-term Bedrock API key, as AWS's token generators
// (Python, JavaScript, Java) build it: a SigV4-presigned
// POST https://bedrock.amazonaws.com/?Action=CallWithBearerToken for service
// bedrock in the model's region, signed header host, payload unsigned; the
// URL without its scheme, plus &Version=1, base64-encoded behind a prefix.
const (
	// KeyPrefix starts every Bedrock API key.
	KeyPrefix = "bedrock-api-key-"
	// MaxKeyLifetime is the longest X-Amz-Expires Bedrock accepts (12 h).
	MaxKeyLifetime = 12 * time.Hour

	keyHost         = "bedrock.amazonaws.com"
	keyService      = "bedrock"
	keyAction       = "CallWithBearerToken"
	keyVersion      = "&Version=1"
	unsignedPayload = "UNSIGNED-PAYLOAD"
)

// signer is safe for concurrent use. It caches the derived signing key per
// service and region, checked against the access key id and day: AWS never
// gives one access key id two secrets.
var signer = v4.NewSigner()

// NewKey mints a Bedrock API key for region from c at now. The key lives
// MaxKeyLifetime, or until c expires if that is sooner: a presigned request
// is refused once the credentials that signed it have expired, so a longer
// X-Amz-Expires would only promise what Bedrock will not keep.
func NewKey(ctx context.Context, c awssdk.Credentials, region string, now time.Time) (*credential.Token, error) {
	now = now.UTC().Truncate(time.Second) // X-Amz-Date has second resolution
	life := MaxKeyLifetime
	if c.CanExpire {
		life = min(life, c.Expires.Sub(now))
	}
	secs := int64(life / time.Second)
	if secs < 1 {
		return nil, fmt.Errorf("aws: the credentials (access key %s) expire at %s, too soon to sign a key", c.AccessKeyID, c.Expires.UTC().Format(time.RFC3339))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+keyHost+"/?Action="+keyAction+"&X-Amz-Expires="+strconv.FormatInt(secs, 10), nil)
	if err != nil {
		return nil, fmt.Errorf("aws: %w", err)
	}
	signed, _, err := signer.PresignHTTP(ctx, c, req, unsignedPayload, keyService, region, now)
	if err != nil {
		return nil, fmt.Errorf("aws: signing the Bedrock key: %w", err)
	}
	key := KeyPrefix + base64.StdEncoding.EncodeToString([]byte(strings.TrimPrefix(signed, "https://")+keyVersion))
	return &credential.Token{Value: credential.NewSecret(key), Kind: credential.KindBearer, Expiry: now.Add(time.Duration(secs) * time.Second)}, nil
}

// KeyInfo is what a Bedrock API key says about itself, short of its
// signature and session token.
type KeyInfo struct {
	AccessKeyID string
	Region      string
	SignedAt    time.Time
	Expiry      time.Time
}

// ParseKey reads the public parts of a Bedrock API key. It does not check
// the signature (only AWS, holding the secret, can).
func ParseKey(key string) (KeyInfo, url.Values, error) {
	rest, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok {
		return KeyInfo{}, nil, errors.New("aws: not a Bedrock API key (no " + KeyPrefix + " prefix)")
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return KeyInfo{}, nil, errors.New("aws: Bedrock API key is not valid base64")
	}
	u, err := url.Parse("https://" + string(raw))
	if err != nil || u.Host != keyHost || u.Path != "/" {
		return KeyInfo{}, nil, errors.New("aws: Bedrock API key does not hold a presigned " + keyHost + " URL")
	}
	q := u.Query()
	cred := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(cred) != 5 || cred[3] != keyService || cred[4] != "aws4_request" {
		return KeyInfo{}, nil, errors.New("aws: Bedrock API key has no valid X-Amz-Credential")
	}
	signedAt, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return KeyInfo{}, nil, errors.New("aws: Bedrock API key has no valid X-Amz-Date")
	}
	secs, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil || secs < 1 || secs > int64(MaxKeyLifetime/time.Second) {
		return KeyInfo{}, nil, errors.New("aws: Bedrock API key has no valid X-Amz-Expires")
	}
	return KeyInfo{AccessKeyID: cred[0], Region: cred[2], SignedAt: signedAt, Expiry: signedAt.Add(time.Duration(secs) * time.Second)}, q, nil
}

// source mints a key from fresh credentials each time the cache around it
// asks: the cache decides when (ahead of the key's expiry), so the SDK's own
// credentials cache is invalidated first — otherwise it would hand back
// credentials close to their end and every key would be short-lived.
type source struct {
	auth Auth
	now  func() time.Time

	mu         sync.Mutex // guards the fields below, set on first use
	creds      awssdk.CredentialsProvider
	invalidate func()
}

func newSource(a *Auth, now func() time.Time) (*source, error) {
	if now == nil {
		now = time.Now
	}
	return &source{auth: *a, now: now}, nil
}

// provider resolves the SDK's chain on first use rather than when the config
// is loaded: resolving may look up a container-credentials host name (DNS),
// and loading must not touch the network.
func (s *source) provider(ctx context.Context) (awssdk.CredentialsProvider, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.creds != nil {
		return s.creds, s.invalidate, nil
	}
	a := &s.auth
	cfg, err := a.loadConfig(ctx)
	if err != nil {
		return nil, nil, err
	}
	s.creds = cfg.Credentials
	if a.RoleARN != "" {
		// Uncached: each key gets freshly assumed credentials.
		s.creds = a.assumeRole(cfg)
	} else if c, ok := cfg.Credentials.(*awssdk.CredentialsCache); ok {
		s.invalidate = c.Invalidate
	}
	return s.creds, s.invalidate, nil
}

// assumeRole returns the (uncached) provider of role_arn's credentials,
// assumed with cfg's.
func (a *Auth) assumeRole(cfg awssdk.Config) awssdk.CredentialsProvider {
	return stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), a.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		if a.ExternalID != "" {
			o.ExternalID = awssdk.String(a.ExternalID)
		}
		o.RoleSessionName = a.sessionName()
	})
}

// SDKCredentials returns the SDK config these keys describe: the SDK's default
// chain (or profile) in region, and role_arn assumed on top when set. The
// AWS SDK hands credentials to a client inside a Config (with the region
// and the HTTP client), so the Config is what this kind gives a secret
// store, under the name entra and gcp give theirs. Its
// credentials are cached by the SDK and renewed ahead of their expiry, as
// suits a caller that signs requests (unlike the Bedrock keys, which want
// fresh credentials each). It reads environment variables and the shared
// files but does no network I/O: credentials are fetched on first use.
func (a *Auth) SDKCredentials(ctx context.Context) (awssdk.Config, error) {
	cfg, err := a.loadConfig(ctx)
	if err != nil {
		return awssdk.Config{}, err
	}
	if a.RoleARN != "" {
		cfg.Credentials = awssdk.NewCredentialsCache(a.assumeRole(cfg))
	}
	return cfg, nil
}

func (a *Auth) sessionName() string {
	if a.SessionName == "" {
		return "byokcred"
	}
	return a.SessionName
}

// loadConfig runs the SDK's default chain resolution: it reads environment
// variables and the shared files but does no network I/O.
func (a *Auth) loadConfig(ctx context.Context) (awssdk.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(a.Region)}
	if a.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(a.Profile))
	}
	cfg, err := loadDefaultConfig(ctx, a.Profile, a.client, opts...)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("aws: loading the AWS config: %w", err)
	}
	return cfg, nil
}

// Token implements credential.TokenSource.
func (s *source) Token(ctx context.Context) (*credential.Token, error) {
	creds, invalidate, err := s.provider(ctx)
	if err != nil {
		return nil, err
	}
	if invalidate != nil {
		invalidate()
	}
	c, err := creds.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("aws: retrieving AWS credentials: %w", err)
	}
	return NewKey(ctx, c, s.auth.Region, s.now())
}
