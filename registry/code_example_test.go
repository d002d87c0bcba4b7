package registry_test

import (
	"context"
	"fmt"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/registry"
)

// Build a provider in code from any credential source, with no config file:
// it gets the same refresh-ahead cache, and a set of such providers goes
// wherever a loaded one does (session.NewFactory, the proxy).
func ExampleNewProvider() {
	fetches := 0
	src := credential.TokenSourceFunc(func(context.Context) (*credential.Token, error) {
		fetches++ // your own store, vault client or SDK call
		return &credential.Token{Value: credential.NewSecret("eyJ-from-my-store"), Kind: credential.KindBearer, Expiry: time.Now().Add(time.Hour)}, nil
	})
	p, err := registry.NewProvider(registry.ProviderSpec{
		Name:    "gateway",
		Type:    "openai",
		BaseURL: "https://llm-gateway.example.com/v1",
		Model:   "gpt-4.1",
		Source:  src,
	}, registry.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	set, err := registry.NewSet(registry.SetSpec{Providers: []*registry.Provider{p}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer set.Close()

	gw, _ := set.Provider("") // the only provider
	for range 3 {
		tok, _ := gw.Token(context.Background())
		fmt.Println(gw.Name, gw.AuthType, tok.Kind, tok.Value)
	}
	fmt.Println("fetches:", fetches)
	// Output:
	// gateway code bearer [REDACTED]
	// gateway code bearer [REDACTED]
	// gateway code bearer [REDACTED]
	// fetches: 1
}

// A spec is checked by the rules of a config file's provider entry; every
// problem is reported at once, naming its field.
func ExampleNewProvider_errors() {
	_, err := registry.NewProvider(registry.ProviderSpec{
		Name:    "gateway",
		Type:    "openai",
		BaseURL: "https://llm-gateway.example.com/v1/chat/completions",
		WireAPI: "chat",
	}, registry.Options{})
	fmt.Println(err)
	// Output:
	// registry: provider "gateway": WireAPI: unknown wire_api "chat" (one of: completions, responses)
	// registry: provider "gateway": BaseURL: base_url ends in the endpoint path /chat/completions, which the runtime appends itself (requests would go to …/chat/completions/chat/completions): remove /chat/completions from base_url
	// registry: provider "gateway": Source: no token source; give one (credential.TokenSourceFunc, or an adapter such as credential/azadapt)
}
