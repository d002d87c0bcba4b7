package kind

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/byokcred/byokcred/credential"
)

// Store is the decoded block of one secret store: a reference to a secret
// (static's api_key_secret, bearer_token_secret) without the keys every
// reference takes whatever its store (store, json_key, refresh_interval),
// which the referring auth type keeps. It is a pointer to a struct whose
// `yaml` tags name the store's own keys (secret, version, its identity's
// auth block…). As with an AuthConfig, the referring auth type decodes the
// block into it strictly, asks it to validate itself, and only when the
// whole file is clean asks it for its reader. Stores register themselves
// with RegisterStore.
type Store interface {
	// Validate reports every problem through b.Errorf, whose keys are
	// relative to the reference block (b.Sub("auth") for a nested
	// identity). It runs after decoding and must not touch the network.
	Validate(b *Build)
	// Reader returns what reads the secret. It must not block on the
	// network: reads happen later, under a caller's context.
	Reader(b *Build) (SecretReader, error)
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

// StoreReferrer is implemented by auth configs with blocks that refer to a
// secret in a store: each such block is a *yaml.Node field the auth type
// decodes itself, into the keys every reference takes (Common) beside the
// keys of the store its `store` key selects. The JSON Schema describes each
// block so: the common keys, and for each registered store that store's.
type StoreReferrer interface {
	StoreRefs() StoreRefs
}

// StoreRefs are the store references of a StoreReferrer.
type StoreRefs struct {
	// Blocks are the keys of the reference blocks in the auth block
	// (api_key_secret, bearer_token_secret).
	Blocks []string
	// Common is a pointer to the struct of the keys every reference takes,
	// its `store` key among them.
	Common any
}

var (
	storesMu sync.RWMutex
	stores   = map[string]func() Store{}
)

// RegisterStore makes a secret store available as `store: name`, as
// Register does an auth type. newStore returns a pointer to a zero store
// struct. RegisterStore panics if name is empty or already registered, or
// newStore is nil: programming errors best caught at init.
func RegisterStore(name string, newStore func() Store) {
	storesMu.Lock()
	defer storesMu.Unlock()
	if name == "" {
		panic("kind: RegisterStore with an empty store name")
	}
	if newStore == nil {
		panic("kind: RegisterStore " + name + " with a nil constructor")
	}
	if _, dup := stores[name]; dup {
		panic("kind: RegisterStore called twice for store " + name)
	}
	stores[name] = newStore
}

// Stores returns the registered store names, sorted.
func Stores() []string {
	storesMu.RLock()
	defer storesMu.RUnlock()
	return slices.Sorted(maps.Keys(stores))
}

// NewStore returns a zero block of the named store: a referring auth type
// decodes a reference into it, and tools that describe the config format
// (the JSON Schema generator) read its fields.
func NewStore(name string) (Store, bool) {
	storesMu.RLock()
	f := stores[name]
	storesMu.RUnlock()
	if f == nil {
		return nil, false
	}
	return f(), true
}
