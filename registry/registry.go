// Package registry maps the `auth:` blocks of a config file to token sources.
//
// Auth types register themselves by the name used in `auth.type`, the way
// database/sql drivers do. An auth type is a config struct: the registry
// decodes the block into it strictly, asks it to validate itself, and only
// when the whole file is clean asks it for its source. Third-party code adds
// an auth type with one Register call from an init function.
package registry

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
	"github.com/byokcred/byokcred/internal/unknownkind"
)

// Refresh modes of bearer sources (see RefreshModer).
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
	Source(b *Build) (credential.TokenSource, error)
}

// SelfCaching is implemented by auth configs whose sources need no token
// cache: their tokens do not expire (static keys) or they follow changes
// themselves.
type SelfCaching interface {
	SelfCaching() bool
}

// RefreshModer is implemented by auth configs that let the user choose
// between RefreshPerRequest and RefreshPerSession.
type RefreshModer interface {
	RefreshMode() string
}

// CacheTuner is implemented by auth configs that set options of the cache
// around their source (a plugin's max_age).
type CacheTuner interface {
	TuneCache(*credential.CacheOptions)
}

// Checker is implemented by token sources that can confirm their
// configuration with the credential's issuer without fetching a credential
// (a plugin checks its `config:` block in Configure). `byokcred validate`
// calls it through Set.Check.
type Checker interface {
	Check(ctx context.Context) error
}

// Enumer is implemented by auth configs with keys that take one of a closed
// set of values: the JSON Schema lists them (by yaml key).
type Enumer interface {
	Enums() map[string][]string
}

// FieldDocumenter is implemented by auth configs that carry their fields'
// doc comments, so that a binary can describe its config keys in the JSON
// Schema (`byokcred schema`) without the Go sources. Keys are "Type.Field"
// of the structs in the auth config's package; `go generate` with
// github.com/byokcred/byokcred/schema/fielddocs writes the method.
type FieldDocumenter interface {
	FieldDocs() map[string]string
}

// NestedAuther is implemented by auth configs with a block written as
// another auth type's block without its `type` (a secret-store reference's
// `auth`), the type being selected by a key beside it: the JSON Schema
// then checks that block against the selected type's keys.
type NestedAuther interface {
	NestedAuths() []NestedAuth
}

// NestedAuth is one block a NestedAuther nests.
type NestedAuth struct {
	// Block is the nested block's key path in the auth block, dotted
	// ("api_key_secret.auth").
	Block string
	// Selector is the key beside it whose value selects the type ("store").
	Selector string
	// Types maps each selector value to the auth type whose keys the block
	// takes.
	Types map[string]string
}

// Diagnoser is implemented by auth configs that can show an operator
// (`byokcred doctor`) how their credential is found: each candidate of a
// credential chain tried on its own.
type Diagnoser interface {
	Diagnose(ctx context.Context) []ChainLink
}

// TokenDescriber is implemented by auth configs, or the token sources they
// build, whose tokens carry facts an operator wants to see (`byokcred
// token`, `doctor`) that are not JWT claims, such as the access key id and
// region of a signed key or the version of a secret read from a store.
// Facts must never include the secret parts of the token. Callers ask
// through Provider.DescribeToken.
type TokenDescriber interface {
	DescribeToken(tok *credential.Token) []TokenFact
}

// TokenFact is one fact a TokenDescriber reports.
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
	// HTTPClient is Options.HTTPClient: a kind hands it to every SDK client
	// it creates (azcore's Transport, the AWS config's HTTP client, Google's
	// base transport). Nil means each SDK's default.
	HTTPClient *http.Client
	// Config is the whole file, for auth types that refer to other sections.
	Config *config.Config
	// Set is the set being built; auth types keep shared state (such as
	// running plugin processes) in it through Shared.
	set *Set
	// used records the shared state the last Source call used, so that a
	// source carried over by a reload takes its state along.
	used []string
	// parent is the build a Sub build was made from.
	parent *Build
}

// Sub returns a build for a block nested at key inside this one (an auth
// type that embeds another's config, such as a secret-store reference with
// its own credential): its Errorf, EnvErrorf and Failed keys are relative to
// the nested block, and Shared state belongs to the same set.
func (c *Build) Sub(key string) *Build {
	sub := *c
	sub.Path = c.Path + "." + key
	sub.parent = c
	sub.used = nil
	return &sub
}

// Errorf records a problem at key (relative to the auth block, "" for the
// block itself).
func (c *Build) Errorf(key, format string, args ...any) {
	path := c.Path
	if key != "" {
		path += "." + key
	}
	c.Config.Doc.Errorf(path, format, args...)
}

// EnvErrorf records a problem of the environment rather than of the file
// (an environment variable not set, a file missing or readable by others)
// at key: `validate --offline` skips these.
func (c *Build) EnvErrorf(key, format string, args ...any) {
	path := c.Path
	if key != "" {
		path += "." + key
	}
	c.Config.Doc.EnvErrorf(path, format, args...)
}

// Failed reports whether a problem was already recorded at key (relative to
// the auth block): a key whose ${VAR} is unset, or a misspelt key meant to
// be key. Validate skips follow-on errors ("needs one of …") for it.
func (c *Build) Failed(key string) bool {
	return c.Config.Doc.Failed(c.Path + "." + key)
}

// Shared returns the value stored under key in the set being built, creating
// it with create on first use. Auth types use it for state that outlives one
// provider, such as a plugin manager; a value that implements
// credential.Closer is closed with the set.
func (c *Build) Shared(key string, create func() any) any {
	root := c
	for root.parent != nil {
		root = root.parent
	}
	root.used = append(root.used, key)
	return c.set.shared(key, create)
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
		panic("registry: Register with an empty auth type name")
	}
	if newConfig == nil {
		panic("registry: Register " + name + " with a nil constructor")
	}
	if _, dup := types[name]; dup {
		panic("registry: Register called twice for auth type " + name)
	}
	types[name] = newConfig
}

// Types returns the registered auth type names, sorted.
func Types() []string {
	mu.RLock()
	defer mu.RUnlock()
	return slices.Sorted(maps.Keys(types))
}

// NewAuthConfig returns a zero config of the named auth type, for tools
// that describe the config format (the JSON Schema generator).
func NewAuthConfig(name string) (AuthConfig, bool) {
	mu.RLock()
	f := types[name]
	mu.RUnlock()
	if f == nil {
		return nil, false
	}
	return f(), true
}

func lookupType(name string) (func() AuthConfig, error) {
	mu.RLock()
	f := types[name]
	mu.RUnlock()
	if f == nil {
		return nil, unknownType(name, Types())
	}
	return f, nil
}

func unknownType(name string, known []string) error {
	return unknownkind.Error("auth type", "auth types", name, known)
}

func missingType(known []string) error {
	return unknownkind.Missing("type", "auth types", "known auth types", known)
}
