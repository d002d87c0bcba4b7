package session_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	copilot "github.com/github/copilot-sdk/go"
	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/copilotcli"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/plugintest"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"

	// Every built-in credential kind and secret store, as the stock
	// byokcred has them.
	_ "github.com/byokcred/byokcred/builtin"
)

// rt is one real Copilot CLI runtime shared by the package's end-to-end
// tests: a runtime process is ~300 MB, and sessions are cheap.
var rt *copilotcli.Runtime

func TestMain(m *testing.M) {
	code := func() int {
		flag.Parse()
		if !testing.Short() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var err error
			rt, err = copilotcli.Start(ctx, copilotcli.Options{})
			if err != nil {
				// The e2e tests are the point of this package: fail, never skip.
				fmt.Fprintln(os.Stderr, "session e2e:", err)
				return 1
			}
			defer rt.Close()
			defer closeNationalRuntime()
		}
		defer plugintest.Cleanup()
		return m.Run()
	}()
	os.Exit(code)
}

func needRuntime(t *testing.T) {
	t.Helper()
	if rt == nil {
		t.Skip("-short: no Copilot runtime")
	}
}

// openSession opens a tool-free session on the named provider with the
// shared runtime; it is disconnected when the test ends.
func openSession(t *testing.T, ctx context.Context, set *registry.Set, name string) *copilot.Session {
	t.Helper()
	cfg, err := session.NewFactory(set, session.Options{}).SessionConfig(ctx, name, session.ToolFree())
	if err != nil {
		t.Fatal(err)
	}
	s, err := rt.Client.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Disconnect() })
	return s
}

// turnsUntil sends turns on s, pause apart (real time must pass for real
// tokens to expire), until at least minTurns were sent and done reports
// what the test waits for (tokens rotated): a run lasts as long as its
// tokens take to rotate, not a fixed number of turns. It stops at
// maxTurns so that a run whose tokens never rotate ends and its checks
// fail. It returns the number of turns sent.
func turnsUntil(t *testing.T, ctx context.Context, s *copilot.Session, pause time.Duration, minTurns, maxTurns int, done func() bool) int {
	t.Helper()
	n := 0
	for ; n < maxTurns && (n < minTurns || !done()); n++ {
		if n > 0 {
			time.Sleep(pause)
		}
		if _, err := session.Reply(ctx, s, fmt.Sprintf("turn %d", n)); err != nil {
			t.Fatalf("turn %d failed: %v", n, err)
		}
	}
	return n
}

// distinctAuthorizations counts the different Authorization headers among
// reqs.
func distinctAuthorizations(reqs []fakemodel.Request) int {
	seen := map[string]bool{}
	for _, r := range reqs {
		seen[r.Header.Get("Authorization")] = true
	}
	return len(seen)
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "byokcred.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// wantRequest is what a test checks of each request the runtime sent.
type wantRequest struct {
	Path, RawQuery, Header, Credential, Model string
}

func TestStaticProvidersEndToEnd(t *testing.T) {
	t.Parallel()
	needRuntime(t)
	const key = "sk-e2e-CANARY-0123456789abcdef"
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		provider  string // YAML under the provider name, {{URL}} replaced
		streaming bool
		want      wantRequest
	}{
		{
			name:     "openai completions with api_key_env",
			provider: "type: openai\nbase_url: {{URL}}/v1\nmodel: gpt-4.1\nauth: {type: static, api_key_env: TEST_KEY}",
			want:     wantRequest{Path: "/v1/chat/completions", Header: "Authorization", Credential: key, Model: "gpt-4.1"},
		},
		{
			name:      "openai responses streaming with api_key_file",
			provider:  "type: openai\nbase_url: {{URL}}/v1\nwire_api: responses\nmodel: gpt-5\nauth: {type: static, api_key_file: " + keyFile + "}",
			streaming: true,
			want:      wantRequest{Path: "/v1/responses", Header: "Authorization", Credential: key, Model: "gpt-5"},
		},
		{
			name:     "azure v1 route with api key",
			provider: "type: azure\nbase_url: {{URL}}\nmodel: gpt-4.1\nwire_model: my-deployment\nauth: {type: static, api_key: '${TEST_KEY}'}",
			want:     wantRequest{Path: "/openai/v1/chat/completions", Header: "api-key", Credential: key, Model: "my-deployment"},
		},
		{
			name:     "azure deployment route with bearer token",
			provider: "type: azure\nbase_url: {{URL}}\napi_version: 2024-10-21\nmodel: gpt-4.1\nwire_model: dep1\nauth: {type: static, bearer_token_env: TEST_KEY}",
			want:     wantRequest{Path: "/openai/deployments/dep1/chat/completions", RawQuery: "api-version=2024-10-21", Header: "Authorization", Credential: key, Model: "dep1"},
		},
		{
			name:     "anthropic with api key",
			provider: "type: anthropic\nbase_url: {{URL}}\nmodel: claude-sonnet-4\nauth: {type: static, api_key_env: TEST_KEY}",
			want:     wantRequest{Path: "/v1/messages", Header: "x-api-key", Credential: key, Model: "claude-sonnet-4"},
		},
		{
			name:     "anthropic with bearer token",
			provider: "type: anthropic\nbase_url: {{URL}}\nmodel: claude-sonnet-4\nauth: {type: static, bearer_token_file: " + keyFile + "}",
			want:     wantRequest{Path: "/v1/messages", Header: "Authorization", Credential: key, Model: "claude-sonnet-4"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reply := "reply for " + tc.name
			fake, err := fakemodel.Start(fakemodel.Options{Reply: reply})
			if err != nil {
				t.Fatal(err)
			}
			defer fake.Close()
			yaml := "providers:\n  p:\n    " + strings.ReplaceAll(strings.ReplaceAll(tc.provider, "{{URL}}", fake.URL), "\n", "\n    ") + "\n"
			set, err := registry.Load(writeConfig(t, yaml), registry.Options{LookupEnv: envMap(map[string]string{"TEST_KEY": key})})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			defer set.Close()
			base := session.ToolFree()
			base.Streaming = &tc.streaming
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cfg, err := session.NewFactory(set, session.Options{}).SessionConfig(ctx, "p", base)
			if err != nil {
				t.Fatal(err)
			}
			s, err := rt.Client.CreateSession(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Disconnect()
			got, err := session.Reply(ctx, s, "say hello")
			if err != nil {
				t.Fatal(err)
			}
			if got != reply {
				t.Errorf("reply = %q, want %q", got, reply)
			}
			reqs := fake.Requests()
			if len(reqs) == 0 {
				t.Fatal("the fake endpoint received no request")
			}
			for i, r := range reqs {
				h, v := r.Credential()
				gotReq := wantRequest{Path: r.Path, RawQuery: r.RawQuery, Header: h, Credential: v, Model: r.Model}
				if diff := cmp.Diff(tc.want, gotReq); diff != "" {
					t.Errorf("request %d (-want +got):\n%s", i, diff)
				}
			}
		})
	}
}
