// Command byokcred gives the GitHub Copilot SDK real credentials for its BYOK
// model providers. See the README for the config file and the commands.
//
// It is the stock build: the command line (package cli) with the built-in
// credential kinds. A custom build is this file plus imports of its own
// kinds; see examples/custom-build.
package main

import (
	"github.com/byokcred/byokcred/cli"

	// The built-in credential kinds. A custom build adds its own here.
	_ "github.com/byokcred/byokcred/auth/aws"
	_ "github.com/byokcred/byokcred/auth/entra"
	_ "github.com/byokcred/byokcred/auth/gcp"
	_ "github.com/byokcred/byokcred/auth/plugin"
	_ "github.com/byokcred/byokcred/auth/static"

	// The built-in secret stores of static's api_key_secret and
	// bearer_token_secret.
	_ "github.com/byokcred/byokcred/secretstore/awssecretsmanager"
	_ "github.com/byokcred/byokcred/secretstore/azurekeyvault"
	_ "github.com/byokcred/byokcred/secretstore/googlesecretmanager"
)

func main() { cli.Main() }
