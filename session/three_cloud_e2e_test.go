package session_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakeaws"
	"github.com/byokcred/byokcred/internal/testkit/fakebedrock"
	"github.com/byokcred/byokcred/internal/testkit/fakegcp"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// TestThreeCloudSession runs one session over Azure AI Foundry (Entra ID,
// managed identity), Amazon Bedrock (a key minted from AWS container
// credentials) and Vertex AI (a Google access token from the metadata
// server), keyless on all three clouds, switching provider between turns.
// Each endpoint accepts only its own cloud's credential — the Entra fake
// checks tokens its identity endpoint minted, the Bedrock fake recomputes
// each key's SigV4 signature, the Vertex fake checks tokens its metadata
// server minted — so any credential reaching the wrong endpoint fails the
// turn; and no endpoint sees another's credential in any header.
func TestThreeCloudSession(t *testing.T) {
	needRuntime(t)
	f := newEntraFixture(t, time.Hour) // foundry
	creds, err := fakeaws.Start(fakeaws.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { creds.Close() })
	creds.Setenv(t)
	bedrock, err := fakebedrock.Start(fakebedrock.Options{Region: "us-east-1", Lookup: creds.Lookup, Reply: "from bedrock"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bedrock.Close() })
	md, err := fakegcp.Start(fakegcp.Options{Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { md.Close() })
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	md.Setenv(t)
	var vertexRefused atomic.Int64
	vertex, err := fakemodel.Start(fakemodel.Options{Reply: "from vertex", Check: func(r *fakemodel.Request) int {
		if err := md.CheckRequest(r); err != nil {
			vertexRefused.Add(1)
			return http.StatusUnauthorized
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vertex.Close() })

	set, err := registry.Load(writeConfig(t, fmt.Sprintf(`providers:
  foundry:
    type: azure
    base_url: %s
    auth: {type: entra, credential: managed_identity, scope: %s}
  bedrock:
    type: openai
    base_url: %s
    auth: {type: aws, region: us-east-1}
  vertex:
    type: openai
    base_url: %s/v1/projects/byok-test-project/locations/us-central1/endpoints/openapi
    auth: {type: gcp}
models:
  - {id: gpt-4.1, provider: foundry, wire_model: dep-41}
  - {id: gpt-oss-120b, provider: bedrock, wire_model: openai.gpt-oss-120b-1:0}
  - {id: gemini-flash, provider: vertex, wire_model: google/gemini-2.5-flash}
default_model: foundry/gpt-4.1
`, f.model.URL, f.scope, bedrock.BaseURL(), vertex.URL)), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	factory := session.NewFactory(set, session.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := factory.MultiSessionConfig(ctx, "", session.ToolFree())
	if err != nil {
		t.Fatal(err)
	}
	s, err := rt.Client.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()
	var replies []string
	for _, ref := range []string{"", "bedrock/gpt-oss-120b", "vertex/gemini-flash", "foundry/gpt-4.1"} {
		if ref != "" {
			if err := factory.SwitchModel(ctx, s, ref); err != nil {
				t.Fatal(err)
			}
		}
		r, err := session.Reply(ctx, s, "hi")
		if err != nil {
			t.Fatalf("turn on %q: %v", ref, err)
		}
		replies = append(replies, r)
	}
	if diff := cmp.Diff([]string{"ok", "from bedrock", "from vertex", "ok"}, replies); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}
	if f.bad.Load() != 0 || vertexRefused.Load() != 0 || len(bedrock.Rejected()) != 0 {
		t.Errorf("refused: foundry %d, vertex %d, bedrock %v", f.bad.Load(), vertexRefused.Load(), bedrock.Rejected())
	}

	// What each endpoint saw: its own path, wire model and credential.
	type seen struct{ Path, Model string }
	got := map[string][]seen{}
	headers := map[string]string{}
	for name, srv := range map[string]*fakemodel.Server{"foundry": f.model, "bedrock": bedrock.Server, "vertex": vertex} {
		for _, r := range srv.Requests() {
			got[name] = append(got[name], seen{r.Path, r.Model})
			headers[name] += fmt.Sprint(r.Header)
		}
	}
	want := map[string][]seen{
		"foundry": {{"/openai/v1/chat/completions", "dep-41"}, {"/openai/v1/chat/completions", "dep-41"}},
		"bedrock": {{"/openai/v1/chat/completions", "openai.gpt-oss-120b-1:0"}},
		"vertex":  {{"/v1/projects/byok-test-project/locations/us-central1/endpoints/openapi/chat/completions", "google/gemini-2.5-flash"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests per endpoint (-want +got):\n%s", diff)
	}
	own := map[string][]string{}
	for _, is := range f.idp.Issued() {
		own["foundry"] = append(own["foundry"], is.Token)
	}
	own["bedrock"] = bedrock.Accepted()
	for _, is := range md.Issued() {
		own["vertex"] = append(own["vertex"], is.Token)
	}
	for name, h := range headers {
		for other, toks := range own {
			if other == name {
				continue
			}
			for _, tok := range toks {
				if strings.Contains(h, tok) {
					t.Errorf("%s received a credential of %s", name, other)
				}
			}
		}
	}
}
