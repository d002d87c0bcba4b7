// Package kind is the API of credential kinds: what an auth type
// implements and calls, as database/sql/driver is for database drivers.
// Programs load configs with package registry, which builds every provider's
// source through the kinds registered here.
//
// Auth types register themselves by the name used in `auth.type`. An auth
// type is a config struct: the registry decodes the block into it strictly,
// asks it to validate itself, and only when the whole file is clean asks it
// for its source. Third-party code adds an auth type with one Register call
// from an init function.
//
// Secret stores (the `store:` of static's api_key_secret and
// bearer_token_secret) are added the same way, with RegisterStore: a store
// is the struct of its own keys, validated, then asked for its reader.
package kind

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/kindhost"
	"go.yaml.in/yaml/v3"
)

// Refresh modes of bearer sources (see Result.Refresh).
const (
	// RefreshPerRequest wires the cached source into the SDK's
	// BearerTokenProvider: every model request gets a currently valid
	// token, and a session lives as long as it is used.
	RefreshPerRequest = "per_request"
	// RefreshPerSession captures one token when the session is created (the
	// SDK guide's pattern): simpler for runtimes without the callback, but
	// the session fails once that token expires.
	RefreshPerSession = "per_session"
)

// AuthConfig is the decoded `auth:` block of one auth type: a pointer to a
// struct whose `yaml` tags name its keys (the `type` key is handled by the
// registry).
type AuthConfig interface {
	// Validate reports every problem through b.Errorf. It runs after
	// decoding and must not acquire credentials or start processes.
	Validate(b *Build)
	// Source builds the token source. It runs once per distinct config:
	// providers whose auth blocks are identical share one source. It must
	// not block on the network — there is no caller to wait for it; tokens
	// are fetched later through TokenSource.Token, under the caller's
	// context.
	Source(b *Build) (Result, error)
}

// Result is what an auth type's Source builds: its token source and all the
// registry needs to know to serve it. Only Source (or PerUser) is required;
// the zero value of every other field is the common case (a bearer or key
// source the registry caches and refreshes ahead, per request).
type Result struct {
	// Source fetches the credential. The registry closes it with the set
	// when it implements credential.Closer. With PerUser set, the registry
	// never asks it for a token; it may then be nil.
	Source credential.TokenSource
	// Refresh is RefreshPerRequest ("" means it) or RefreshPerSession, for
	// auth types that let the user choose (`refresh:`).
	Refresh string
	// SelfCaching is set when Source needs no token cache: its tokens do
	// not expire (static keys) or it follows changes itself (a key file).
	SelfCaching bool
	// Cache, when not nil, tunes the options of the cache the registry puts
	// around Source (or around each user's source): a plugin's max_age, a
	// store's refresh_interval.
	Cache func(*credential.CacheOptions)
	// PerUser, when not nil, makes the credential act on behalf of each
	// user (OAuth 2.0 on-behalf-of, RFC 8693 token exchange) instead of as
	// the program's own identity: the registry calls it with one user's
	// current token (a source that always returns that token) and caches
	// what the returned source mints, per user token.
	PerUser func(user credential.TokenSource) credential.TokenSource
	// Check, when not nil, confirms the configuration with the credential's
	// issuer without fetching a credential (a plugin checks its `config:`
	// block): `byokcred validate` calls it through registry.Set.Check.
	Check func(ctx context.Context) error
	// Describe, when not nil, returns facts about a token the source handed
	// out that an operator wants to see (`byokcred token`, `doctor`) and
	// that are not JWT claims, such as the access key id and region of a
	// signed key or the version of a secret read from a store. Facts must
	// never include the secret parts of the token. Callers ask through
	// registry.Provider.DescribeToken.
	Describe func(tok *credential.Token) []TokenFact
}

// Enumer is implemented by auth configs with keys that take one of a closed
// set of values: the JSON Schema lists them (by yaml key).
type Enumer interface {
	Enums() map[string][]string
}

// FieldDocumenter is implemented by auth configs and stores that carry
// their fields' doc comments, so that a binary can describe its config keys
// in the JSON Schema (`byokcred schema`) without the Go sources. Keys are
// "Type.Field" of the structs in the auth config's (or store's) package;
// `go generate` with github.com/byokcred/byokcred/schema/fielddocs writes
// the method.
type FieldDocumenter interface {
	FieldDocs() map[string]string
}

// Diagnoser is implemented by auth configs that can show an operator
// (`byokcred doctor`) how their credential is found: each candidate of a
// credential chain tried on its own.
type Diagnoser interface {
	Diagnose(ctx context.Context) []ChainLink
}

// TokenFact is one fact a Result.Describe reports.
type TokenFact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ChainLink is one credential of a chain, as tried by a Diagnoser.
type ChainLink struct {
	Name string `json:"name"`
	// Answered is true for the first link that returned a token: the one
	// the chain uses.
	Answered bool `json:"answered"`
	// Err is why the link did not answer ("" when it did).
	Err string `json:"error,omitempty"`
}

// Build is what an auth type sees of the load in progress.
type Build struct {
	// Provider is the provider whose auth block this is (the first one, when
	// several share the block).
	Provider *config.Provider
	// Path is the key path of the auth block, e.g. providers.openai.auth.
	Path string
	// LookupEnv resolves environment variables (injectable for tests).
	LookupEnv func(string) (string, bool)
	// Logger is the host's logger.
	Logger *slog.Logger
	// Now is the clock.
	Now func() time.Time
	// Offline is set when the config is only checked (validate --offline):
	// Source is not called, and Validate need not look at the environment.
	Offline bool
	// HTTPClient is registry.Options.HTTPClient: a kind hands it to every SDK client
	// it creates (azcore's Transport, the AWS config's HTTP client, Google's
	// base transport). Nil means each SDK's default.
	HTTPClient *http.Client
	// host is the set being built, which keeps the state auth types share
	// (such as running plugin processes) through Shared. It is set only by
	// the registry (see internal/kindhost), so a Build made by anyone else
	// reaches no set.
	host kindhost.Host
}

func init() {
	kindhost.NewBuild = func(h kindhost.Host) any { return &Build{host: h} }
}

// Sub returns a build for a block nested at key inside this one (an auth
// type that embeds another's config, such as a secret-store reference with
// its own credential): its Errorf, EnvErrorf and Failed keys are relative to
// the nested block, and Shared state belongs to the same set.
func (c *Build) Sub(key string) *Build {
	sub := *c
	sub.Path = c.Path + "." + key
	return &sub
}

// config is the file being loaded, through the host: a Build the registry
// did not make reaches no file.
func (c *Build) config() *config.Config {
	if c.host == nil {
		panic("kind: Build used to report or read the config, but the registry did not make it")
	}
	return c.host.Config().(*config.Config)
}

// path is key's path, relative to the auth block ("" for the block itself).
func (c *Build) path(key string) string {
	if key == "" {
		return c.Path
	}
	return c.Path + "." + key
}

// Errorf records a problem at key (relative to the auth block, "" for the
// block itself).
func (c *Build) Errorf(key, format string, args ...any) {
	c.config().Doc.Errorf(c.path(key), format, args...)
}

// ProviderErrorf records a problem at key of the provider block the auth
// block belongs to ("base_url", "type"; "" for the provider block itself):
// an auth type that holds the provider's endpoint to its credential
// reports where the endpoint is written.
func (c *Build) ProviderErrorf(key, format string, args ...any) {
	if c.Provider == nil {
		c.Errorf("", format, args...)
		return
	}
	path := c.Provider.Path()
	if key != "" {
		path += "." + key
	}
	c.config().Doc.Errorf(path, format, args...)
}

// Decode decodes node, a block nested at key of this one (relative, like
// Errorf's), into into, a pointer to a struct whose `yaml` tags name its
// keys: strictly, with unknown keys and bad values reported at their exact
// positions, as the registry decodes the auth block itself. Keys listed
// in skip are left alone in the block's top mapping (another part of the
// program decodes them).
func (c *Build) Decode(key string, node *yaml.Node, into any, skip ...string) {
	c.config().Doc.Decode(node, c.path(key), into, skip...)
}

// Plugin returns the `plugins:` entry named name, or nil and the names of
// the entries configured.
func (c *Build) Plugin(name string) (*config.Plugin, []string) {
	plugins := c.config().Plugins
	if p := plugins[name]; p != nil {
		return p, nil
	}
	return nil, slices.Sorted(maps.Keys(plugins))
}

// PluginScrubber returns a function that replaces, in text from outside
// (a plugin's error), every value the loader substituted from the
// environment into this auth block or into the named plugin's entry, as
// the loader's own errors do.
func (c *Build) PluginScrubber(plugin string) func(string) string {
	return c.config().Doc.Scrubber(c.Path, "plugins."+plugin)
}

// EnvErrorf records a problem of the environment rather than of the file
// (an environment variable not set, a file missing or readable by others)
// at key: `validate --offline` skips these.
func (c *Build) EnvErrorf(key, format string, args ...any) {
	c.config().Doc.EnvErrorf(c.path(key), format, args...)
}

// Failed reports whether a problem was already recorded at key (relative to
// the auth block): a key whose ${VAR} is unset, or a misspelt key meant to
// be key. Validate skips follow-on errors ("needs one of …") for it.
func (c *Build) Failed(key string) bool {
	return c.config().Doc.Failed(c.Path + "." + key)
}

// Shared returns the value stored under key in the set being built, creating
// it with create on first use. Auth types use it for state that outlives one
// provider, such as a plugin manager; a value that implements
// credential.Closer is closed with the set.
func (c *Build) Shared(key string, create func() any) any {
	if c.host == nil {
		panic("kind: Build.Shared on a Build the registry did not make")
	}
	return c.host.Shared(key, create)
}

var (
	mu    sync.RWMutex
	types = map[string]func() AuthConfig{}
)

// Register makes an auth type available under name. newConfig returns a
// pointer to a zero config struct. Register panics if name is empty or
// already registered, or newConfig is nil: both are programming errors best
// caught at init.
func Register(name string, newConfig func() AuthConfig) {
	mu.Lock()
	defer mu.Unlock()
	if name == "" {
		panic("kind: Register with an empty auth type name")
	}
	if newConfig == nil {
		panic("kind: Register " + name + " with a nil constructor")
	}
	if _, dup := types[name]; dup {
		panic("kind: Register called twice for auth type " + name)
	}
	types[name] = newConfig
}

// Types returns the registered auth type names, sorted.
func Types() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(types))
}

// New returns a zero config of the named auth type: the registry decodes an
// auth block into it, and tools that describe the config format (the JSON
// Schema generator) read its fields.
func New(name string) (AuthConfig, bool) {
	mu.RLock()
	f := types[name]
	mu.RUnlock()
	if f == nil {
		return nil, false
	}
	return f(), true
}

// Process is a helper process a set runs on behalf of its providers (a
// credential plugin), for metrics and diagnostics.
type Process struct {
	// Name is the process's config name (the plugin entry).
	Name string
	// Starts counts processes started; every start after the first is a
	// restart.
	Starts int64
	// PID is the running process, 0 when none runs.
	PID int
	// LastFailure is the last start or call failure's message.
	LastFailure string
}

// ProcessReporter is implemented by shared state (see Build.Shared) that runs
// processes.
type ProcessReporter interface {
	Processes() []Process
}
