package static_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
	"github.com/byokcred/byokcred/internal/testkit/storetest"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
)

// memStore is a secret store held in memory: what a store module looks like
// to the static kind.
type memStore struct {
	mu      sync.Mutex
	secrets map[string][]memVersion // by name; last is current
	down    error
	reads   int
}

type memVersion struct {
	id, value string
	created   time.Time
}

var mem = &memStore{secrets: map[string][]memVersion{}}

func (m *memStore) put(name, id, value string, created time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets[name] = append(m.secrets[name], memVersion{id, value, created})
}

func (m *memStore) setDown(err error) { m.mu.Lock(); m.down = err; m.mu.Unlock() }

func (m *memStore) readCount() int { m.mu.Lock(); defer m.mu.Unlock(); return m.reads }

func (m *memStore) reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets, m.down, m.reads = map[string][]memVersion{}, nil, 0
}

// memConfig is the test store's credential block.
type memConfig struct {
	Identity string `yaml:"identity"`
}

// memRef is the test store's block: its keys beside the common ones.
type memRef struct {
	Secret  string     `yaml:"secret" byok:"expand"`
	Version string     `yaml:"version"`
	Auth    *memConfig `yaml:"auth"`
	name    string
}

func (r *memRef) Validate(b *kind.Build) {
	r.name = r.Secret
	if r.Secret == "" && !b.Failed("secret") {
		b.Errorf("", "missing key \"secret\": the secret's name in memory")
	}
	if strings.Contains(r.Secret, "/") {
		b.Errorf("secret", "memory secret names have no slashes")
	}
	if r.Auth != nil && r.Auth.Identity == "nobody" {
		b.Sub("auth").Errorf("identity", "nobody cannot read secrets")
	}
}

func (r *memRef) Reader(b *kind.Build) (kind.SecretReader, error) {
	return r, nil
}

func (r *memRef) Reference() string {
	if r.Version != "" {
		return "memory:" + r.name + "@" + r.Version
	}
	return "memory:" + r.name
}

func (r *memRef) ReadSecret(ctx context.Context) (*kind.SecretValue, error) {
	mem.mu.Lock()
	defer mem.mu.Unlock()
	mem.reads++
	if mem.down != nil {
		return nil, mem.down
	}
	vs := mem.secrets[r.name]
	if len(vs) == 0 {
		return nil, errors.New("secret not found")
	}
	v := vs[len(vs)-1]
	if r.Version != "" {
		found := false
		for _, c := range vs {
			if c.id == r.Version {
				v, found = c, true
			}
		}
		if !found {
			return nil, fmt.Errorf("version %s not found", r.Version)
		}
	}
	return &kind.SecretValue{Value: credential.NewSecret(v.value), Version: v.id, Created: v.created}, nil
}

// shelfRef is a second test store, whose block has a key memory's lacks.
type shelfRef struct {
	Secret string `yaml:"secret"`
	Shelf  string `yaml:"shelf"`
}

func (*shelfRef) Validate(*kind.Build) {}
func (*shelfRef) Reader(*kind.Build) (kind.SecretReader, error) {
	return nil, errors.New("shelf: no reads")
}

func init() {
	kind.RegisterStore("memory", func() kind.Store { return new(memRef) })
	kind.RegisterStore("shelf", func() kind.Store { return new(shelfRef) })
}

const canary = "sk-CANARY-8d3f0a61"

func TestSecretRefValidation(t *testing.T) {
	mem.reset()
	path := configtest.Write(t, `providers:
  a:
    type: openai
    base_url: https://a.example
    model: m
    auth:
      type: static
      api_key_secret: {store: vault9, secret: k}
  b:
    type: openai
    base_url: https://a.example
    model: m
    auth:
      type: static
      api_key_secret: {secret: k}
  c:
    type: openai
    base_url: https://a.example
    model: m
    auth:
      type: static
      api_key_secret: {store: memory, secret: k, refresh_interval: 1s}
      api_key_env: K
  d:
    type: openai
    base_url: https://a.example
    model: m
    auth:
      type: static
      bearer_token_secret:
        store: memory
        secret: a/b
        refresh_interval: 48h
        auth:
          identity: nobody
  e:
    type: openai
    base_url: https://a.example
    model: m
    auth:
      type: static
      api_key_secret: {store: memory, secret: k, auth: {identiy: me}}
`)
	_, err := registry.Load(path, registry.Options{LookupEnv: func(string) (string, bool) { return "x", true }})
	if err == nil {
		t.Fatal("want errors")
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
	want := []string{
		`c.yaml:8:31: providers.a.auth.api_key_secret.store: unknown store "vault9" (known: memory, shelf; every built-in one is registered by import _ "github.com/byokcred/byokcred/builtin")`,
		`c.yaml:15:7: providers.b.auth.api_key_secret: missing key "store" (one of: memory, shelf)`,
		`c.yaml:20:5: providers.c.auth: static auth takes exactly one of api_key, api_key_env, api_key_file, api_key_secret, bearer_token, bearer_token_env, bearer_token_file, bearer_token_secret; 2 are set`,
		`c.yaml:32:17: providers.d.auth.bearer_token_secret.secret: memory secret names have no slashes`,
		`c.yaml:33:27: providers.d.auth.bearer_token_secret.refresh_interval: refresh_interval 48h0m0s is out of bounds: between 10s and 24h (default 5m0s)`,
		`c.yaml:35:21: providers.d.auth.bearer_token_secret.auth.identity: nobody cannot read secrets`,
		`c.yaml:42:57: providers.e.auth.api_key_secret.auth.identiy: unknown key "identiy"; did you mean "identity"? (known keys: identity)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s\ngot:\n%s", diff, strings.Join(got, "\n"))
	}
}

// TestSecretRefKeys: a reference is decoded strictly into the common keys
// and its store's, as one block: each store refuses the keys it does not
// take, and an unknown key lists exactly the keys the reference takes with
// that store.
func TestSecretRefKeys(t *testing.T) {
	tests := []struct {
		name  string
		block string // the api_key_secret block, one line
		want  []string
	}{
		{name: "common and store keys", block: `{store: memory, secret: k, version: v1, json_key: key, refresh_interval: 1m, auth: {identity: me}}`},
		{name: "another store's key", block: `{store: memory, secret: k, shelf: top}`, want: []string{
			`c.yaml:8:57: providers.p.auth.api_key_secret.shelf: shelf applies to shelf only; memory takes auth, json_key, refresh_interval, secret, store, version`,
		}},
		{name: "a key no store takes", block: `{store: shelf, secret: k, vault: v}`, want: []string{
			`c.yaml:8:49: providers.p.auth.api_key_secret.vault: unknown key "vault" (known keys: json_key, refresh_interval, secret, shelf, store)`,
		}},
		{name: "a misspelt common key", block: `{store: memory, secret: k, refresh_intervall: 1m}`, want: []string{
			`c.yaml:8:50: providers.p.auth.api_key_secret.refresh_intervall: unknown key "refresh_intervall"; did you mean "refresh_interval"? (known keys: auth, json_key, refresh_interval, secret, store, version)`,
		}},
		{name: "a misspelt store key", block: `{store: memory, secret: k, verison: v1}`, want: []string{
			`c.yaml:8:50: providers.p.auth.api_key_secret.verison: unknown key "verison"; did you mean "version"? (known keys: auth, json_key, refresh_interval, secret, store, version)`,
		}},
		{name: "a missing secret", block: `{store: memory}`, want: []string{
			`c.yaml:8:7: providers.p.auth.api_key_secret: missing key "secret": the secret's name in memory`,
		}},
		// The keys of a store not linked cannot be judged; the common ones
		// are, whatever the store.
		{name: "an unknown store", block: `{store: vault9, vault: v, json_key: ' k'}`, want: []string{
			`c.yaml:8:31: providers.p.auth.api_key_secret.store: unknown store "vault9" (known: memory, shelf; every built-in one is registered by import _ "github.com/byokcred/byokcred/builtin")`,
			`c.yaml:8:59: providers.p.auth.api_key_secret.json_key: json_key " k" has leading or trailing spaces`,
		}},
		{name: "no store", block: `{secret: k, refresh_interval: 1s}`, want: []string{
			`c.yaml:8:7: providers.p.auth.api_key_secret: missing key "store" (one of: memory, shelf)`,
			`c.yaml:8:53: providers.p.auth.api_key_secret.refresh_interval: refresh_interval 1s is out of bounds: between 10s and 24h (default 5m0s)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := configtest.Write(t, "providers:\n  p:\n    type: openai\n    base_url: https://a.example\n    model: m\n    auth:\n      type: static\n      api_key_secret: "+tc.block+"\n")
			set, err := registry.Load(path, registry.Options{Offline: true})
			var got []string
			if err != nil {
				got = strings.Split(strings.ReplaceAll(err.Error(), path, "c.yaml"), "\n")
			} else {
				set.Close()
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func loadMem(t *testing.T, clock *fakeclock.Clock, logs *syncbuf.Buffer, block string) *registry.Set {
	t.Helper()
	path := configtest.Write(t, `providers:
  p:
    type: openai
    base_url: https://a.example
    model: m
    auth:
      type: static
`+block+`
  twin:
    type: openai
    base_url: https://b.example
    model: m
    auth:
      type: static
`+block)
	set, err := registry.Load(path, registry.Options{
		Now:    clock.Now,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Cache:  credential.CacheOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Jitter: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	return set
}

func token(t *testing.T, set *registry.Set, name string) (*credential.Token, error) {
	t.Helper()
	p, err := set.Provider(name)
	if err != nil {
		t.Fatal(err)
	}
	return p.Token(context.Background())
}

// TestSecretRefRotation follows a secret through rotation, a store outage
// and an upstream rejection: re-read every refresh_interval, the last
// value kept while the store is down, re-read at once after Invalidate.
func TestSecretRefRotation(t *testing.T) {
	mem.reset()
	clock := fakeclock.New()
	logs := new(syncbuf.Buffer)
	mem.put("openai", "v1", canary+"-1", clock.Now().Add(-72*time.Hour))
	set := loadMem(t, clock, logs, `      api_key_secret: {store: memory, secret: openai, refresh_interval: 1m}`)

	value := func(name string) string {
		tok, err := token(t, set, name)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Value.Reveal()
	}
	if got := value("p"); got != canary+"-1" {
		t.Fatalf("first read = %q", got)
	}
	if got := value("twin"); got != canary+"-1" || mem.readCount() != 1 {
		t.Fatalf("twin = %q after %d reads; identical references (at other lines) share one read", got, mem.readCount())
	}

	t.Run("not re-read before the interval", func(t *testing.T) {
		mem.put("openai", "v2", canary+"-2", clock.Now())
		clock.Advance(30 * time.Second)
		if got := value("p"); got != canary+"-1" || mem.readCount() != 1 {
			t.Errorf("value %q after %d reads, want the first value from one read", got, mem.readCount())
		}
	})
	t.Run("re-read after the interval", func(t *testing.T) {
		clock.Advance(31 * time.Second)
		storetest.Eventually(t, "the rotated value", func() bool { return value("p") == canary+"-2" })
	})
	t.Run("outage keeps the last value", func(t *testing.T) {
		mem.setDown(errors.New("vault unavailable (503)"))
		before := mem.readCount()
		clock.Advance(2 * time.Minute)
		storetest.Eventually(t, "a failed re-read", func() bool { value("p"); return mem.readCount() > before })
		if got := value("p"); got != canary+"-2" {
			t.Errorf("during the outage got %q, want the last value", got)
		}
		storetest.Eventually(t, "the failure logged", func() bool { return strings.Contains(logs.String(), "vault unavailable") })
		if !strings.Contains(logs.String(), "memory:openai") {
			t.Errorf("log does not name the reference:\n%s", logs)
		}
	})
	t.Run("recovers", func(t *testing.T) {
		mem.put("openai", "v3", canary+"-3", clock.Now())
		mem.setDown(nil)
		clock.Advance(2 * time.Minute)
		storetest.Eventually(t, "the value after recovery", func() bool { return value("p") == canary+"-3" })
	})
	t.Run("rejection re-reads at once", func(t *testing.T) {
		mem.put("openai", "v4", canary+"-4", clock.Now())
		p, _ := set.Provider("p")
		tok, _ := token(t, set, "p")
		p.Cache.Invalidate(tok)
		if got := value("p"); got != canary+"-4" {
			t.Errorf("after Invalidate got %q, want the current version", got)
		}
	})
	t.Run("token facts", func(t *testing.T) {
		// Less than the interval, so that no re-read moves "read".
		clock.Advance(30 * time.Second)
		tok, _ := token(t, set, "p")
		want := []kind.TokenFact{
			{Name: "secret", Value: "memory:openai"},
			{Name: "version", Value: "v4"},
			{Name: "version created", Value: clock.Now().Add(-30*time.Second).UTC().Format(time.RFC3339) + " (30s ago)"},
			{Name: "read", Value: "30s ago"},
		}
		// The twin shares the source: it describes the same read.
		for _, name := range []string{"p", "twin"} {
			q, _ := set.Provider(name)
			if diff := cmp.Diff(want, q.DescribeToken(tok)); diff != "" {
				t.Errorf("%s facts (-want +got):\n%s", name, diff)
			}
		}
	})
	if strings.Contains(logs.String(), canary) {
		t.Errorf("a secret value reached the log:\n%s", logs)
	}
}

func TestSecretRefValues(t *testing.T) {
	tests := []struct {
		name    string
		block   string
		value   string
		want    string
		kind    credential.Kind
		wantErr string
	}{
		{name: "api key", block: `api_key_secret: {store: memory, secret: s}`, value: canary, want: canary, kind: credential.KindAPIKey},
		{name: "bearer", block: `bearer_token_secret: {store: memory, secret: s}`, value: canary, want: canary, kind: credential.KindBearer},
		{name: "json key", block: `api_key_secret: {store: memory, secret: s, json_key: api_key}`, value: `{"api_key":"` + canary + `","org":"o"}`, want: canary, kind: credential.KindAPIKey},
		{name: "json key missing", block: `api_key_secret: {store: memory, secret: s, json_key: key}`, value: `{"api_key":"` + canary + `","org":"o"}`,
			wantErr: `static: secret memory:s: version v1: json_key key: the secret's JSON object has no field "key" (it has "api_key", "org")`},
		{name: "not json", block: `api_key_secret: {store: memory, secret: s, json_key: key}`, value: canary,
			wantErr: `static: secret memory:s: version v1: json_key key: the secret is not a JSON object`},
		{name: "json field not a string", block: `api_key_secret: {store: memory, secret: s, json_key: n}`, value: `{"n": 7, "x": "` + canary + `"}`,
			wantErr: `static: secret memory:s: version v1: json_key n: field "n" is not a string`},
		{name: "empty", block: `api_key_secret: {store: memory, secret: s}`, value: "",
			wantErr: `static: secret memory:s: version v1 is empty; store the key in it`},
		{name: "not a header value", block: `api_key_secret: {store: memory, secret: s}`, value: canary + "\nX-Evil: 1",
			wantErr: `static: secret memory:s: version v1: `},
		{name: "pinned version", block: `api_key_secret: {store: memory, secret: s, version: v0}`, value: canary,
			wantErr: `static: secret memory:s@v0: version v0 not found`},
		{name: "unknown secret", block: `api_key_secret: {store: memory, secret: gone}`, value: canary,
			wantErr: `static: secret memory:gone: secret not found`},
		// Any store, including one a program registers, is capped
		// before the value is parsed (issue 23, finding 17).
		{name: "over 64 KiB", block: `api_key_secret: {store: memory, secret: s}`, value: canary + strings.Repeat("x", 100<<10),
			wantErr: `static: secret memory:s: version v1: the secret's value is 102418 bytes; a credential is at most 65536 bytes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem.reset()
			mem.put("s", "v1", tc.value, time.Time{})
			logs := new(syncbuf.Buffer)
			set := loadMem(t, fakeclock.New(), logs, "      "+tc.block)
			tok, err := token(t, set, "p")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), canary) {
					t.Errorf("the error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tok.Value.Reveal() != tc.want || tok.Kind != tc.kind {
				t.Errorf("got %v %q, want %v %q", tok.Kind, tok.Value.Reveal(), tc.kind, tc.want)
			}
			var buf bytes.Buffer
			fmt.Fprintf(&buf, "%v %+v %#v %s", tok, tok, tok, tok.Value)
			if strings.Contains(buf.String(), canary) {
				t.Errorf("formatting the token shows the secret: %s", buf.String())
			}
		})
	}
}

// TestSecretRefJSONDocuments: a secret holding a JSON document is never sent
// whole (issue 23, finding 4: {"anthropic": …, "openai": …} without json_key
// went to OpenAI as one bearer token). The error lists the field names, with
// any that look like a key masked, and says to set json_key; no value and no
// key-shaped name appears in it.
func TestSecretRefJSONDocuments(t *testing.T) {
	const (
		anthropic = "sk-ant-CANARY-0f4e9d2a7b"
		nameKey   = "Xk7pQ2mZ9vR4tL8wN3bY6cF1" // a field name that is itself a key
	)
	many := map[string]string{}
	for i := range 12 {
		many[fmt.Sprintf("f%02d", i)] = canary
	}
	manyJSON, _ := json.Marshal(many)
	tests := []struct {
		name, block, value, wantErr string
	}{
		{name: "object without json_key", block: `api_key_secret: {store: memory, secret: s}`,
			value:   `{"anthropic": "` + anthropic + `", "openai": "` + canary + `"}`,
			wantErr: `static: secret memory:s: version v1 holds a JSON object with fields "anthropic", "openai", not a key: set json_key to the field that holds this provider's key`},
		{name: "bearer too", block: `bearer_token_secret: {store: memory, secret: s}`,
			value:   `{"openai":"` + canary + `"}`,
			wantErr: `static: secret memory:s: version v1 holds a JSON object with fields "openai", not a key: set json_key`},
		{name: "a field name that is a key is masked", block: `api_key_secret: {store: memory, secret: s}`,
			value:   `{"` + nameKey + `": "openai", "` + canary + `": "x", "org": "o"}`,
			wantErr: `static: secret memory:s: version v1 holds a JSON object with fields "[REDACTED]", "org", "[REDACTED]", not a key`},
		{name: "missing json_key field: names masked too", block: `api_key_secret: {store: memory, secret: s, json_key: key}`,
			value:   `{"` + nameKey + `": "openai", "org": "o"}`,
			wantErr: `static: secret memory:s: version v1: json_key key: the secret's JSON object has no field "key" (it has "[REDACTED]", "org")`},
		{name: "many fields are capped", block: `api_key_secret: {store: memory, secret: s}`,
			value:   string(manyJSON),
			wantErr: `holds a JSON object with fields "f00", "f01", "f02", "f03", "f04", "f05", "f06", "f07", "f08", "f09", and 2 more, not a key`},
		{name: "array", block: `api_key_secret: {store: memory, secret: s}`,
			value: `["` + anthropic + `", "` + canary + `"]`, wantErr: `static: secret memory:s: version v1 holds a JSON array, not a key`},
		{name: "object that does not parse", block: `api_key_secret: {store: memory, secret: s}`,
			value: `{"anthropic": "` + anthropic + `", "openai": "` + canary + `",}`, wantErr: `version v1 holds what looks like a JSON object (it does not parse), not a key`},
		{name: "json_key field holding a document", block: `api_key_secret: {store: memory, secret: s, json_key: keys}`,
			value:   `{"keys": "{\"openai\": \"` + canary + `\", \"anthropic\": \"` + anthropic + `\"}"}`,
			wantErr: `static: secret memory:s: version v1: json_key keys: the field holds a JSON object with fields "anthropic", "openai", not a key`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem.reset()
			mem.put("s", "v1", tc.value, time.Time{})
			logs := new(syncbuf.Buffer)
			set := loadMem(t, fakeclock.New(), logs, "      "+tc.block)
			tok, err := token(t, set, "p")
			if err == nil {
				t.Fatalf("got a token of %d bytes, want an error containing %q", len(tok.Value.Reveal()), tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v\nwant it to contain %q", err, tc.wantErr)
			}
			for _, s := range []string{canary, anthropic, nameKey} {
				if strings.Contains(err.Error(), s) || strings.Contains(logs.String(), s) {
					t.Errorf("the error or log shows %q: %v\n%s", s, err, logs)
				}
			}
		})
	}
}
