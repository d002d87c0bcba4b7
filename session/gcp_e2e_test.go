package session_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/registry"
)

// TestVertexSessionOutlivesItsTokens runs one session on a Vertex AI
// provider (auth.type gcp, metadata server credentials) for several turns
// while the metadata server issues four-second access tokens: every request
// at the model endpoint must carry a token the metadata server minted and
// that is valid when it arrives, tokens must rotate mid-session, and no
// turn may fail.
func TestVertexSessionOutlivesItsTokens(t *testing.T) {
	needRuntime(t)
	md, err := fakegcp.Start(fakegcp.Options{Lifetime: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer md.Close()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	md.Setenv(t)
	var bad atomic.Int64
	model, err := fakemodel.Start(fakemodel.Options{Reply: "ok", Check: func(r *fakemodel.Request) int {
		if err := md.CheckRequest(r); err != nil {
			bad.Add(1)
			t.Logf("Vertex endpoint refused a token: %v", err)
			return http.StatusUnauthorized
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	const openapi = "/v1/projects/byok-test-project/locations/us-central1/endpoints/openapi"
	set, err := registry.Load(writeConfig(t, fmt.Sprintf(`providers:
  vertex:
    type: openai
    base_url: %s%s
    model: google/gemini-2.5-flash
    auth: {type: gcp}
`, model.URL, openapi)), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := openSession(t, ctx, set, "vertex")
	// Until 3 tokens were used: two rotations, the session outlived the
	// first token (about 4 s of turns, not a fixed 6 turns).
	turns := turnsUntil(t, ctx, s, 1500*time.Millisecond, 3, 12, func() bool { return distinctAuthorizations(model.Requests()) >= 3 })
	reqs := model.Requests()
	distinct := map[string]bool{}
	for _, r := range reqs {
		distinct[r.Header.Get("Authorization")] = true
		if r.Status != http.StatusOK {
			t.Errorf("request at %s answered %d", r.Time.Format(time.StampMilli), r.Status)
		}
		if r.Path != openapi+"/chat/completions" || r.Model != "google/gemini-2.5-flash" {
			t.Errorf("request to %s for model %q, want Vertex's chat completions for google/gemini-2.5-flash", r.Path, r.Model)
		}
	}
	if n := bad.Load(); n != 0 {
		t.Errorf("%d requests carried a token that was not valid when sent", n)
	}
	if len(reqs) < turns {
		t.Errorf("%d requests for %d turns", len(reqs), turns)
	}
	if len(distinct) < 3 {
		t.Errorf("tokens did not rotate: %d distinct tokens over %d requests in %d turns", len(distinct), len(reqs), turns)
	}
	p, _ := set.Provider("vertex")
	st := p.Cache.Stats()
	if st.Fetches != int64(md.Requests("metadata-token")) {
		t.Errorf("cache fetches %d, metadata token requests %d: want one request per fetch (the SDK must not cache behind the cache)", st.Fetches, md.Requests("metadata-token"))
	}
	t.Logf("%d turns, %d requests, %d distinct tokens, %d metadata fetches, cache %+v", turns, len(reqs), len(distinct), md.Requests("metadata-token"), st)
}
