package session_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	awsauth "github.com/byokcred/byokcred/auth/aws"
	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/internal/testkit/fakebedrock"
	"github.com/byokcred/byokcred/registry"
)

// TestBedrockSessionAcrossCredentialRotation runs one session on a Bedrock
// provider while the container-credentials endpoint hands out short-lived
// temporary credentials: every request must carry a key the fake Bedrock
// verifies (signature recomputed with the secret, region, expiry, session
// token), keys must be signed with rotating credentials, no turn may fail.
func TestBedrockSessionAcrossCredentialRotation(t *testing.T) {
	needRuntime(t)
	// The SDK treats container credentials as expiring 5 minutes early, so
	// credentials for 5 min 4 s give keys of about 4 s, as the Entra and
	// Vertex tests' tokens.
	creds, err := fakeaws.Start(fakeaws.Options{Lifetime: 5*time.Minute + 4*time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { creds.Close() })
	creds.Setenv(t)
	bedrock, err := fakebedrock.Start(fakebedrock.Options{Region: "us-east-1", Lookup: creds.Lookup, Reply: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bedrock.Close() })
	cfgPath := writeConfig(t, fmt.Sprintf(`providers:
  bedrock:
    type: openai
    base_url: %s
    model: openai.gpt-oss-120b-1:0
    auth:
      type: aws
      region: us-east-1
`, bedrock.BaseURL()))
	set, err := registry.Load(cfgPath, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := openSession(t, ctx, set, "bedrock")
	// Keys age across turns until 3 credential sets signed them (about
	// 4 s of turns, not a fixed 6 turns).
	turns := turnsUntil(t, ctx, s, 1500*time.Millisecond, 3, 12, func() bool { return len(signersOf(t, bedrock.Accepted())) >= 3 })
	for _, r := range bedrock.Rejected() {
		t.Errorf("Bedrock refused a key at %s: %s", r.Time.Format(time.StampMilli), r.Reason)
	}
	reqs := bedrock.Requests()
	if len(reqs) < turns {
		t.Errorf("%d requests for %d turns", len(reqs), turns)
	}
	for _, r := range reqs {
		if r.Path != "/openai/v1/chat/completions" || r.Model != "openai.gpt-oss-120b-1:0" || r.Status != http.StatusOK {
			t.Errorf("request %s model %q answered %d; want /openai/v1/chat/completions, openai.gpt-oss-120b-1:0, 200", r.Path, r.Model, r.Status)
		}
	}
	signers := signersOf(t, bedrock.Accepted())
	if len(signers) < 3 {
		t.Errorf("keys were signed by %d credential sets over %d requests: the underlying credentials did not rotate", len(signers), len(reqs))
	}
	p, _ := set.Provider("bedrock")
	st := p.Cache.Stats()
	if st.Waits != 1 {
		t.Errorf("%d waits for a key, want 1 (the cold start)", st.Waits)
	}
	t.Logf("%d turns, %d requests, %d credential sets used of %d issued, cache %+v", turns, len(reqs), len(signers), len(creds.Issued()), st)
}

// signersOf returns the access key ids that signed keys.
func signersOf(t *testing.T, keys []string) map[string]bool {
	t.Helper()
	signers := map[string]bool{}
	for _, k := range keys {
		info, _, err := awsauth.ParseKey(k)
		if err != nil {
			t.Fatal(err)
		}
		signers[info.AccessKeyID] = true
	}
	return signers
}
