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

// UserActor is implemented by auth configs whose kind can act on behalf of
// each user (kind.Result.PerUser), saying from the config alone whether
// this one does: entra's on_behalf_of, a plugin's per_user. Commands that
// describe a config without building it (`byokcred copilot-env`, whose key
// command never has a user) refuse such a provider up front. The registry
// checks the answer against the Result the kind builds.
type UserActor interface {
	ActsForEachUser() bool
}
