package session_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

var scopeSeq atomic.Int64

// entraFixture is a fake managed-identity endpoint plus a model endpoint
// that accepts only tokens the identity endpoint minted and that are still
// valid when the request arrives.
type entraFixture struct {
	idp   *fakeidentity.Server
	model *fakemodel.Server
	bad   atomic.Int64
	scope string
}

func newEntraFixture(t *testing.T, lifetime time.Duration) *entraFixture {
	t.Helper()
	f := &entraFixture{scope: fmt.Sprintf("https://e2e%d.cognitiveservices.example/.default", scopeSeq.Add(1))}
	var err error
	f.idp, err = fakeidentity.Start(fakeidentity.Options{Lifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.idp.Close() })
	f.idp.Setenv(t)
	f.model, err = fakemodel.Start(fakemodel.Options{Reply: "ok", Check: func(r *fakemodel.Request) int {
		if err := f.idp.CheckRequest(r); err != nil {
			f.bad.Add(1)
			t.Logf("model endpoint refused a token: %v", err)
			return http.StatusUnauthorized
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.model.Close() })
	return f
}

func (f *entraFixture) load(t *testing.T, refresh string) *registry.Set {
	t.Helper()
	cfg := writeConfig(t, fmt.Sprintf(`providers:
  foundry:
    type: azure
    base_url: %s
    wire_api: responses
    model: gpt-4.1
    auth:
      type: entra
      credential: managed_identity
      scope: %s
      refresh: %s
`, f.model.URL, f.scope, refresh))
	set, err := registry.Load(cfg, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	return set
}

// TestEntraSessionOutlivesItsTokens runs one session for several turns while
// the identity endpoint issues four-second tokens: every request must carry
// a token that is valid when it arrives, tokens must rotate, and no turn may
// fail.
func TestEntraSessionOutlivesItsTokens(t *testing.T) {
	needRuntime(t)
	f := newEntraFixture(t, 4*time.Second)
	set := f.load(t, kind.RefreshPerRequest)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := session.NewFactory(set, session.Options{}).SessionConfig(ctx, "foundry", session.ToolFree())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Provider.BearerTokenProvider == nil || cfg.Provider.BearerToken != "" || cfg.Provider.APIKey != "" {
		t.Fatal("per_request must wire only the callback")
	}
	s, err := rt.Client.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	// Until 3 tokens were used: two rotations, the session outlived the
	// first token (about 4 s of turns, not a fixed 6 turns).
	turns := turnsUntil(t, ctx, s, 1500*time.Millisecond, 3, 12, func() bool { return distinctAuthorizations(f.model.Requests()) >= 3 })
	reqs := f.model.Requests()
	distinct := map[string]bool{}
	for _, r := range reqs {
		distinct[r.Header.Get("Authorization")] = true
		if r.Status != http.StatusOK {
			t.Errorf("request at %s answered %d", r.Time.Format(time.StampMilli), r.Status)
		}
	}
	if f.bad.Load() != 0 {
		t.Errorf("%d requests carried a token that was not valid when sent", f.bad.Load())
	}
	if len(reqs) < turns {
		t.Errorf("%d requests for %d turns", len(reqs), turns)
	}
	if len(distinct) < 3 {
		t.Errorf("tokens did not rotate: %d distinct tokens over %d requests in %d turns", len(distinct), len(reqs), turns)
	}
	p, _ := set.Provider("foundry")
	st := p.Cache.Stats()
	if st.Waits != 1 {
		t.Errorf("%d waits for the identity endpoint, want 1 (the cold start): a valid token must always be in hand", st.Waits)
	}
	if st.Fetches != int64(f.idp.Requests()) || int(st.Fetches) != len(f.idp.Issued()) {
		t.Errorf("cache fetches %d, identity requests %d, tokens minted %d: want one request per rotation", st.Fetches, f.idp.Requests(), len(f.idp.Issued()))
	}
	t.Logf("%d turns, %d requests, %d distinct tokens, %d identity fetches, cache %+v", turns, len(reqs), len(distinct), f.idp.Requests(), st)
}

// TestEntraPerSessionCapturesOneToken shows the per_session trade-off: the
// token is captured when the session is created and sent as is.
func TestEntraPerSessionCapturesOneToken(t *testing.T) {
	needRuntime(t)
	f := newEntraFixture(t, time.Hour)
	set := f.load(t, kind.RefreshPerSession)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := session.NewFactory(set, session.Options{}).SessionConfig(ctx, "foundry", session.ToolFree())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Provider.BearerTokenProvider != nil || cfg.Provider.BearerToken == "" {
		t.Fatal("per_session must capture a static bearer token and no callback")
	}
	s, err := rt.Client.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	for i := 0; i < 2; i++ {
		if _, err := session.Reply(ctx, s, "hi"); err != nil {
			t.Fatal(err)
		}
	}
	issued := f.idp.Issued()
	for _, r := range f.model.Requests() {
		if got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); got != issued[0].Token {
			t.Errorf("request carried a token other than the captured one")
		}
	}
	if len(issued) != 1 {
		t.Errorf("minted %d tokens, want 1", len(issued))
	}
}
