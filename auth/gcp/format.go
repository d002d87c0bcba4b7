package gcp

import "fmt"

// Format keeps the credentials file's content (a service-account key's
// private key) out of every fmt verb: %v, %+v, %#v and %s of a Source
// would otherwise print its options and the bytes it read (the kind kit,
// kindtest, found %s showing the key).
func (s *Source) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "gcp.Source{%s}", s.opts.describe())
}

// Format keeps CredentialsJSON out of every fmt verb.
func (o SourceOptions) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "gcp.SourceOptions{%s}", o.describe())
}

// describe names what the options use, never what a file holds.
func (o SourceOptions) describe() string {
	s := fmt.Sprintf("scopes: %v", o.Scopes)
	if o.CredentialsFile != "" {
		s += ", credentials_file: " + o.CredentialsFile
	} else if o.CredentialsJSON != nil {
		s += ", credentials: (set)"
	}
	if o.ImpersonateServiceAccount != "" {
		s += ", impersonate_service_account: " + o.ImpersonateServiceAccount
	}
	if o.Project != "" {
		s += ", project: " + o.Project
	}
	return s
}
