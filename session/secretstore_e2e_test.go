package session_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	copilot "github.com/github/copilot-sdk/go"
	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/copilotcli"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/fakestores"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// storeKey is the canary key version n of the model key in store.
func storeKey(store string, n int) string {
	return fmt.Sprintf("sk-CANARY-%s-v%d-5b0c9e", strings.ReplaceAll(store, "_", ""), n)
}

// TestSecretStoreKeysRotateMidSession runs one session over three openai-type
// providers whose API keys live in Key Vault, Secrets Manager and Secret
// Manager, each read by the real SDK with its cloud's workload identity, and
// rotates all three twice while the session lives:
//   - first as a rotation with overlap (old and new key both valid): the
//     key is re-read after refresh_interval and the next request of the
//     live session carries the new key, with no request refused;
//   - then with the old key revoked at once: the 401 makes the cache re-read
//     the store (refresh_on_rejection) and the runtime's retry carries the
//     new key, so no turn fails.
//
// An azure-type provider's key travels in api-key, which the SDK reads once
// per session: after its rotation the open session's turn fails, and the
// next session gets the new key (the 401 dropped the old one).
func TestSecretStoreKeysRotateMidSession(t *testing.T) {
	needRuntime(t)
	st := fakestores.Start(t)
	rings := map[string]*fakemodel.Keys{}
	models := map[string]*fakemodel.Server{}
	for _, store := range append([]string{"azure"}, fakestores.Names...) {
		rings[store] = new(fakemodel.Keys)
		m, err := fakemodel.Start(fakemodel.Options{Reply: "from " + store, Check: rings[store].Check})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		models[store] = m
	}
	for _, store := range fakestores.Names {
		st.Put(store, "model-key", storeKey(store, 1))
		rings[store].Set(storeKey(store, 1))
	}
	st.Put(fakestores.KeyVault, "azure-key", storeKey("azure", 1))
	rings["azure"].Set(storeKey("azure", 1))

	var cfg strings.Builder
	cfg.WriteString("refresh_on_rejection: true\nproviders:\n")
	for _, store := range fakestores.Names {
		fmt.Fprintf(&cfg, "  %s:\n    type: openai\n    base_url: %s\n    auth: {type: static, api_key_secret: %s}\n",
			store, models[store].URL, st.Block(store, "model-key", "refresh_interval: 10s"))
	}
	fmt.Fprintf(&cfg, "  foundry:\n    type: azure\n    base_url: %s\n    model: gpt-4.1\n    auth: {type: static, api_key_secret: %s}\n",
		models["azure"].URL, st.Block(fakestores.KeyVault, "azure-key", ""))
	cfg.WriteString("models:\n")
	for _, store := range fakestores.Names {
		fmt.Fprintf(&cfg, "  - {id: m, provider: %s}\n", store)
	}
	fmt.Fprintf(&cfg, "default_model: %s/m\n", fakestores.KeyVault)
	logs := new(syncbuf.Buffer)
	// The caches run on real time moved forward on demand, so that the
	// rotation below does not wait out refresh_interval's 10 s minimum.
	clock := new(aheadClock)
	set, err := registry.Load(writeConfig(t, cfg.String()), registry.Options{HTTPClient: st.Client(), Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	factory := session.NewFactory(set, session.Options{})
	rtx, err := copilotcli.Start(ctx, copilotcli.Options{RequestHandler: factory.RequestHandler()})
	if err != nil {
		t.Fatal(err)
	}
	defer rtx.Close()
	mcfg, err := factory.MultiSessionConfig(ctx, "", session.ToolFree())
	if err != nil {
		t.Fatal(err)
	}
	s, err := rtx.Client.CreateSession(ctx, mcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()

	// turns asks each openai-type provider once and returns the key its
	// endpoint's last request carried.
	turns := func(round string) map[string]string {
		t.Helper()
		last := map[string]string{}
		for _, store := range fakestores.Names {
			if err := factory.SwitchModel(ctx, s, store+"/m"); err != nil {
				t.Fatal(err)
			}
			reply, err := session.Reply(ctx, s, round)
			if err != nil {
				t.Fatalf("%s: turn on %s: %v", round, store, err)
			}
			if reply != "from "+store {
				t.Errorf("%s: reply %q from %s", round, reply, store)
			}
			reqs := models[store].Requests()
			_, last[store] = reqs[len(reqs)-1].Credential()
		}
		return last
	}
	want := func(n int) map[string]string {
		m := map[string]string{}
		for _, store := range fakestores.Names {
			m[store] = storeKey(store, n)
		}
		return m
	}
	refusals := func() map[string]int {
		m := map[string]int{}
		for _, store := range fakestores.Names {
			m[store] = rings[store].Refused()
		}
		return m
	}

	if diff := cmp.Diff(want(1), turns("first")); diff != "" {
		t.Fatalf("keys before rotation (-want +got):\n%s", diff)
	}

	t.Run("rotation with overlap reaches the next request", func(t *testing.T) {
		for _, store := range fakestores.Names {
			st.Put(store, "model-key", storeKey(store, 2))
			rings[store].Set(storeKey(store, 1), storeKey(store, 2))
		}
		// The cache re-reads every store once refresh_interval (10s) has
		// passed since the first read; move its clock past that, then
		// wait until each cache holds the new key (the read's answer is
		// stored after the store served it).
		clock.Skip(11 * time.Second)
		deadline := time.Now().Add(30 * time.Second)
		for _, store := range fakestores.Names {
			p, err := set.Provider(store)
			if err != nil {
				t.Fatal(err)
			}
			for {
				tok, err := p.Token(ctx)
				if err == nil && tok.Value.Reveal() == storeKey(store, 2) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: no re-read within refresh_interval (store read %d times, last error %v)", store, st.Reads(store), err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		if diff := cmp.Diff(want(2), turns("second")); diff != "" {
			t.Errorf("keys after rotation (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]int{fakestores.KeyVault: 0, fakestores.SecretsManager: 0, fakestores.SecretManager: 0}, refusals()); diff != "" {
			t.Errorf("refused requests (-want +got):\n%s", diff)
		}
	})

	t.Run("revoked key is re-read on the 401", func(t *testing.T) {
		reads := map[string]int{}
		for _, store := range fakestores.Names {
			reads[store] = st.Reads(store)
			st.Put(store, "model-key", storeKey(store, 3))
			rings[store].Set(storeKey(store, 3))
		}
		if diff := cmp.Diff(want(3), turns("third")); diff != "" {
			t.Errorf("keys after revocation (-want +got):\n%s", diff)
		}
		for _, store := range fakestores.Names {
			if n := st.Reads(store) - reads[store]; n < 1 {
				t.Errorf("%s: %d reads after the 401, want the store read again", store, n)
			}
		}
		// One 401 each, then the retry with the new key — unless the
		// store's own refresh timer (every 10s) re-read it first, which a
		// slow machine may see for one store, never for all three.
		total := 0
		for store, n := range refusals() {
			if n > 1 {
				t.Errorf("%s refused %d requests, want at most one (the retry must carry the new key)", store, n)
			}
			total += n
		}
		if total == 0 {
			t.Error("no request was refused: the revocation never reached the 401 path")
		}
	})

	t.Run("azure api-key reaches the next session", func(t *testing.T) {
		first := openAzure(t, ctx, rtx, factory)
		if _, err := session.Reply(ctx, first, "before"); err != nil {
			t.Fatal(err)
		}
		st.Put(fakestores.KeyVault, "azure-key", storeKey("azure", 2))
		rings["azure"].Set(storeKey("azure", 2))
		if _, err := session.Reply(ctx, first, "after"); err == nil {
			t.Error("the open session's turn succeeded with a revoked api-key; the SDK was expected to keep the key it read at creation")
		}
		second := openAzure(t, ctx, rtx, factory)
		if _, err := session.Reply(ctx, second, "next session"); err != nil {
			t.Fatalf("next session: %v", err)
		}
		reqs := models["azure"].Requests()
		if h, v := reqs[len(reqs)-1].Credential(); h != "api-key" || v != storeKey("azure", 2) {
			t.Errorf("next session sent %s %q, want api-key with the rotated key", h, v)
		}
	})

	for _, store := range append([]string{"azure"}, fakestores.Names...) {
		for n := 1; n <= 3; n++ {
			if strings.Contains(logs.String(), storeKey(store, n)) {
				t.Errorf("the log shows a key of %s", store)
			}
		}
	}
}

// openAzure opens a session on the azure-type provider: its api-key is
// read now.
func openAzure(t *testing.T, ctx context.Context, rtx *copilotcli.Runtime, factory *session.Factory) *copilot.Session {
	t.Helper()
	cfg, err := factory.SessionConfig(ctx, "foundry", session.ToolFree())
	if err != nil {
		t.Fatal(err)
	}
	s, err := rtx.Client.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Disconnect() })
	return s
}

// aheadClock is the real clock plus a skip that only grows.
type aheadClock struct{ skip atomic.Int64 }

func (c *aheadClock) Now() time.Time       { return time.Now().Add(time.Duration(c.skip.Load())) }
func (c *aheadClock) Skip(d time.Duration) { c.skip.Add(int64(d)) }
