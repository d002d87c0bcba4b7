// Command long-running is the Copilot SDK guide's long-running agent on
// byokcred. The guide creates a new session whenever its captured token is
// about to expire, losing the conversation each time; here one session
// chats for as long as you like, because every model request asks
// byokcred's cache for a currently valid token, and the cache refreshes it in
// the background before it expires.
//
//	export AZURE_AI_FOUNDRY_RESOURCE_URL=https://my-resource.openai.azure.com
//	go run ./examples/long-running -turns 120 -every 1m
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
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
    type: azure
    base_url: ${AZURE_AI_FOUNDRY_RESOURCE_URL}
    wire_api: responses
    model: ${FOUNDRY_MODEL:-gpt-4.1}
    auth:
      type: entra
      credential: %s
`

func main() {
	turns := flag.Int("turns", 120, "number of turns")
	every := flag.Duration("every", time.Minute, "pause between turns")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *turns, *every); err != nil {
		log.Fatal(err)
	}
}

// credentialKind picks the azidentity credential (default,
// managed_identity, azure_cli, …) from $AZURE_CREDENTIAL.
func credentialKind() string {
	if v := os.Getenv("AZURE_CREDENTIAL"); v != "" {
		return v
	}
	return "default"
}

func run(ctx context.Context, out io.Writer, turns int, every time.Duration) error {
	yaml := []byte(fmt.Sprintf(configYAML, credentialKind()))
	cfg, err := config.Parse("long-running.yaml", yaml, os.LookupEnv)
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

	p, _ := set.Provider("foundry")
	start := time.Now()
	for i := 1; i <= turns; i++ {
		reply, err := session.Reply(ctx, s, fmt.Sprintf("Turn %d: give me one line of status.", i))
		if err != nil {
			return fmt.Errorf("turn %d after %s: %w", i, time.Since(start).Round(time.Second), err)
		}
		st := p.Cache.Stats()
		fmt.Fprintf(out, "turn %d (%s): %s [token fetches %d, token expires in %s]\n",
			i, time.Since(start).Round(time.Second), reply, st.Fetches, time.Until(st.Expiry).Round(time.Second))
		if i < turns {
			select {
			case <-time.After(every):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}
