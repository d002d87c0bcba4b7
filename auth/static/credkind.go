package static

import "github.com/byokcred/byokcred/credential"

// CredentialKind implements kind.CredentialKinder: the key that is set says
// whether the credential is an API key or a bearer token.
func (a *Auth) CredentialKind() credential.Kind {
	_, opts, _ := a.options()
	return opts.Kind
}
