package static

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/credshape"
	"github.com/byokcred/byokcred/internal/storelimit"
	"github.com/byokcred/byokcred/internal/unknownkind"
	"github.com/byokcred/byokcred/kind"
)

// Bounds of SecretRef.RefreshInterval.
const (
	// DefaultRefreshInterval is how often a secret is re-read when the
	// config does not say: a rotated key is in use within five minutes
	// (at once after an upstream 401 with refresh_on_rejection), at 288
	// reads a day per process — far below any store's throttling limits
	// and costs.
	DefaultRefreshInterval = 5 * time.Minute
	// MinRefreshInterval keeps a fleet from hammering its store: Key Vault
	// throttles a vault, Secrets Manager and Secret Manager bill per call.
	MinRefreshInterval = 10 * time.Second
	// MaxRefreshInterval: a key that rotates daily is picked up the same day.
	MaxRefreshInterval = 24 * time.Hour
)

// SecretRef is `api_key_secret` or `bearer_token_secret`: the credential is
// a secret in a cloud secret store, read with the workload's own identity
// and re-read as it rotates.
type SecretRef struct {
	// Store is the secret store: azure_key_vault, aws_secrets_manager or
	// google_secret_manager.
	Store string `yaml:"store"`
	// Secret names the secret the way its store does: a Key Vault secret
	// identifier (https://VAULT.vault.azure.net/secrets/NAME), a Secrets
	// Manager secret name or ARN, or a Secret Manager resource name
	// (projects/PROJECT/secrets/NAME); ${VAR} expands.
	Secret string `yaml:"secret" byok:"expand"`
	// Version pins one version of the secret (a Key Vault version id, a
	// Secrets Manager VersionId, a Secret Manager version number); default:
	// the current version, followed as the secret rotates.
	Version string `yaml:"version"`
	// VersionStage is the Secrets Manager staging label to read (default
	// AWSCURRENT; aws_secrets_manager only).
	VersionStage string `yaml:"version_stage"`
	// JSONKey reads the credential from this top-level field of a secret
	// that holds a JSON object, such as {"api_key": "…", "org": "…"}.
	JSONKey string `yaml:"json_key"`
	// RefreshInterval is how often the secret is re-read (default 5m,
	// between 10s and 24h). A failed read keeps serving the last value.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// Auth is the identity that reads the secret, written as the store's
	// own auth type takes it, without `type`: entra keys for
	// azure_key_vault, aws keys for aws_secrets_manager, gcp keys for
	// google_secret_manager. Default: that type's default credential chain.
	Auth *yaml.Node `yaml:"auth"`

	// store is the store module's view of this reference, made by
	// Validate.
	store Store
}

// Store is a secret store module: it owns the store-specific parts of a
// SecretRef (Secret, Version, VersionStage, Auth). Store modules register
// themselves with RegisterStore.
type Store interface {
	// Validate checks ref's store-specific parts, reporting through b,
	// whose keys are relative to the reference block (b.Sub("auth") for
	// the credential). Like kind.AuthConfig.Validate it must not touch
	// the network.
	Validate(b *kind.Build, ref *SecretRef)
	// Reader returns what reads the secret. It must not block on the
	// network: reads happen later, under a caller's context.
	Reader(b *kind.Build, ref *SecretRef) (SecretReader, error)
}

// AuthTyper is implemented by stores whose `auth` block takes the keys of
// an auth type (azure_key_vault: entra), so that the JSON Schema checks the
// block against that type's keys.
type AuthTyper interface {
	AuthType() string
}

// SecretReader reads the current value of one secret.
type SecretReader interface {
	// ReadSecret returns the secret's value. Errors name the reference,
	// never the value.
	ReadSecret(ctx context.Context) (*SecretValue, error)
	// Reference names the secret for errors and `doctor`, as the store
	// names it (a URL, an ARN, a resource name) with its version when one
	// is pinned.
	Reference() string
}

// SecretValue is one read of a secret.
type SecretValue struct {
	Value credential.Secret
	// Version is the store's id of the version read.
	Version string
	// Created is when that version was created (zero when unknown).
	Created time.Time
}

var (
	storesMu sync.RWMutex
	stores   = map[string]func() Store{}
)

// RegisterStore makes a secret store available as `store: name`. It panics
// if name is empty or taken, or newStore is nil: programming errors best
// caught at init.
func RegisterStore(name string, newStore func() Store) {
	storesMu.Lock()
	defer storesMu.Unlock()
	if name == "" {
		panic("static: RegisterStore with an empty store name")
	}
	if newStore == nil {
		panic("static: RegisterStore " + name + " with a nil constructor")
	}
	if _, dup := stores[name]; dup {
		panic("static: RegisterStore called twice for store " + name)
	}
	stores[name] = newStore
}

// Stores returns the registered store names, sorted.
func Stores() []string {
	storesMu.RLock()
	defer storesMu.RUnlock()
	return slices.Sorted(maps.Keys(stores))
}

// storeAuthTypes maps each registered store to the auth type of its
// `auth` block, where the store says (AuthTyper).
func storeAuthTypes() map[string]string {
	storesMu.RLock()
	defer storesMu.RUnlock()
	types := map[string]string{}
	for name, f := range stores {
		if a, ok := f().(AuthTyper); ok {
			types[name] = a.AuthType()
		}
	}
	return types
}

func newStore(name string) (Store, error) {
	storesMu.RLock()
	f := stores[name]
	storesMu.RUnlock()
	if f != nil {
		return f(), nil
	}
	return nil, unknownkind.Error("store", "secret stores", name, Stores())
}

func (r *SecretRef) interval() time.Duration {
	if r.RefreshInterval == 0 {
		return DefaultRefreshInterval
	}
	return r.RefreshInterval
}

// validate checks the reference block; b's path is the block.
func (r *SecretRef) validate(b *kind.Build) {
	switch {
	case r.Store == "":
		if !b.Failed("store") {
			b.Errorf("", "%v", unknownkind.Missing("store", "secret stores", "one of", Stores()))
		}
	default:
		s, err := newStore(r.Store)
		if err != nil {
			b.Errorf("store", "%v", err)
			break
		}
		r.store = s
	}
	if r.Secret == "" && !b.Failed("secret") {
		b.Errorf("", "missing key \"secret\": the secret's name in the store")
	}
	if iv := r.RefreshInterval; iv != 0 && (iv < MinRefreshInterval || iv > MaxRefreshInterval) {
		b.Errorf("refresh_interval", "refresh_interval %s is out of bounds: between %s and %s (default %s)", iv, MinRefreshInterval, fmtHours(MaxRefreshInterval), DefaultRefreshInterval)
	}
	if strings.TrimSpace(r.JSONKey) != r.JSONKey {
		b.Errorf("json_key", "json_key %q has leading or trailing spaces", r.JSONKey)
	}
	if r.store != nil && r.Secret != "" {
		r.store.Validate(b, r)
	}
}

func fmtHours(d time.Duration) string { return fmt.Sprintf("%dh", int(d.Hours())) }

// storeSource reads a credential from a secret store at every call: the
// registry's cache around it decides when (every refresh interval, and
// after an upstream 401).
type storeSource struct {
	kind    credential.Kind
	reader  SecretReader
	jsonKey string
	now     func() time.Time

	mu   sync.Mutex
	last *lastRead
}

type lastRead struct {
	value   credential.Secret
	version string
	created time.Time
	readAt  time.Time
}

var _ credential.TokenSource = (*storeSource)(nil)

func (s *storeSource) errorf(format string, args ...any) error {
	return fmt.Errorf("static: secret %s: %s", s.reader.Reference(), fmt.Sprintf(format, args...))
}

// Token implements credential.TokenSource.
func (s *storeSource) Token(ctx context.Context) (*credential.Token, error) {
	v, err := s.reader.ReadSecret(ctx)
	if err != nil {
		return nil, fmt.Errorf("static: secret %s: %w", s.reader.Reference(), err)
	}
	val := v.Value
	// Before any parsing: a store module reads at most
	// storelimit.MaxAnswer, but one registered by a program may not.
	if err := storelimit.CheckValue(len(val.Reveal())); err != nil {
		return nil, s.errorf("version %s: %v", v.Version, err)
	}
	if s.jsonKey != "" {
		if val, err = jsonField(val, s.jsonKey); err != nil {
			return nil, s.errorf("version %s: %v", v.Version, err)
		}
		if doc := credshape.JSONDocument(val.Reveal()); doc != "" {
			return nil, s.errorf("version %s: json_key %s: the field holds %s, not a key; point json_key at the string field that holds the key", v.Version, s.jsonKey, doc)
		}
	} else if doc := credshape.JSONDocument(val.Reveal()); doc != "" {
		return nil, s.errorf("version %s holds %s, not a key: set json_key to the field that holds this provider's key", v.Version, doc)
	}
	if val.IsZero() {
		return nil, s.errorf("version %s is empty; store the key in it", v.Version)
	}
	if err := credential.CheckHeaderValue(val.Reveal(), s.kind); err != nil {
		return nil, s.errorf("version %s: %v", v.Version, err)
	}
	tok := &credential.Token{Value: val, Kind: s.kind}
	if s.kind == credential.KindBearer {
		exp, err := credential.JWTExpiry(val)
		if err != nil {
			return nil, s.errorf("version %s: %v", v.Version, err)
		}
		tok.Expiry = exp
	}
	s.mu.Lock()
	s.last = &lastRead{value: val, version: v.Version, created: v.Created, readAt: s.now()}
	s.mu.Unlock()
	return tok, nil
}

// DescribeToken is the source's kind.Result.Describe: the reference that
// answered, the version read and how old it is.
func (s *storeSource) DescribeToken(tok *credential.Token) []kind.TokenFact {
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	facts := []kind.TokenFact{{Name: "secret", Value: s.reader.Reference()}}
	if last == nil || tok == nil || !last.value.Equal(tok.Value) {
		return facts
	}
	now := s.now()
	if last.version != "" {
		facts = append(facts, kind.TokenFact{Name: "version", Value: last.version})
	}
	if !last.created.IsZero() {
		facts = append(facts, kind.TokenFact{Name: "version created", Value: last.created.UTC().Format(time.RFC3339) + " (" + age(now.Sub(last.created)) + " ago)"})
	}
	facts = append(facts, kind.TokenFact{Name: "read", Value: age(now.Sub(last.readAt)) + " ago"})
	return facts
}

// age renders d for people: 45s, 12m, 5h, 3d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(max(d, 0)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}
