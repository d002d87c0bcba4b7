package proxy_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/gatedauth"
	"github.com/byokcred/byokcred/proxy"
)

func gatedConfig(url, value string) string {
	return fmt.Sprintf("providers:\n  oai: {type: openai, base_url: %s, model: m, auth: {type: %s, value: %s}}\n", url, gatedauth.Kind, value)
}

// TestReloadDuringAColdFetch: requests waiting on a provider's cold fetch
// when a reload (SIGHUP) replaces the provider's auth block are served with
// the fetched token (issue 23, finding 9: the reload closed the old source,
// cancelling the fetch, and they failed with 503 "context canceled"); the
// next request uses the new config.
func TestReloadDuringAColdFetch(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	old, next := gatedauth.Value("CANARY-cold"), gatedauth.Value("CANARY-next")
	live, path := loadLive(t, gatedConfig(model.URL, old))
	px := startProxy(t, live, proxy.Options{})
	const waiting = 5
	statuses := make(chan int, waiting)
	for range waiting {
		go func() {
			statuses <- do(t, http.MethodPost, px.url+"/oai/chat/completions", `{}`, nil).Status
		}()
	}
	<-gatedauth.For(old).Started // the first request started the cold fetch
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
	close(gatedauth.For(old).Open)
	var got []int
	for range waiting {
		got = append(got, <-statuses)
	}
	if diff := cmp.Diff([]int{200, 200, 200, 200, 200}, got); diff != "" {
		t.Errorf("statuses of the requests waiting during the reload (-want +got):\n%s", diff)
	}
	close(gatedauth.For(next).Open)
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
