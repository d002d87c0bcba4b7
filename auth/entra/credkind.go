package entra

import "github.com/byokcred/byokcred/credential"

// CredentialKind implements kind.CredentialKinder: every token is a bearer
// token.
func (*Auth) CredentialKind() credential.Kind { return credential.KindBearer }
