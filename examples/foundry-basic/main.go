// Command foundry-basic is the Copilot SDK guide's "Azure Managed Identity"
// basic example on byokcred: one session against Azure AI Foundry with an
// Entra ID token from DefaultAzureCredential (a managed identity in Azure,
// your `az login` on a laptop).
//
//	export AZURE_AI_FOUNDRY_RESOURCE_URL=https://my-resource.openai.azure.com
//	go run ./examples/foundry-basic
//
// Unlike the guide, the token is not captured once: the session asks
// byokcred's cache before every request, so it keeps working past the
// token's one-hour lifetime.
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
)

const configYAML = `providers:
  foundry:
    type: openai
    base_url: ${AZURE_AI_FOUNDRY_RESOURCE_URL}/openai/v1
    wire_api: responses
    model: ${FOUNDRY_MODEL:-gpt-4.1}
    auth:
      type: entra
      credential: default
      scope: https://cognitiveservices.azure.com/.default
`

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, "What is 2+2?"); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer, prompt string) error {
	cfg, err := config.Parse("foundry-basic.yaml", []byte(configYAML), os.LookupEnv)
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

	sc, err := session.NewFactory(set, session.Options{}).SessionConfig(ctx, "foundry", session.ToolFree())
	if err != nil {
		return err
	}
	s, err := rt.Client.CreateSession(ctx, sc)
	if err != nil {
		return err
	}
	defer s.Disconnect()

	reply, err := session.Reply(ctx, s, prompt)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, reply)
	return nil
}
