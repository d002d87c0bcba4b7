// Package static is the `auth.type: static` credential kind: an API key or a
// bearer token from a literal, an environment variable, a file or a cloud
// secret store (the stores are modules of their own, registered with
// kind.RegisterStore).
// Import it for its side effect of registering the kind:
//
//	import _ "github.com/byokcred/byokcred/auth/static"
package static

//go:generate go run ../../schema/fielddocs -type Auth

import (
	"context"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/secretfile"
)

func init() {
	kind.Register("static", func() kind.AuthConfig { return new(Auth) })
}

// Auth is `auth.type: static`: an API key or a static bearer token from
// exactly one of a literal, an environment variable, a file or a secret
// store.
type Auth struct {
	// APIKey is the API key itself; ${VAR} expands (prefer api_key_env or
	// api_key_file: a literal key in a file is easily leaked).
	APIKey credential.Secret `yaml:"api_key"`
	// APIKeyEnv names the environment variable holding the API key.
	APIKeyEnv string `yaml:"api_key_env"`
	// APIKeyFile is a file holding the API key (owner-only permissions),
	// re-read when it changes; a relative path is relative to the config
	// file's directory.
	APIKeyFile string `yaml:"api_key_file" byok:"expand,path"`
	// BearerToken is a static bearer token itself; ${VAR} expands (prefer
	// bearer_token_env or bearer_token_file).
	BearerToken credential.Secret `yaml:"bearer_token"`
	// BearerTokenEnv names the environment variable holding the bearer
	// token.
	BearerTokenEnv string `yaml:"bearer_token_env"`
	// BearerTokenFile is a file holding the bearer token (owner-only
	// permissions), re-read when it changes; a relative path is relative
	// to the config file's directory.
	BearerTokenFile string `yaml:"bearer_token_file" byok:"expand,path"`
	// APIKeySecret reads the API key from a cloud secret store, re-read
	// as it rotates: a SecretRef beside the keys of its store.
	APIKeySecret *yaml.Node `yaml:"api_key_secret"`
	// BearerTokenSecret reads the bearer token from a cloud secret store,
	// re-read as it rotates: a SecretRef beside the keys of its store.
	BearerTokenSecret *yaml.Node `yaml:"bearer_token_secret"`

	// secretRef is the reference of APIKeySecret or BearerTokenSecret,
	// decoded by Validate.
	secretRef *SecretRef
}

// keys are the keys of which exactly one is set.
var keys = []string{"api_key", "api_key_env", "api_key_file", "api_key_secret", "bearer_token", "bearer_token_env", "bearer_token_file", "bearer_token_secret"}

// ref returns the secret-store reference block and its key, if that is
// where the credential comes from.
func (a *Auth) ref() (string, *yaml.Node, credential.Kind) {
	switch {
	case a.APIKeySecret != nil:
		return "api_key_secret", a.APIKeySecret, credential.KindAPIKey
	case a.BearerTokenSecret != nil:
		return "bearer_token_secret", a.BearerTokenSecret, credential.KindBearer
	}
	return "", nil, 0
}

func (a *Auth) options() (key string, opts SourceOptions, n int) {
	set := func(k string, kind credential.Kind, ok bool, apply func(*SourceOptions)) {
		if ok {
			n++
			key = k
			opts.Kind = kind
			apply(&opts)
		}
	}
	set("api_key", credential.KindAPIKey, !a.APIKey.IsZero(), func(o *SourceOptions) { o.Value = a.APIKey })
	set("api_key_env", credential.KindAPIKey, a.APIKeyEnv != "", func(o *SourceOptions) { o.Env = a.APIKeyEnv })
	set("api_key_file", credential.KindAPIKey, a.APIKeyFile != "", func(o *SourceOptions) { o.File = a.APIKeyFile })
	set("bearer_token", credential.KindBearer, !a.BearerToken.IsZero(), func(o *SourceOptions) { o.Value = a.BearerToken })
	set("bearer_token_env", credential.KindBearer, a.BearerTokenEnv != "", func(o *SourceOptions) { o.Env = a.BearerTokenEnv })
	set("bearer_token_file", credential.KindBearer, a.BearerTokenFile != "", func(o *SourceOptions) { o.File = a.BearerTokenFile })
	// A reference is read by its store (see ref), not by NewSource.
	set("api_key_secret", credential.KindAPIKey, a.APIKeySecret != nil, func(*SourceOptions) {})
	set("bearer_token_secret", credential.KindBearer, a.BearerTokenSecret != nil, func(*SourceOptions) {})
	return key, opts, n
}

// StoreRefs implements kind.StoreReferrer: the JSON Schema describes each
// reference as SecretRef's keys beside its store's.
func (a *Auth) StoreRefs() kind.StoreRefs {
	return kind.StoreRefs{Blocks: []string{"api_key_secret", "bearer_token_secret"}, Common: new(SecretRef)}
}

// Diagnose implements kind.Diagnoser for a secret-store reference whose
// store can show how its credential is found.
func (a *Auth) Diagnose(ctx context.Context) []kind.ChainLink {
	if a.secretRef != nil {
		if d, ok := a.secretRef.store.(kind.Diagnoser); ok {
			return d.Diagnose(ctx)
		}
	}
	return nil
}

// Validate implements kind.AuthConfig.
func (a *Auth) Validate(b *kind.Build) {
	key, opts, n := a.options()
	switch {
	case n == 0:
		for _, k := range keys {
			if b.Failed(k) {
				return // reported at that key (an unset ${VAR}, a misspelt key)
			}
		}
		b.Errorf("", "static auth needs one of %s", strings.Join(keys, ", "))
		return
	case n > 1:
		b.Errorf("", "static auth takes exactly one of %s; %d are set", strings.Join(keys, ", "), n)
		return
	}
	if _, node, _ := a.ref(); node != nil {
		a.secretRef = decodeRef(b.Sub(key), node)
		return
	}
	switch {
	case opts.Env != "":
		if v, ok := b.LookupEnv(opts.Env); !ok {
			b.EnvErrorf(key, "environment variable %s is not set; export it or change the config", opts.Env)
		} else if v == "" {
			b.EnvErrorf(key, "environment variable %s is empty", opts.Env)
		}
	case opts.File != "":
		fi, err := os.Stat(opts.File)
		if err != nil {
			b.EnvErrorf(key, "cannot read secret file: %v", err)
		} else if err := secretfile.CheckMode(opts.File, fi); err != nil {
			b.EnvErrorf(key, "%v", err)
		}
	}
}

// Source implements kind.AuthConfig.
//
// Static credentials never expire, and a file-backed one notices rotation
// itself: the registry puts no cache around them (SelfCaching). A secret
// read from a store is cached by the registry and re-read every refresh
// interval (a failed read keeps the last value).
func (a *Auth) Source(b *kind.Build) (kind.Result, error) {
	if key, _, kind := a.ref(); a.secretRef != nil {
		ref := a.secretRef
		r, err := ref.store.Reader(b.Sub(key))
		if err != nil {
			return kindResult{}, err
		}
		now := b.Now
		if now == nil {
			now = time.Now
		}
		src := &storeSource{kind: kind, reader: r, jsonKey: ref.JSONKey, now: now}
		interval := ref.interval()
		return kindResult{Source: src, Describe: src.DescribeToken, Cache: func(o *credential.CacheOptions) { o.MaxAge = interval }}, nil
	}
	_, opts, _ := a.options()
	opts.LookupEnv = b.LookupEnv
	opts.Logger = b.Logger
	src, err := NewSource(opts)
	if err != nil {
		return kindResult{}, err
	}
	return kindResult{Source: src, SelfCaching: true}, nil
}

// kindResult is kind.Result, named so where a variable called kind
// shadows the package.
type kindResult = kind.Result
