package static

import (
	"context"
	"fmt"
	"reflect"
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

// SecretRef is the part of `api_key_secret` or `bearer_token_secret` that
// every store shares: the credential is a secret in a cloud secret store,
// read with the workload's own identity and re-read as it rotates. The
// store's own keys (secret, version, the identity's auth block…) sit beside
// these in the same block; the store decodes and validates them (see
// kind.RegisterStore).
type SecretRef struct {
	// Store is the secret store that holds the secret: azure_key_vault,
	// aws_secrets_manager or google_secret_manager. The block's other keys
	// are that store's.
	Store string `yaml:"store"`
	// JSONKey reads the credential from this top-level field of a secret
	// that holds a JSON object, such as {"api_key": "…", "org": "…"}.
	JSONKey string `yaml:"json_key"`
	// RefreshInterval is how often the secret is re-read (default 5m,
	// between 10s and 24h). A failed read keeps serving the last value.
	RefreshInterval time.Duration `yaml:"refresh_interval"`

	// store is the selected store's block, decoded by decodeRef.
	store kind.Store
}

// commonKeys are SecretRef's keys: every reference takes them, whatever
// its store.
func commonKeys() []string { return yamlKeys(reflect.TypeFor[SecretRef]()) }

func newStore(name string) (kind.Store, error) {
	if s, ok := kind.NewStore(name); ok {
		return s, nil
	}
	return nil, unknownkind.Error("store", "secret stores", name, kind.Stores())
}

func (r *SecretRef) interval() time.Duration {
	if r.RefreshInterval == 0 {
		return DefaultRefreshInterval
	}
	return r.RefreshInterval
}

// decodeRef decodes and validates a reference block; b's path is the
// block. The common keys and the selected store's are decoded in one
// strict pass, so that an unknown key is refused at its position listing
// every key the reference takes with that store, and a misspelt key finds
// its closest match on either side.
func decodeRef(b *kind.Build, node *yaml.Node) *SecretRef {
	r := new(SecretRef)
	name, found := storeName(node)
	s, err := newStore(name)
	switch {
	case !found:
		// No store to decode the other keys: only the common ones are
		// read, and the missing store is the problem reported.
		b.Decode("", node, r, otherKeys(node, commonKeys())...)
		if r.Store == "" && !b.Failed("store") {
			b.Errorf("", "%v", unknownkind.Missing("store", "secret stores", "one of", kind.Stores()))
		}
	case err != nil:
		b.Decode("", node, r, otherKeys(node, commonKeys())...)
		b.Errorf("store", "%v", err)
	default:
		decodeTogether(b, dropForeignKeys(b, node, name, s), r, s)
		r.store = s
	}
	if iv := r.RefreshInterval; iv != 0 && (iv < MinRefreshInterval || iv > MaxRefreshInterval) {
		b.Errorf("refresh_interval", "refresh_interval %s is out of bounds: between %s and %s (default %s)", iv, MinRefreshInterval, fmtHours(MaxRefreshInterval), DefaultRefreshInterval)
	}
	if strings.TrimSpace(r.JSONKey) != r.JSONKey {
		b.Errorf("json_key", "json_key %q has leading or trailing spaces", r.JSONKey)
	}
	if r.store != nil {
		s.Validate(b)
	}
	return r
}

// pairs returns the key and value nodes of a mapping (nil for anything
// else), aliases resolved.
func pairs(node *yaml.Node) [][2]*yaml.Node {
	for node != nil && node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	if node == nil || node.Kind != yaml.MappingNode {
		return nil
	}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		for k != nil && k.Kind == yaml.AliasNode {
			k = k.Alias
		}
		for v != nil && v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if k != nil && v != nil {
			out = append(out, [2]*yaml.Node{k, v})
		}
	}
	return out
}

// storeName is the reference's `store` value, when it is written as one.
func storeName(node *yaml.Node) (string, bool) {
	for _, p := range pairs(node) {
		if p[0].Value == "store" && p[1].Kind == yaml.ScalarNode && p[1].Tag != "!!null" && p[1].Value != "" {
			return p[1].Value, true
		}
	}
	return "", false
}

// otherKeys are the keys of the mapping node not among keys.
func otherKeys(node *yaml.Node, keys []string) []string {
	var out []string
	for _, p := range pairs(node) {
		if !slices.Contains(keys, p[0].Value) {
			out = append(out, p[0].Value)
		}
	}
	return out
}

// dropForeignKeys reports each key of the reference that the selected
// store does not take but another registered store does (version_stage
// under azure_key_vault), naming the stores it applies to, and returns the
// block without them: the strict decoding then refuses only keys no store
// takes.
func dropForeignKeys(b *kind.Build, node *yaml.Node, name string, s kind.Store) *yaml.Node {
	own := append(yamlKeys(reflect.TypeOf(s).Elem()), commonKeys()...)
	slices.Sort(own)
	foreign := map[string][]string{}
	for _, other := range kind.Stores() {
		if other == name {
			continue
		}
		st, _ := kind.NewStore(other)
		for _, k := range yamlKeys(reflect.TypeOf(st).Elem()) {
			if !slices.Contains(own, k) {
				foreign[k] = append(foreign[k], other)
			}
		}
	}
	for node != nil && node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	if node == nil || node.Kind != yaml.MappingNode {
		return node
	}
	kept := *node
	kept.Content = nil
	for i := 0; i+1 < len(node.Content); i += 2 {
		k := node.Content[i]
		for k != nil && k.Kind == yaml.AliasNode {
			k = k.Alias
		}
		if k != nil {
			if others := foreign[k.Value]; others != nil {
				b.Errorf(k.Value, "%s applies to %s only; %s takes %s", k.Value, strings.Join(others, ", "), name, strings.Join(own, ", "))
				continue
			}
		}
		kept.Content = append(kept.Content, node.Content[i], node.Content[i+1])
	}
	return &kept
}

// decodeTogether decodes node strictly into r and s as if their fields
// were one struct's: a struct type made of both, whose fields are then
// copied back. A store key that is also a common key is a programming
// error of the store's.
func decodeTogether(b *kind.Build, node *yaml.Node, r *SecretRef, s kind.Store) {
	targets := []reflect.Value{reflect.ValueOf(r).Elem(), reflect.ValueOf(s).Elem()}
	var fields []reflect.StructField
	type origin struct{ target, index int }
	var origins []origin
	seen := map[string]bool{}
	for ti, t := range targets {
		for i := 0; i < t.NumField(); i++ {
			f := t.Type().Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "" || key == "-" || !f.IsExported() {
				continue
			}
			if seen[key] {
				panic(fmt.Sprintf("static: store %s takes key %q, which every reference takes: rename it", r.Store, key))
			}
			seen[key] = true
			fields = append(fields, reflect.StructField{Name: fmt.Sprintf("F%d", len(fields)), Type: f.Type, Tag: f.Tag})
			origins = append(origins, origin{ti, i})
		}
	}
	both := reflect.New(reflect.StructOf(fields))
	b.Decode("", node, both.Interface())
	for i, o := range origins {
		targets[o.target].Field(o.index).Set(both.Elem().Field(i))
	}
}

// yamlKeys are the keys of a struct type's yaml-tagged fields.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if key, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); key != "" && key != "-" && f.IsExported() {
			keys = append(keys, key)
		}
	}
	return keys
}

func fmtHours(d time.Duration) string { return fmt.Sprintf("%dh", int(d.Hours())) }

// storeSource reads a credential from a secret store at every call: the
// registry's cache around it decides when (every refresh interval, and
// after an upstream 401).
type storeSource struct {
	kind    credential.Kind
	reader  kind.SecretReader
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
