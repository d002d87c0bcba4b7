// Command custom-build is a custom byokcred: the stock command line with
// one more credential kind, examples/custom-auth/gatewayauth, so that
// `byokcred validate`, `token`, `chat`, `proxy` … accept `auth.type:
// gateway`. A team's own build is this file with its own imports:
//
//	go build -o byokcred ./examples/custom-build
package main

import (
	"github.com/byokcred/byokcred/cli"

	// The built-in credential kinds and secret stores, as the stock
	// byokcred has them.
	_ "github.com/byokcred/byokcred/builtin"

	// The team's own kind.
	_ "github.com/byokcred/byokcred/examples/custom-auth/gatewayauth"
)

func main() { cli.Main() }
