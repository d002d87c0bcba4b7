package session_test

import (
	"fmt"
	"os"
	"testing"

	copilot "github.com/github/copilot-sdk/go"
	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/gatedauth"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

func gatedConfig(value string) string {
	return fmt.Sprintf("providers:\n  oai: {type: openai, base_url: https://api.example, model: m, auth: {type: %s, value: %s}}\n", gatedauth.Kind, value)
}

// TestCallbackDuringAReload: a model request whose callback waits on a
// provider's cold fetch when a reload (SIGHUP) replaces the provider's auth
// block gets the fetched token; the reload used to close the old source
// under it and fail the request with "context canceled" (issue 23, finding
// 9, the session factory's variant of the proxy's).
func TestCallbackDuringAReload(t *testing.T) {
	t.Parallel()
	old, next := gatedauth.Value("old"), gatedauth.Value("next")
	path := configtest.Write(t, gatedConfig(old))
	live, err := registry.NewLive(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	cb := session.NewFactory(live, session.Options{}).Callback("oai")
	type result struct{ Token, Err string }
	done := make(chan result, 1)
	go func() {
		tok, err := cb(copilot.ProviderTokenArgs{ProviderName: "default"})
		if err != nil {
			done <- result{Err: err.Error()}
			return
		}
		done <- result{Token: tok}
	}()
	<-gatedauth.For(old).Started // the model request waits on the cold fetch
	if err := os.WriteFile(path, []byte(gatedConfig(next)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	close(gatedauth.For(old).Open)
	if diff := cmp.Diff(result{Token: old}, <-done); diff != "" {
		t.Errorf("the request waiting during the reload (-want +got):\n%s", diff)
	}
	if !gatedauth.For(old).Closed.Load() {
		t.Error("the replaced source is still open after the request holding it finished")
	}
	close(gatedauth.For(next).Open)
	if tok, err := cb(copilot.ProviderTokenArgs{ProviderName: "default"}); err != nil || tok != next {
		t.Errorf("after the reload: %q, %v; want the new config's token", tok, err)
	}
}
