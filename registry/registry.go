// Package registry maps the `auth:` blocks of a config file to token sources.
//
// Programs use it: Load (or NewLive, to follow edits of the file) builds a
// Set, whose Provider hands out tokens. The credential kinds it builds them
// with, registered by the name used in `auth.type` the way database/sql
// drivers are, implement the API of package kind.
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
