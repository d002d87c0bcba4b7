package proxy_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/fakestores"
	"github.com/byokcred/byokcred/proxy"
	"github.com/byokcred/byokcred/registry"
)

// TestSecretStoreKeysThroughTheProxy serves three providers whose keys live
// in Key Vault, Secrets Manager and Secret Manager — one of each provider
// type, so each key travels in its own header — and rotates them between
// requests with the old key revoked at once: the proxy's 401 drops the
// cached key, re-reads the store and replays the request with the new key,
// so the client never sees the rotation. Between rotations the key comes
// from the cache, not the store.
func TestSecretStoreKeysThroughTheProxy(t *testing.T) {
	st := fakestores.Start(t)
	routes := []struct {
		store, name, typ, path, header string
	}{
		{fakestores.KeyVault, "foundry", "azure", "/foundry/openai/v1/chat/completions", "api-key"},
		{fakestores.SecretsManager, "claude", "anthropic", "/claude/v1/messages", "x-api-key"},
		{fakestores.SecretManager, "gateway", "openai", "/gateway/chat/completions", "Authorization"},
	}
	keys := map[string]*fakemodel.Keys{}
	models := map[string]*fakemodel.Server{}
	var cfg strings.Builder
	cfg.WriteString("providers:\n")
	for _, r := range routes {
		keys[r.store] = new(fakemodel.Keys)
		models[r.store] = startModel(t, fakemodel.Options{Reply: "ok", Check: keys[r.store].Check})
		st.Put(r.store, "model-key", storeKey(r.store, 1))
		keys[r.store].Set(storeKey(r.store, 1))
		fmt.Fprintf(&cfg, "  %s: {type: %s, base_url: %s, model: m, auth: {type: static, api_key_secret: %s}}\n",
			r.name, r.typ, models[r.store].URL, st.Block(r.store, "model-key", ""))
	}
	path := filepath.Join(t.TempDir(), "byokcred.yaml")
	writeFile(t, path, cfg.String())
	live, err := registry.NewLive(path, registry.Options{LookupEnv: lookup, HTTPClient: st.Client()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Close() })
	px := startProxy(t, live, proxy.Options{})

	// send makes one request per route and returns the header and key
	// each upstream's last request carried.
	send := func(round string) map[string]string {
		t.Helper()
		got := map[string]string{}
		for _, r := range routes {
			resp := do(t, http.MethodPost, px.url+r.path, `{"model":"m","messages":[{"role":"user","content":"`+round+`"}]}`, nil)
			if resp.Status != 200 {
				t.Fatalf("%s: %s: %d %s", round, r.name, resp.Status, resp.Body)
			}
			reqs := models[r.store].Requests()
			h, v := reqs[len(reqs)-1].Credential()
			got[r.store] = strings.ToLower(h) + ": " + v
		}
		return got
	}
	want := func(n int) map[string]string {
		m := map[string]string{}
		for _, r := range routes {
			m[r.store] = strings.ToLower(r.header) + ": " + storeKey(r.store, n)
		}
		return m
	}
	if diff := cmp.Diff(want(1), send("first")); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	for _, r := range routes {
		st.Put(r.store, "model-key", storeKey(r.store, 2))
		keys[r.store].Set(storeKey(r.store, 2)) // the old key revoked at once
	}
	if diff := cmp.Diff(want(2), send("after rotation")); diff != "" {
		t.Errorf("after rotation (-want +got):\n%s", diff)
	}
	for _, r := range routes {
		if got := st.Reads(r.store); got != 2 {
			t.Errorf("%s read %d times, want 2: once at the start, once after the 401", r.store, got)
		}
	}
	// Requests between rotations are served from the cache.
	send("again")
	for _, r := range routes {
		if got := st.Reads(r.store); got != 2 {
			t.Errorf("%s read %d times after another request, want still 2", r.store, got)
		}
	}

	for _, r := range routes {
		for n := 1; n <= 2; n++ {
			if strings.Contains(px.logs.String(), storeKey(r.store, n)) {
				t.Errorf("the proxy's log shows a key from %s", r.store)
			}
		}
	}
}

func storeKey(store string, n int) string {
	return fmt.Sprintf("sk-CANARY-%s-v%d-7d21aa", strings.ReplaceAll(store, "_", ""), n)
}
