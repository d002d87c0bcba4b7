package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/fakemodel"
	"github.com/byokcred/byokcred/provider"
	"github.com/byokcred/byokcred/proxy"
	"github.com/byokcred/byokcred/registry"
)

// gatedAuth's source answers only once the test opens its gate: a plugin
// on its first, cold fetch. Its source is wrapped in a token cache, as a
// plugin's is.
type gatedAuth struct {
	Value string `yaml:"value"`
}

type gate struct {
	started chan struct{} // one send per fetch
	open    chan struct{}
}

var (
	gates    sync.Map // value -> *gate
	gateRuns atomic.Int64
)

func gateFor(value string) *gate {
	g, _ := gates.LoadOrStore(value, &gate{started: make(chan struct{}, 16), open: make(chan struct{})})
	return g.(*gate)
}

type gatedSource struct {
	g     *gate
	value string
}

func (s gatedSource) Token(ctx context.Context) (*provider.Token, error) {
	s.g.started <- struct{}{}
	select {
	case <-s.g.open:
		return &provider.Token{Kind: provider.KindBearer, Value: provider.NewSecret(s.value), Expiry: time.Now().Add(time.Hour)}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (*gatedAuth) Validate(*registry.Build) {}
func (a *gatedAuth) Source(*registry.Build) (provider.TokenSource, error) {
	return gatedSource{gateFor(a.Value), a.Value}, nil
}

func init() {
	registry.Register("proxytest-gated", func() registry.AuthConfig { return new(gatedAuth) })
}

func gatedConfig(url, value string) string {
	return fmt.Sprintf("providers:\n  oai: {type: openai, base_url: %s, model: m, auth: {type: proxytest-gated, value: %s}}\n", url, value)
}

// TestReloadDuringAColdFetch: requests waiting on a provider's cold fetch
// when a reload (SIGHUP) replaces the provider's auth block are served with
// the fetched token (issue 23, finding 9: the reload closed the old source,
// cancelling the fetch, and they failed with 503 "context canceled"); the
// next request uses the new config.
func TestReloadDuringAColdFetch(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	// Gates are per value, and values per run (-count).
	run := gateRuns.Add(1)
	old, next := fmt.Sprintf("CANARY-cold-%d", run), fmt.Sprintf("CANARY-next-%d", run)
	live, path := loadLive(t, gatedConfig(model.URL, old))
	px := startProxy(t, live, proxy.Options{})
	const waiting = 5
	statuses := make(chan int, waiting)
	for range waiting {
		go func() {
			statuses <- do(t, http.MethodPost, px.url+"/oai/chat/completions", `{}`, nil).Status
		}()
	}
	<-gateFor(old).started // the first request started the cold fetch
	p, err := live.Current().Provider("oai")
	if err != nil {
		t.Fatal(err)
	}
	// Until every request waits on that fetch (waiting is counted once
	// the cache has been asked).
	for deadline := time.Now().Add(10 * time.Second); p.Cache.Stats().Waits < waiting; {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests wait on the fetch, want %d", p.Cache.Stats().Waits, waiting)
		}
		time.Sleep(time.Millisecond)
	}
	writeFile(t, path, gatedConfig(model.URL, next))
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	close(gateFor(old).open)
	var got []int
	for range waiting {
		got = append(got, <-statuses)
	}
	if diff := cmp.Diff([]int{200, 200, 200, 200, 200}, got); diff != "" {
		t.Errorf("statuses of the requests waiting during the reload (-want +got):\n%s", diff)
	}
	close(gateFor(next).open)
	if r := do(t, http.MethodPost, px.url+"/oai/chat/completions", `{}`, nil); r.Status != 200 {
		t.Fatalf("after the reload: %d %s", r.Status, r.Body)
	}
	reqs := model.Requests()
	var bearers []string
	for _, r := range reqs {
		bearers = append(bearers, bearerOf(r))
	}
	want := []string{old, old, old, old, old, next}
	if diff := cmp.Diff(want, bearers); diff != "" {
		t.Errorf("tokens the upstream received (-want +got):\n%s", diff)
	}
}
