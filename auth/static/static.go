// Package static is the `auth.type: static` credential kind: an API key or a
// bearer token from a literal, an environment variable or a file. Import it
// for its side effect of registering the kind:
//
//	import _ "github.com/byokcred/byokcred/auth/static"
package static

//go:generate go run ../../schema/fielddocs -type Auth

import (
	"os"

	"github.com/byokcred/byokcred/provider"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/secretfile"
)

func init() {
	registry.Register("static", func() registry.AuthConfig { return new(Auth) })
}

// Auth is `auth.type: static`: an API key or a static bearer token from
// exactly one of a literal, an environment variable or a file.
type Auth struct {
	// APIKey is the API key itself; ${VAR} expands (prefer api_key_env or
	// api_key_file: a literal key in a file is easily leaked).
	APIKey provider.Secret `yaml:"api_key"`
	// APIKeyEnv names the environment variable holding the API key.
	APIKeyEnv string `yaml:"api_key_env"`
	// APIKeyFile is a file holding the API key (owner-only permissions),
	// re-read when it changes; a relative path is relative to the config
	// file's directory.
	APIKeyFile string `yaml:"api_key_file" byok:"expand,path"`
	// BearerToken is a static bearer token itself; ${VAR} expands (prefer
	// bearer_token_env or bearer_token_file).
	BearerToken provider.Secret `yaml:"bearer_token"`
	// BearerTokenEnv names the environment variable holding the bearer
	// token.
	BearerTokenEnv string `yaml:"bearer_token_env"`
	// BearerTokenFile is a file holding the bearer token (owner-only
	// permissions), re-read when it changes; a relative path is relative
	// to the config file's directory.
	BearerTokenFile string `yaml:"bearer_token_file" byok:"expand,path"`
}

// keys are the keys of which exactly one is set.
var keys = []string{"api_key", "api_key_env", "api_key_file", "bearer_token", "bearer_token_env", "bearer_token_file"}

func (a *Auth) options() (key string, opts SourceOptions, n int) {
	set := func(k string, kind provider.Kind, ok bool, apply func(*SourceOptions)) {
		if ok {
			n++
			key = k
			opts.Kind = kind
			apply(&opts)
		}
	}
	set("api_key", provider.KindAPIKey, !a.APIKey.IsZero(), func(o *SourceOptions) { o.Value = a.APIKey })
	set("api_key_env", provider.KindAPIKey, a.APIKeyEnv != "", func(o *SourceOptions) { o.Env = a.APIKeyEnv })
	set("api_key_file", provider.KindAPIKey, a.APIKeyFile != "", func(o *SourceOptions) { o.File = a.APIKeyFile })
	set("bearer_token", provider.KindBearer, !a.BearerToken.IsZero(), func(o *SourceOptions) { o.Value = a.BearerToken })
	set("bearer_token_env", provider.KindBearer, a.BearerTokenEnv != "", func(o *SourceOptions) { o.Env = a.BearerTokenEnv })
	set("bearer_token_file", provider.KindBearer, a.BearerTokenFile != "", func(o *SourceOptions) { o.File = a.BearerTokenFile })
	return key, opts, n
}

// SelfCaching implements registry.SelfCaching: static credentials never expire, and a
// file-backed one notices rotation itself.
func (a *Auth) SelfCaching() bool { return true }

// Validate implements registry.AuthConfig.
func (a *Auth) Validate(b *registry.Build) {
	key, opts, n := a.options()
	switch {
	case n == 0:
		for _, k := range keys {
			if b.Failed(k) {
				return // reported at that key (an unset ${VAR}, a misspelt key)
			}
		}
		b.Errorf("", "static auth needs one of api_key, api_key_env, api_key_file, bearer_token, bearer_token_env, bearer_token_file")
		return
	case n > 1:
		b.Errorf("", "static auth takes exactly one of api_key, api_key_env, api_key_file, bearer_token, bearer_token_env, bearer_token_file; %d are set", n)
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

// Source implements registry.AuthConfig.
func (a *Auth) Source(b *registry.Build) (provider.TokenSource, error) {
	_, opts, _ := a.options()
	opts.LookupEnv = b.LookupEnv
	return NewSource(opts)
}
