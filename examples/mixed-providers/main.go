// Command mixed-providers runs one Copilot session over an Azure AI Foundry
// model (Entra ID) and an Anthropic model (API key): a plan is drafted on one
// provider and reviewed on the other, in the same conversation.
//
//	export AZURE_AI_FOUNDRY_RESOURCE_URL=https://my-resource.openai.azure.com
//	export ANTHROPIC_API_KEY=...
//	go run ./examples/mixed-providers
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/copilotcli"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"

	// The credential kinds its configs use.
	_ "github.com/byokcred/byokcred/auth/entra"
	_ "github.com/byokcred/byokcred/auth/static"
)

const configYAML = `providers:
  foundry:
    type: azure
    base_url: ${AZURE_AI_FOUNDRY_RESOURCE_URL}
    wire_api: responses
    auth: {type: entra, credential: default}
  anthropic:
    type: anthropic
    base_url: ${ANTHROPIC_BASE_URL:-https://api.anthropic.com}
    auth: {type: static, api_key_env: ANTHROPIC_API_KEY}
models:
  - {id: gpt-4.1, provider: foundry, name: GPT-4.1 (Foundry)}
  - {id: claude-sonnet-4, provider: anthropic}
default_model: foundry/gpt-4.1
`

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	cfg, err := config.Parse("mixed.yaml", []byte(configYAML), os.LookupEnv)
	if err != nil {
		return err
	}
	set, err := registry.New(cfg, registry.Options{})
	if err != nil {
		return err
	}
	defer set.Close()
	rt, err := copilotcli.Start(ctx, copilotcli.Options{})
	if err != nil {
		return err
	}
	defer rt.Close()

	factory := session.NewFactory(set, session.Options{})
	sc, err := factory.MultiSessionConfig(ctx, "", session.ToolFree())
	if err != nil {
		return err
	}
	s, err := rt.Client.CreateSession(ctx, sc)
	if err != nil {
		return err
	}
	defer s.Disconnect()

	for _, step := range []struct{ model, prompt string }{
		{"foundry/gpt-4.1", "Draft a three-step plan to rotate our API keys."},
		{"anthropic/claude-sonnet-4", "Review the plan above and point out one risk."},
	} {
		if err := factory.SwitchModel(ctx, s, step.model); err != nil {
			return err
		}
		reply, err := session.Reply(ctx, s, step.prompt)
		if err != nil {
			return fmt.Errorf("%s: %w", step.model, err)
		}
		fmt.Fprintf(out, "[%s] %s\n", step.model, reply)
	}
	return nil
}
