// Command byokcred gives the GitHub Copilot SDK real credentials for its BYOK
// model providers. See the README for the config file and the commands.
//
// It is the stock build: the command line (package cli) with the built-in
// credential kinds and secret stores (package builtin). A custom build is
// this file plus imports of its own kinds; see examples/custom-build.
package main

import (
	"github.com/byokcred/byokcred/cli"

	// The built-in credential kinds and secret stores. A custom build adds
	// its own next to it.
	_ "github.com/byokcred/byokcred/builtin"
)

func main() { cli.Main() }
