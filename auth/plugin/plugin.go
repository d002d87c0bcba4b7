// Package plugin is the `auth.type: plugin` credential kind: tokens from an
// external credential plugin (hashicorp/go-plugin) declared under
// `plugins:`. Import it for its side effect of registering the kind:
//
//	import _ "github.com/byokcred/byokcred/auth/plugin"
package plugin

//go:generate go run ../../schema/fielddocs -type Auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/plugins/host"
	"github.com/byokcred/byokcred/plugins/shared"
	"github.com/byokcred/byokcred/registry"
)

func init() {
	kind.Register("plugin", func() kind.AuthConfig { return new(Auth) })
}

// DefaultMaxAge is the max_age of a plugin provider that sets none:
// an opaque token is re-fetched this often. Short-lived opaque tokens
// (gcloud access tokens, gateway tokens) live 15 to 60 minutes, so a token
// fetched just before its issuer rotated it is replaced well before it
// expires, and running a CLI twelve times an hour costs nothing.
const DefaultMaxAge = 5 * time.Minute

// Auth is `auth.type: plugin`: tokens from an external credential
// plugin declared under `plugins:`. The plugin's process is shared by every
// provider that names it and is started on the first token request; its
// tokens go through the same cache as every other source.
type Auth struct {
	// Plugin names the entry under `plugins:`.
	Plugin string `yaml:"plugin"`
	// Config is sent to the plugin as is (strings expand ${VAR}); the
	// plugin checks it.
	Config map[string]any `yaml:"config"`
	// MaxAge is how long a token that states no expiry (an opaque token; a
	// JWT's exp counts as an expiry) is served before it is re-fetched in
	// the background. Default 5m (DefaultMaxAge); 0s never re-fetches.
	MaxAge *time.Duration `yaml:"max_age"`
	// PerUser makes the provider act on behalf of each session's user: the
	// plugin is sent the user's token (subject_token) to exchange, e.g. the
	// oauth2 plugin's grant token_exchange. Sessions are then created for a
	// user (session.Factory.SessionConfigFor, chat --user-token-env, the
	// proxy's client bearer token). The plugin must announce the config as
	// per-user, or no user's token is sent to it.
	PerUser bool `yaml:"per_user"`
	// Entry is the plugin's `plugins:` entry, filled in by Validate. It is
	// part of the config's identity, so that a reload that changes the
	// entry rebuilds the providers that use it.
	Entry *config.Plugin `yaml:"-"`
}

// Validate implements kind.AuthConfig.
func (a *Auth) Validate(b *kind.Build) {
	if a.Plugin == "" {
		b.Errorf("", "missing key \"plugin\": the name of an entry under plugins:")
		return
	}
	entry, names := b.Plugin(a.Plugin)
	if entry == nil {
		b.Errorf("plugin", "unknown plugin %q (configured under plugins: %s)", a.Plugin, strings.Join(names, ", "))
		return
	}
	a.Entry = entry
}

// tuneCache sets the cache's max_age (kind.Result.Cache).
func (a *Auth) tuneCache(o *credential.CacheOptions) {
	o.MaxAge = DefaultMaxAge
	if a.MaxAge != nil {
		o.MaxAge = *a.MaxAge
	}
}

// Source implements kind.AuthConfig.
func (a *Auth) Source(b *kind.Build) (kind.Result, error) {
	entry := a.Entry
	// One manager (one process) per plugin entry, keyed by the entry's
	// content: a reload that leaves the entry alone keeps the process.
	m := b.Shared("plugin:"+a.Plugin+":"+pluginKey(entry), func() any {
		return manager{host.NewManager(host.ManagerOptions{
			Logger: b.Logger,
			Plugins: map[string]host.PluginConfig{a.Plugin: {
				Command: entry.Command, Args: entry.Args, SHA256: entry.SHA256, Env: entry.Env,
				StartTimeout: entry.StartTimeout, CallTimeout: entry.CallTimeout,
			}},
		})}
	}).(manager)
	// The plugin answers about the config it was sent, which may hold
	// values from environment variables: its errors are scrubbed like the
	// loader's own.
	scrub := b.PluginScrubber(a.Plugin)
	src, err := m.Source(a.Plugin, b.Provider.Name, a.Config, host.Scrub(scrub))
	if err != nil {
		return kind.Result{}, err
	}
	res := kind.Result{Source: src, Cache: a.tuneCache}
	// The host's source checks the config with the plugin (Configure).
	if c, ok := src.(checker); ok {
		res.Check = c.Check
	}
	if !a.PerUser {
		return res, nil
	}
	ss, ok := src.(shared.SubjectSource)
	if !ok {
		return kind.Result{}, fmt.Errorf("plugin %s: the host cannot send a user's token", a.Plugin)
	}
	// The process belongs to the shared manager: the per-user source
	// closes nothing.
	res.Source = perUser{}
	res.PerUser = func(user credential.TokenSource) credential.TokenSource { return userExchange{ss, user} }
	return res, nil
}

// checker is implemented by the plugin host's sources.
type checker interface {
	Check(ctx context.Context) error
}

// perUser is the source of a plugin that acts on behalf of users: it has
// no token of its own (kind.Result.PerUser mints them).
type perUser struct{}

func (perUser) Token(context.Context) (*credential.Token, error) { return nil, registry.ErrNeedsUser }

type userExchange struct {
	src  shared.SubjectSource
	user credential.TokenSource
}

func (u userExchange) Token(ctx context.Context) (*credential.Token, error) {
	ut, err := u.user.Token(ctx)
	if err != nil {
		return nil, err
	}
	return u.src.TokenFor(ctx, ut.Value)
}

func pluginKey(p *config.Plugin) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %v %v", p.Command, p.Args, p.SHA256, p.StartTimeout, p.CallTimeout)
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		fmt.Fprintf(h, " %q=%q", k, p.Env[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// manager is the shared state of one plugin entry: its process manager,
// reported to the registry (and so to metrics) as the processes it runs.
type manager struct{ *host.Manager }

// Processes implements kind.ProcessReporter.
func (m manager) Processes() []kind.Process {
	var out []kind.Process
	for name, st := range m.Stats() {
		out = append(out, kind.Process{Name: name, Starts: st.Starts, PID: st.PID, LastFailure: st.LastFailure})
	}
	return out
}
