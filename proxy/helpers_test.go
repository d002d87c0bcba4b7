package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/proxy"
	"github.com/byokcred/byokcred/registry"

	// The credential kinds its configs use.
	_ "github.com/byokcred/byokcred/auth/entra"
	_ "github.com/byokcred/byokcred/auth/static"
)

// Canary secrets: tests check that none of them is ever printed.
const (
	canaryKey    = "sk-CANARY-proxy-key-5f4e3d2c1b0a9988"
	canaryBearer = "CANARY-proxy-bearer-0a1b2c3d4e5f6677"
	canaryHeader = "CANARY-proxy-gateway-header-99aa88bb"
	canaryClient = "CANARY-proxy-client-token-1234abcd"
	canaryOwn    = "CANARY-client-own-key-77665544"
	canaryURL    = "CANARY-proxy-url-code-24682468"
)

// brokenAuth is an auth type whose source always fails, for the 503 path.
type brokenAuth struct{}

func (*brokenAuth) Validate(*kind.Build) {}
func (*brokenAuth) Source(*kind.Build) (kind.Result, error) {
	return kind.Result{Source: brokenSource{}, SelfCaching: true}, nil
}

type brokenSource struct{}

func (brokenSource) Token(context.Context) (*credential.Token, error) {
	return nil, errors.New("identity provider unreachable")
}

// hangingAuth is an auth type whose source never answers: a stuck
// identity provider.
type hangingAuth struct{}

func (*hangingAuth) Validate(*kind.Build) {}
func (*hangingAuth) Source(*kind.Build) (kind.Result, error) {
	return kind.Result{Source: hangingSource{}, SelfCaching: true}, nil
}

type hangingSource struct{}

func (hangingSource) Token(ctx context.Context) (*credential.Token, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func init() {
	kind.Register("proxytest-broken", func() kind.AuthConfig { return new(brokenAuth) })
	kind.Register("proxytest-hanging", func() kind.AuthConfig { return new(hangingAuth) })
}

// env is the variables ${VAR} and *_env keys resolve from in test configs.
var env = map[string]string{
	"KEY":     canaryKey,
	"BEARER":  canaryBearer,
	"GATEWAY": canaryHeader,
	"URLCODE": canaryURL,
}

func lookup(k string) (string, bool) { v, ok := env[k]; return v, ok }

// loadLive writes yaml into a temp dir and loads it as a reloadable config.
func loadLive(t *testing.T, yaml string) (*registry.Live, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "byokcred.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	live, err := registry.NewLive(path, registry.Options{LookupEnv: lookup})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Close() })
	return live, path
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// fixture is a proxy in front of loopback upstreams, with its log.
type fixture struct {
	live  *registry.Live
	srv   *proxy.Server
	url   string // the proxy's base URL
	logs  *syncbuf.Buffer
	close func()
}

// startProxy serves a proxy for live on loopback with a debug-level log.
func startProxy(t *testing.T, live *registry.Live, opts proxy.Options) *fixture {
	t.Helper()
	logs := &syncbuf.Buffer{}
	opts.Providers = live
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := proxy.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &fixture{live: live, srv: srv, url: ts.URL, logs: logs, close: ts.Close}
}

// response is what a test checks of one answer.
type response struct {
	Status int
	Body   string
	Header http.Header
}

// do sends one request through the proxy.
func do(t *testing.T, method, url string, body string, header map[string]string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, string(b), resp.Header}
}

func startModel(t *testing.T, opts fakemodel.Options) *fakemodel.Server {
	t.Helper()
	m, err := fakemodel.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

var scopeSeq atomic.Int64

// entraFixture is a fake managed-identity endpoint and a model endpoint
// that accepts only tokens it minted that are valid on arrival.
type entraFixture struct {
	idp   *fakeidentity.Server
	model *fakemodel.Server
	scope string
}

func newEntra(t *testing.T, lifetime time.Duration) *entraFixture {
	t.Helper()
	f := &entraFixture{scope: fmt.Sprintf("https://proxy%d.cognitiveservices.example/.default", scopeSeq.Add(1))}
	var err error
	f.idp, err = fakeidentity.Start(fakeidentity.Options{Lifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.idp.Close() })
	f.idp.Setenv(t)
	f.model = startModel(t, fakemodel.Options{Reply: "entra ok", Check: f.idp.Authorize})
	return f
}

// config returns a provider block for the fixture.
func (f *entraFixture) config(name string) string {
	return fmt.Sprintf(`  %s:
    type: azure
    base_url: %s
    model: gpt-4.1
    auth: {type: entra, credential: managed_identity, scope: "%s"}
`, name, f.model.URL, f.scope)
}

func bearerOf(r fakemodel.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}
