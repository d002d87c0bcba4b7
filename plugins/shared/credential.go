package shared

import (
	"context"

	"github.com/byokcred/byokcred/credential"
)

// Info describes a plugin, for the host's log.
type Info struct {
	// Name is the plugin's short name, e.g. "exec".
	Name string
	// Version is free-form, e.g. "v1.2.3" or "devel".
	Version string
}

// Credential is what a plugin implements.
//
// One plugin process serves every provider that names it, each with its own
// config: Configure is called once per provider, and again after the host
// restarts the process.
type Credential interface {
	// Describe returns the plugin's name and version.
	Describe(ctx context.Context) (Info, error)

	// Configure checks one provider's config and returns the source of that
	// provider's tokens. providerName is for log lines and error messages.
	//
	// config is the provider's `auth.config` map as the host's YAML gave it,
	// after a trip through google.protobuf.Struct: numbers are float64,
	// lists are []any, maps are map[string]any, durations are strings. An
	// unknown key, a value of the wrong type or a missing required value is
	// an error that names the key (package plugins/sdk has a strict reader).
	//
	// The returned source follows the [credential.TokenSource] contract: safe
	// for concurrent use, and honouring ctx, which carries the host's
	// deadline. It need not cache: the host caches.
	Configure(ctx context.Context, providerName string, config map[string]any) (credential.TokenSource, error)
}

// SubjectSource is implemented by token sources (returned from Configure)
// that mint tokens on behalf of a user, such as an RFC 8693 token exchange:
// TokenFor exchanges the user's token subject. The server announces such a
// config as per_user in ConfigureResponse, and only then does a host send a
// user's token. Token (without a user) is never called for it by a host that
// honours per_user.
type SubjectSource interface {
	TokenFor(ctx context.Context, subject credential.Secret) (*credential.Token, error)
}
