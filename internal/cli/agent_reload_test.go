package cli

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/gatedauth"
	"github.com/byokcred/byokcred/registry"
)

// TestAgentTokenDuringAReload: an agent request waiting on a provider's
// cold fetch when SIGHUP's reload replaces the provider's auth block gets
// the fetched token instead of "context canceled" (issue 23, finding 9, the
// agent's variant of the proxy's).
func TestAgentTokenDuringAReload(t *testing.T) {
	config := func(v string) string {
		return fmt.Sprintf("providers:\n  oai: {type: openai, base_url: https://api.example, model: m, auth: {type: %s, value: %s}}\n", gatedauth.Kind, v)
	}
	old, next := gatedauth.Value("agent-old"), gatedauth.Value("agent-next")
	path := configtest.Write(t, config(old))
	live, err := registry.NewLive(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	token := agentToken(live)
	type result struct{ Token, Provider, Err string }
	ask := func() result {
		tok, name, err := token(context.Background(), "")
		if err != nil {
			return result{Err: err.Error()}
		}
		return result{Token: tok.Value.Reveal(), Provider: name}
	}
	done := make(chan result, 1)
	go func() { done <- ask() }()
	<-gatedauth.For(old).Started
	if err := os.WriteFile(path, []byte(config(next)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	close(gatedauth.For(old).Open)
	if diff := cmp.Diff(result{Token: old, Provider: "oai"}, <-done); diff != "" {
		t.Errorf("the request waiting during the reload (-want +got):\n%s", diff)
	}
	close(gatedauth.For(next).Open)
	if diff := cmp.Diff(result{Token: next, Provider: "oai"}, ask()); diff != "" {
		t.Errorf("after the reload (-want +got):\n%s", diff)
	}
}
