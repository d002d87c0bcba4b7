package session_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// Build the provider part of a Copilot SDK session config. The rest of the
// config — tools, permissions, streaming — stays the caller's.
func ExampleFactory_SessionConfig() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "byokcred.yaml")
	os.WriteFile(path, []byte(`providers:
  azure:
    type: azure
    base_url: https://my-resource.openai.azure.com
    model: gpt-4.1
    wire_model: my-deployment
    auth: {type: static, api_key: example-key}
  gateway:
    type: openai
    base_url: https://gateway.example/v1
    model: llama
    auth: {type: static, bearer_token: example-token}
`), 0o600)
	set, err := registry.Load(path, registry.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer set.Close()
	factory := session.NewFactory(set, session.Options{})
	ctx := context.Background()

	cfg, _ := factory.SessionConfig(ctx, "azure", session.ToolFree())
	fmt.Println(cfg.Model, cfg.Provider.Type, cfg.Provider.WireModel, "api key set:", cfg.Provider.APIKey != "")

	// Bearer credentials go through the per-request callback.
	cfg, _ = factory.SessionConfig(ctx, "gateway", nil)
	fmt.Println(cfg.Model, "callback:", cfg.Provider.BearerTokenProvider != nil, "static bearer:", cfg.Provider.BearerToken != "")
	// Output:
	// gpt-4.1 azure my-deployment api key set: true
	// llama callback: true static bearer: false
}
