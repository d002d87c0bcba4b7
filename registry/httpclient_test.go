package registry

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/kind"
)

// httpAuth records the HTTP client each build it sees carries: its own
// Validate and Source, and a nested block's (Sub).
type httpAuth struct {
	Tag string `yaml:"tag"`
	Rev int    `yaml:"rev"`
}

var httpSeen struct {
	mu      sync.Mutex
	clients map[string][]*http.Client // by tag
}

func (a *httpAuth) record(c *http.Client) {
	httpSeen.mu.Lock()
	defer httpSeen.mu.Unlock()
	httpSeen.clients[a.Tag] = append(httpSeen.clients[a.Tag], c)
}

func (a *httpAuth) Validate(b *kind.Build) {
	a.record(b.HTTPClient)
	a.record(b.Sub("nested").HTTPClient)
}

func (a *httpAuth) Source(b *kind.Build) (kind.Result, error) {
	a.record(b.HTTPClient)
	return kind.Result{Source: credential.StaticTokenSource(&credential.Token{Value: credential.NewSecret("k"), Kind: credential.KindAPIKey})}, nil
}

func init() {
	httpSeen.clients = map[string][]*http.Client{}
	kind.Register("test-http", func() kind.AuthConfig { return new(httpAuth) })
}

func seen(tag string) []*http.Client {
	httpSeen.mu.Lock()
	defer httpSeen.mu.Unlock()
	return httpSeen.clients[tag]
}

// TestHTTPClientReachesEveryBuild: Options.HTTPClient is what every build a
// kind sees carries — Validate, a nested block's Sub, Source, and the builds
// of a reload — and nil when the program gives none.
func TestHTTPClientReachesEveryBuild(t *testing.T) {
	client := &http.Client{}
	tests := []struct {
		name, tag string
		client    *http.Client
	}{
		{"the program's client", "given", client},
		{"none: each SDK's default", "none", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tag := tc.tag
			path := configtest.Write(t, "providers:\n  p: {type: openai, base_url: https://a.example, model: m, auth: {type: test-http, tag: "+tag+"}}\n")
			live, err := NewLive(path, Options{HTTPClient: tc.client, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer live.Close()
			// A changed block, so the reload builds a source again.
			if err := os.WriteFile(path, []byte("providers:\n  p: {type: openai, base_url: https://a.example, model: m, auth: {type: test-http, tag: "+tag+", rev: 2}}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := live.Reload(); err != nil {
				t.Fatal(err)
			}
			if _, err := live.Current().providers["p"].Token(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Validate (2: its own build and Sub) and Source, at load and
			// at the reload.
			want := []*http.Client{tc.client, tc.client, tc.client, tc.client, tc.client, tc.client}
			if diff := cmp.Diff(want, seen(tag), cmp.Comparer(func(a, b *http.Client) bool { return a == b })); diff != "" {
				t.Errorf("clients the builds carried (-want +got):\n%s", diff)
			}
		})
	}
}
