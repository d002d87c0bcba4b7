package admin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"

	// The credential kinds the configs use.
	_ "github.com/byokcred/byokcred/auth/entra"
	_ "github.com/byokcred/byokcred/auth/static"
)

// canaryToken prefixes every token the scripted identity provider mints:
// none may ever appear on the admin address or in a log.
const canaryToken = "CANARY-admin-token-6b5a4c3d2e1f"

// clock is a settable clock, shared by the registry's caches, the metrics
// and the readiness checks of one test.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock() *clock {
	c := &clock{}
	c.set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	return c
}

func (c *clock) now() time.Time          { return *c.t.Load() }
func (c *clock) set(t time.Time)         { c.t.Store(&t) }
func (c *clock) advance(d time.Duration) { c.set(c.now().Add(d)) }

// idp is a scripted identity provider: it mints tokens of a fixed life on
// the test's clock, or fails while down.
type idp struct {
	clock *clock
	life  time.Duration

	mu      sync.Mutex
	down    bool
	fetches int
}

func (p *idp) Token(ctx context.Context) (*credential.Token, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return nil, errors.New("identity endpoint answered 503 Service Unavailable")
	}
	p.fetches++
	return &credential.Token{
		Value:  credential.NewSecret(fmt.Sprintf("%s-%d", canaryToken, p.fetches)),
		Kind:   credential.KindBearer,
		Expiry: p.clock.now().Add(p.life),
	}, nil
}

func (p *idp) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

// idps are the scripted identity providers by name; a config's
// `auth: {type: admintest-scripted, idp: NAME}` uses one.
var idps sync.Map

type scriptedAuth struct {
	IDP string `yaml:"idp"`
}

func (a *scriptedAuth) Validate(b *kind.Build) {
	if _, ok := idps.Load(a.IDP); !ok {
		b.Errorf("idp", "no scripted identity provider %q", a.IDP)
	}
}

func (a *scriptedAuth) Source(*kind.Build) (kind.Result, error) {
	p, _ := idps.Load(a.IDP)
	return kind.Result{Source: p.(*idp)}, nil
}

// hangingAuth's source never answers: a stuck identity provider.
type hangingAuth struct{}

func (*hangingAuth) Validate(*kind.Build) {}
func (*hangingAuth) Source(*kind.Build) (kind.Result, error) {
	return kind.Result{Source: hangingSource{}}, nil
}

type hangingSource struct{}

func (hangingSource) Token(ctx context.Context) (*credential.Token, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func init() {
	kind.Register("admintest-scripted", func() kind.AuthConfig { return new(scriptedAuth) })
	kind.Register("admintest-hanging", func() kind.AuthConfig { return new(hangingAuth) })
}

// newIDP registers a scripted identity provider under the test's name.
func newIDP(t *testing.T, c *clock, life time.Duration) (*idp, string) {
	t.Helper()
	p := &idp{clock: c, life: life}
	idps.Store(t.Name(), p)
	t.Cleanup(func() { idps.Delete(t.Name()) })
	return p, t.Name()
}

// load writes yaml and loads it as a reloadable config on the test's clock.
func load(t *testing.T, yaml string, opts registry.Options) *registry.Live {
	t.Helper()
	path := filepath.Join(t.TempDir(), "byokcred.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	live, err := registry.NewLive(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Close() })
	return live
}

// upstream is a model endpoint that answers every chat request, except with
// 401 one whose bearer token was revoked.
type upstream struct {
	*httptest.Server
	mu      sync.Mutex
	revoked map[string]bool
}

// startUpstream starts an upstream, closed when t ends.
func startUpstream(t *testing.T) *upstream {
	u := &upstream{revoked: map[string]bool{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		defer u.mu.Unlock()
		if u.revoked[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"choices":[{"message":{"role":"assistant","content":"ok"}}]}`)
	}))
	t.Cleanup(u.Close)
	return u
}

// revoke makes the upstream refuse token from now on.
func (u *upstream) revoke(token string) {
	u.mu.Lock()
	u.revoked[token] = true
	u.mu.Unlock()
}
