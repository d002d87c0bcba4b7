package session_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/plugintest"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// TestMultiProviderSessionRoutesAndIsolatesCredentials runs one session over
// three providers of different types and auth kinds (Entra ID, static key,
// plugin), switching model between
// turns, and checks each request reached the right endpoint with the right
// model name and credential, and that no credential reached another
// provider's endpoint.
func TestMultiProviderSessionRoutesAndIsolatesCredentials(t *testing.T) {
	needRuntime(t)
	f := newEntraFixture(t, time.Hour) // foundry: Entra ID via managed identity
	anthropic, err := fakemodel.Start(fakemodel.Options{Reply: "from anthropic"})
	if err != nil {
		t.Fatal(err)
	}
	defer anthropic.Close()
	gateway, err := fakemodel.Start(fakemodel.Options{Reply: "from gateway"})
	if err != nil {
		t.Fatal(err)
	}
	defer gateway.Close()
	const anthropicKey, gatewayToken = "sk-ant-CANARY-111111111111", "gw-CANARY-222222222222"
	execPlugin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, fmt.Sprintf(`plugins:
  printer: {command: %s, env: {PATH: /usr/bin:/bin}}
providers:
  foundry:
    type: azure
    base_url: %s
    auth: {type: entra, credential: managed_identity, scope: %s}
  anthropic:
    type: anthropic
    base_url: %s
    auth: {type: static, api_key_env: ANTHROPIC_KEY}
  gateway:
    type: openai
    base_url: %s/v1
    model: llama-3.3-70b
    auth: {type: plugin, plugin: printer, config: {command: /bin/echo, args: ["${GATEWAY_TOKEN}"], format: raw}}
models:
  - {id: gpt-4.1, provider: foundry, wire_model: dep-41, name: GPT-4.1 (Foundry)}
  - {id: claude-sonnet, provider: anthropic, wire_model: claude-sonnet-4-20250514}
default_model: foundry/gpt-4.1
`, execPlugin, f.model.URL, f.scope, anthropic.URL, gateway.URL))
	set, err := registry.Load(cfgPath, registry.Options{LookupEnv: envMap(map[string]string{"ANTHROPIC_KEY": anthropicKey, "GATEWAY_TOKEN": gatewayToken})})
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
	if cfg.Provider != nil || len(cfg.Providers) != 3 || cfg.Model != "foundry/gpt-4.1" {
		t.Fatalf("config: provider %v, %d providers, model %q", cfg.Provider, len(cfg.Providers), cfg.Model)
	}
	s, err := rt.Client.CreateSession(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Disconnect()

	steps := []struct{ model, reply string }{
		{"", "ok"}, // default model
		{"anthropic/claude-sonnet", "from anthropic"},
		{"gateway/llama-3.3-70b", "from gateway"},
		{"foundry/gpt-4.1", "ok"},
	}
	var replies []string
	for _, st := range steps {
		if st.model != "" {
			if err := factory.SwitchModel(ctx, s, st.model); err != nil {
				t.Fatal(err)
			}
		}
		r, err := session.Reply(ctx, s, "hi")
		if err != nil {
			t.Fatalf("turn on %q: %v", st.model, err)
		}
		replies = append(replies, r)
	}
	if diff := cmp.Diff([]string{"ok", "from anthropic", "from gateway", "ok"}, replies); diff != "" {
		t.Errorf("replies (-want +got):\n%s", diff)
	}

	foundryTokens := map[string]bool{}
	for _, is := range f.idp.Issued() {
		foundryTokens[is.Token] = true
	}
	type seen struct{ Path, Header, Model string }
	check := func(name string, srv *fakemodel.Server, want seen, own func(string) bool) {
		t.Helper()
		reqs := srv.Requests()
		if len(reqs) == 0 {
			t.Errorf("%s received no request", name)
		}
		for _, r := range reqs {
			h, v := r.Credential()
			if diff := cmp.Diff(want, seen{r.Path, h, r.Model}); diff != "" {
				t.Errorf("%s request (-want +got):\n%s", name, diff)
			}
			if !own(v) {
				t.Errorf("%s received a credential that is not its own", name)
			}
			for _, other := range []string{anthropicKey, gatewayToken} {
				if !own(other) && strings.Contains(fmt.Sprint(r.Header), other) {
					t.Errorf("%s received another provider's credential", name)
				}
			}
		}
	}
	check("foundry", f.model, seen{"/openai/v1/chat/completions", "Authorization", "dep-41"}, func(v string) bool { return foundryTokens[v] })
	check("anthropic", anthropic, seen{"/v1/messages", "x-api-key", "claude-sonnet-4-20250514"}, func(v string) bool { return v == anthropicKey })
	check("gateway", gateway, seen{"/v1/chat/completions", "Authorization", "llama-3.3-70b"}, func(v string) bool { return v == gatewayToken })
	if n := len(f.model.Requests()); n != 2 {
		t.Errorf("foundry got %d requests, want 2 (turns 1 and 4)", n)
	}

	if err := factory.SwitchModel(ctx, s, "claude-sonnet"); err == nil || !strings.Contains(err.Error(), "provider-qualified") {
		t.Errorf("bare id: err = %v", err)
	}
	if err := factory.SwitchModel(ctx, s, "anthropic/opus"); err == nil || !strings.Contains(err.Error(), "selectable: anthropic/claude-sonnet, foundry/gpt-4.1, gateway/llama-3.3-70b") {
		t.Errorf("unknown id: err = %v", err)
	}
}
