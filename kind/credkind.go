package kind

import "github.com/byokcred/byokcred/credential"

// CredentialKinder is implemented by auth configs that know, from the
// config alone, which kind of credential their source hands out (an API key
// or a bearer token): static knows from its key, Entra ID, AWS and Google
// always give bearer tokens. `byokcred copilot-env` uses it to print the
// Copilot CLI's variables without fetching a token it does not print; a
// kind that knows only once it has a token (a plugin) does not implement it.
type CredentialKinder interface {
	CredentialKind() credential.Kind
}
