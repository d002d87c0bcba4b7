// Package registry builds the providers byokcred serves: each an endpoint
// with its credential source behind a refresh-ahead token cache.
//
// Programs use it two ways, which mix. In code, NewProvider builds a
// provider from a ProviderSpec holding any credential.TokenSource (see the
// adapters under credential/), and NewSet puts providers in a Set. From a
// config file, Load (or NewLive, to follow edits of the file) builds a Set
// from the file's `auth:` blocks, each source behind the same cache; a file's
// set takes code-built providers beside its own (Options.Providers). A
// Set's Provider hands out tokens; session.NewFactory, the proxy and the
// agent take a Set. The credential kinds of a file, registered by the name
// used in `auth.type` the way database/sql drivers are, implement the API
// of package kind.
package registry

import (
	"github.com/byokcred/byokcred/internal/kindhost"
	"github.com/byokcred/byokcred/internal/unknownkind"
	"github.com/byokcred/byokcred/kind"
)

// newAuthConfig returns a zero config of the named auth type.
func newAuthConfig(name string) (kind.AuthConfig, error) {
	a, ok := kind.New(name)
	if !ok {
		return nil, unknownType(name, kind.Types())
	}
	return a, nil
}

func unknownType(name string, known []string) error {
	return unknownkind.Error("auth type", "auth types", name, known)
}

func missingType(known []string) error {
	return unknownkind.Missing("type", "auth types", "known auth types", known)
}

// buildHost is a set's side of one provider's kind.Build: it records the
// shared state the last Source call used, so that a source carried over by
// a reload takes its state along. Sub builds share their parent's host.
type buildHost struct {
	set  *Set
	used []string
}

func (h *buildHost) Config() any { return h.set.Config }

func (h *buildHost) Shared(key string, create func() any) any {
	h.used = append(h.used, key)
	return h.set.shared(key, create)
}

// newBuild returns the build an auth type of the set s sees.
func newBuild(s *Set) (*kind.Build, *buildHost) {
	h := &buildHost{set: s}
	return kindhost.NewBuild(h).(*kind.Build), h
}
