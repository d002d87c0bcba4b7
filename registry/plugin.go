package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/plugins/host"
	"github.com/byokcred/byokcred/provider"
)

func init() {
	Register("plugin", func() AuthConfig { return new(PluginAuth) })
}

// DefaultPluginMaxAge is the max_age of a plugin provider that sets none:
// an opaque token is re-fetched this often. Short-lived opaque tokens
// (gcloud access tokens, gateway tokens) live 15 to 60 minutes, so a token
// fetched just before its issuer rotated it is replaced well before it
// expires, and running a CLI twelve times an hour costs nothing.
const DefaultPluginMaxAge = 5 * time.Minute

// PluginAuth is `auth.type: plugin`: tokens from an external credential
// plugin declared under `plugins:`. The plugin's process is shared by every
// provider that names it and is started on the first token request; its
// tokens go through the same cache as every other source.
type PluginAuth struct {
	// Plugin names the entry under `plugins:`.
	Plugin string `yaml:"plugin"`
	// Config is sent to the plugin as is (strings expand ${VAR}); the
	// plugin checks it.
	Config map[string]any `yaml:"config"`
	// MaxAge is how long a token that states no expiry (an opaque token; a
	// JWT's exp counts as an expiry) is served before it is re-fetched in
	// the background. Default 5m (DefaultPluginMaxAge); 0s never re-fetches.
	MaxAge *time.Duration `yaml:"max_age"`
	// Entry is the plugin's `plugins:` entry, filled in by Validate. It is
	// part of the config's identity, so that a reload that changes the
	// entry rebuilds the providers that use it.
	Entry *config.Plugin `yaml:"-"`
}

// Validate implements AuthConfig.
func (a *PluginAuth) Validate(ctx *Context) {
	if a.Plugin == "" {
		ctx.Errorf("", "missing key \"plugin\": the name of an entry under plugins:")
		return
	}
	if ctx.Config.Plugins[a.Plugin] == nil {
		names := slices.Sorted(maps.Keys(ctx.Config.Plugins))
		ctx.Errorf("plugin", "unknown plugin %q (configured under plugins: %s)", a.Plugin, strings.Join(names, ", "))
		return
	}
	a.Entry = ctx.Config.Plugins[a.Plugin]
}

// tuneCache implements cacheTuner.
func (a *PluginAuth) tuneCache(o *provider.CacheOptions) {
	o.MaxAge = DefaultPluginMaxAge
	if a.MaxAge != nil {
		o.MaxAge = *a.MaxAge
	}
}

// Source implements AuthConfig.
func (a *PluginAuth) Source(ctx *Context) (provider.TokenSource, error) {
	entry := a.Entry
	// One manager (one process) per plugin entry, keyed by the entry's
	// content: a reload that leaves the entry alone keeps the process.
	m := ctx.Shared("plugin:"+a.Plugin+":"+pluginKey(entry), func() any {
		return host.NewManager(host.ManagerOptions{
			Logger: ctx.Logger,
			Plugins: map[string]host.PluginConfig{a.Plugin: {
				Command: entry.Command, Args: entry.Args, SHA256: entry.SHA256, Env: entry.Env,
				StartTimeout: entry.StartTimeout, CallTimeout: entry.CallTimeout,
			}},
		})
	}).(*host.Manager)
	// The plugin answers about the config it was sent, which may hold
	// values from environment variables: its errors are scrubbed like the
	// loader's own.
	scrub := ctx.Config.Doc.Scrubber(ctx.Path, "plugins."+a.Plugin)
	return m.Source(a.Plugin, ctx.Provider.Name, a.Config, host.Scrub(scrub))
}

func pluginKey(p *config.Plugin) string {
	h := sha256.New()
	fmt.Fprintf(h, "%q %q %q %v %v", p.Command, p.Args, p.SHA256, p.StartTimeout, p.CallTimeout)
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		fmt.Fprintf(h, " %q=%q", k, p.Env[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// PluginStats returns the stats of every plugin entry the set runs, by
// plugin name.
func (s *Set) PluginStats() map[string]host.Stats {
	s.mu.Lock()
	var managers []*host.Manager
	for _, v := range s.owned {
		if m, ok := v.(*host.Manager); ok {
			managers = append(managers, m)
		}
	}
	s.mu.Unlock()
	out := map[string]host.Stats{}
	for _, m := range managers {
		for name, st := range m.Stats() {
			out[name] = st
		}
	}
	return out
}
