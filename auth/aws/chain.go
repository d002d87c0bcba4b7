package aws

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/secretfile"
)

// errNotConfigured marks a link whose environment is absent: the SDK does
// not consider it at all.
var errNotConfigured = errors.New("not configured")

// chainLink is one credential source of the SDK's default chain.
type chainLink struct {
	name string
	// make returns the SDK's own provider for the link, or an error
	// wrapping errNotConfigured saying what is missing.
	make func(ctx context.Context, a *Auth, env awsconfig.EnvConfig) (awssdk.CredentialsProvider, error)
}

// defaultChain is the SDK's credential resolution (config.LoadDefaultConfig,
// aws-sdk-go-v2/config v1.33) in its order: environment keys, web identity
// from the environment, the shared profile, container credentials, IMDS.
// The SDK picks the first link that is configured (it does not fall through
// on failure); doctor tries each so an operator sees why the others did not
// apply.
var defaultChain = []chainLink{
	{"environment", func(ctx context.Context, a *Auth, env awsconfig.EnvConfig) (awssdk.CredentialsProvider, error) {
		if !env.Credentials.HasKeys() {
			return nil, fmt.Errorf("%w: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set", errNotConfigured)
		}
		return credentials.StaticCredentialsProvider{Value: env.Credentials}, nil
	}},
	{"web identity", func(ctx context.Context, a *Auth, env awsconfig.EnvConfig) (awssdk.CredentialsProvider, error) {
		if env.WebIdentityTokenFilePath == "" || env.RoleARN == "" {
			return nil, fmt.Errorf("%w: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set", errNotConfigured)
		}
		// A config of its own, for the endpoint settings the SDK's chain
		// would use (AWS_ENDPOINT_URL_STS, …); the call is unsigned.
		cfg, err := loadDefaultConfig(ctx, a.Profile, a.client, awsconfig.WithRegion(a.Region), awsconfig.WithCredentialsProvider(awssdk.AnonymousCredentials{}))
		if err != nil {
			return nil, err
		}
		client := sts.NewFromConfig(cfg)
		return stscreds.NewWebIdentityRoleProvider(client, env.RoleARN, webIdentityTokenFile(env.WebIdentityTokenFilePath), func(o *stscreds.WebIdentityRoleOptions) {
			o.RoleSessionName = env.RoleSessionName
		}), nil
	}},
	{"shared profile", func(ctx context.Context, a *Auth, env awsconfig.EnvConfig) (awssdk.CredentialsProvider, error) {
		profile := a.profile(env)
		// LoadSharedConfigProfile alone reads ~/.aws whatever the
		// environment says; name the files LoadDefaultConfig would read.
		files, err := openSharedFiles(os.LookupEnv)
		if err != nil {
			return nil, err
		}
		sc, err := awsconfig.LoadSharedConfigProfile(ctx, profile, files.sharedOptions)
		err = files.rename(err)
		files.Close()
		if err != nil {
			if _, ok := errors.AsType[awsconfig.SharedConfigProfileNotExistError](err); ok {
				return nil, fmt.Errorf("%w: no profile %s in the shared files", errNotConfigured, profile)
			}
			return nil, err
		}
		if !sc.Credentials.HasKeys() && sc.Source == nil && sc.CredentialSource == "" && sc.WebIdentityTokenFile == "" &&
			sc.SSOSession == nil && sc.SSOStartURL == "" && sc.CredentialProcess == "" && sc.LoginSession == "" {
			return nil, fmt.Errorf("%w: profile %s holds no credentials", errNotConfigured, profile)
		}
		cfg, err := loadDefaultConfig(ctx, profile, a.client, awsconfig.WithRegion(a.Region), awsconfig.WithSharedConfigProfile(profile))
		if err != nil {
			return nil, err
		}
		return cfg.Credentials, nil
	}},
	{"container", func(ctx context.Context, a *Auth, env awsconfig.EnvConfig) (awssdk.CredentialsProvider, error) {
		endpoint := env.ContainerCredentialsEndpoint
		if env.ContainerCredentialsRelativePath != "" {
			endpoint = "http://169.254.170.2" + env.ContainerCredentialsRelativePath
		}
		if endpoint == "" {
			return nil, fmt.Errorf("%w: AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_CREDENTIALS_RELATIVE_URI are not set", errNotConfigured)
		}
		token := env.ContainerAuthorizationToken
		if f := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); f != "" {
			b, err := secretfile.ReadLimited(f, maxTokenFile)
			if err != nil {
				return nil, containerTokenFile(f).problem(err, maxTokenFile)
			}
			token = strings.TrimSpace(string(b))
		}
		return endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
			o.AuthorizationToken = token
			if a.client != nil {
				o.HTTPClient = a.client
			}
		}), nil
	}},
	{"IMDS", func(ctx context.Context, a *Auth, env awsconfig.EnvConfig) (awssdk.CredentialsProvider, error) {
		if strings.EqualFold(os.Getenv("AWS_EC2_METADATA_DISABLED"), "true") {
			return nil, fmt.Errorf("%w: AWS_EC2_METADATA_DISABLED=true", errNotConfigured)
		}
		// doctor's IMDS link keeps the SDK's own client (an injected one
		// would need imds as a direct dependency); the chain the source
		// uses builds its IMDS client from the config's HTTP client.
		return ec2rolecreds.New(), nil
	}},
}

func (a *Auth) profile(env awsconfig.EnvConfig) string {
	switch {
	case a.Profile != "":
		return a.Profile
	case env.SharedConfigProfile != "":
		return env.SharedConfigProfile
	}
	return "default"
}

// Diagnose implements kind.Diagnoser: it tries each link of the SDK's
// default chain on its own, in the chain's order, and reports which one
// answers and why each other one did not.
func (a *Auth) Diagnose(ctx context.Context) []kind.ChainLink {
	env, err := awsconfig.NewEnvConfig()
	if err != nil {
		return []kind.ChainLink{{Name: "environment", Err: kind.FirstLine(err.Error())}}
	}
	tries := make([]kind.ChainTry, 0, len(defaultChain))
	for _, l := range defaultChain {
		try := kind.ChainTry{Name: l.name, Try: func(ctx context.Context) error {
			p, err := l.make(ctx, a, env)
			if err != nil {
				return err
			}
			c, err := p.Retrieve(ctx)
			if err == nil && !c.HasKeys() {
				err = errors.New("returned no credentials")
			}
			return err
		}}
		if a.Profile != "" && (l.name == "environment" || l.name == "web identity") {
			// With a profile named in code the SDK goes straight to it.
			try.Skip = "not used: the config names profile " + a.Profile
		}
		tries = append(tries, try)
	}
	return kind.WalkChain(ctx, tries)
}

// DescribeToken is the auth type's kind.Result.Describe: the access key id and
// region a key was signed with, and when — never its signature or session
// token.
func (a *Auth) DescribeToken(tok *credential.Token) []kind.TokenFact {
	info, _, err := ParseKey(tok.Value.Reveal())
	if err != nil {
		return []kind.TokenFact{{Name: "bedrock key", Value: err.Error()}}
	}
	return []kind.TokenFact{
		{Name: "access key id", Value: info.AccessKeyID},
		{Name: "region", Value: info.Region},
		{Name: "signed at", Value: info.SignedAt.Format(time.RFC3339)},
		{Name: "key expires", Value: info.Expiry.Format(time.RFC3339)},
	}
}
