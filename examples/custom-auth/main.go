// Command custom-auth loads a config whose provider uses `auth.type:
// gateway`, a credential kind defined in a package of its own
// (./gatewayauth), and prints what the provider's credential looks like —
// masked, never the value.
//
//	go run ./examples/custom-auth byokcred.yaml
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/byokcred/byokcred/registry"

	// Registers `auth.type: gateway`, like a database/sql driver.
	_ "github.com/byokcred/byokcred/examples/custom-auth/gatewayauth"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: custom-auth CONFIG")
	}
	if err := run(context.Background(), os.Args[1], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, path string, out io.Writer) error {
	set, err := registry.Load(path, registry.Options{})
	if err != nil {
		return err // every problem, FILE:LINE:COL: message
	}
	defer set.Close()
	for _, name := range set.Names() {
		p, _ := set.Provider(name)
		tok, err := p.Token(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: auth %s, %s %s, expires in %s\n", name, p.AuthType, tok.Kind, tok.Value.Mask(), time.Until(tok.Expiry).Round(time.Minute))
	}
	return nil
}
