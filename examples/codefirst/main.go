// Command codefirst runs one Copilot session over two providers built in
// Go, with no config file: an Azure AI Foundry model whose credential is an
// azidentity credential the program already holds, and an OpenAI-compatible
// gateway whose credential comes from an x/oauth2 client-credentials flow.
// byokcred puts each behind its refresh-ahead cache and hands the runtime a
// per-request token callback for each.
//
//	export AZURE_AI_FOUNDRY_RESOURCE_URL=https://my-resource.openai.azure.com
//	export GATEWAY_URL=https://llm-gateway.example.com/v1
//	export GATEWAY_TOKEN_URL=https://login.example.com/oauth2/token
//	export GATEWAY_CLIENT_ID=... GATEWAY_CLIENT_SECRET=...
//	go run ./examples/codefirst
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/byokcred/byokcred/copilotcli"
	"github.com/byokcred/byokcred/credential/azadapt"
	"github.com/byokcred/byokcred/credential/oauth2adapt"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// providers builds the two providers from what the program already holds.
func providers(ctx context.Context) (*registry.Set, error) {
	azCred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, err
	}
	foundry, err := registry.NewProvider(registry.ProviderSpec{
		Name:    "foundry",
		Type:    "azure",
		BaseURL: os.Getenv("AZURE_AI_FOUNDRY_RESOURCE_URL"),
		WireAPI: "responses",
		Model:   "gpt-4.1",
		Source:  azadapt.TokenSource(azCred, azadapt.CognitiveServicesScope),
		Kind:    "azidentity",
	}, registry.Options{})
	if err != nil {
		return nil, err
	}
	defer foundry.Close() // the set holds it from here on

	oauth := clientcredentials.Config{
		ClientID:     os.Getenv("GATEWAY_CLIENT_ID"),
		ClientSecret: os.Getenv("GATEWAY_CLIENT_SECRET"),
		TokenURL:     os.Getenv("GATEWAY_TOKEN_URL"),
	}
	gateway, err := registry.NewProvider(registry.ProviderSpec{
		Name:    "gateway",
		Type:    "openai",
		BaseURL: os.Getenv("GATEWAY_URL"),
		Model:   "llama-3.3-70b",
		Source:  oauth2adapt.TokenSource(oauth.TokenSource(ctx)),
		Kind:    "oauth2",
	}, registry.Options{})
	if err != nil {
		return nil, err
	}
	defer gateway.Close()

	return registry.NewSet(registry.SetSpec{
		Providers:    []*registry.Provider{foundry, gateway},
		DefaultModel: "foundry/gpt-4.1",
	})
}

func run(ctx context.Context, out io.Writer) error {
	set, err := providers(ctx)
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
		{"foundry/gpt-4.1", "Name one risk of long-lived API keys."},
		{"gateway/llama-3.3-70b", "Suggest one fix for it."},
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
