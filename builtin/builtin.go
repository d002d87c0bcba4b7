// Package builtin registers every credential kind and secret store that
// byokcred ships, so that a program accepts every `auth.type` and `store`
// the stock byokcred accepts:
//
//	import _ "github.com/byokcred/byokcred/builtin"
//
// cmd/byokcred is the command line plus this import; a custom build adds its
// own kinds next to it (see examples/custom-build). A program that wants
// fewer SDKs linked imports only the kinds it uses instead, one package each
// under auth/ and secretstore/.
//
// This is the one list of the built-ins: a new kind or store under auth/ or
// secretstore/ is added here, and internal/layering fails until it is;
// make schema then regenerates from it the JSON Schema and the packages
// that unknown-type errors name (internal/unknownkind).
package builtin

import (
	// The credential kinds (auth.type).
	_ "github.com/byokcred/byokcred/auth/aws"
	_ "github.com/byokcred/byokcred/auth/entra"
	_ "github.com/byokcred/byokcred/auth/gcp"
	_ "github.com/byokcred/byokcred/auth/plugin"
	_ "github.com/byokcred/byokcred/auth/static"

	// The secret stores of static's api_key_secret and bearer_token_secret.
	_ "github.com/byokcred/byokcred/secretstore/awssecretsmanager"
	_ "github.com/byokcred/byokcred/secretstore/azurekeyvault"
	_ "github.com/byokcred/byokcred/secretstore/googlesecretmanager"

	"github.com/byokcred/byokcred/internal/unknownkind"
)

// Runs after every import above has registered.
func init() { unknownkind.BuiltinsLinked() }
