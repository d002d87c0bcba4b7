package entra

import "github.com/byokcred/byokcred/credential"

// CredentialKind implements kind.CredentialKinder: every token is a bearer
// token.
func (*Auth) CredentialKind() credential.Kind { return credential.KindBearer }

// ActsForEachUser implements kind.UserActor: on_behalf_of exchanges each
// user's token.
func (a *Auth) ActsForEachUser() bool { return a.kind() == "on_behalf_of" }
