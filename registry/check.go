package registry

import (
	"context"

	"github.com/byokcred/byokcred/kind"
)

// Check asks every source that can (Checker) to confirm its provider's
// configuration with its issuer — for a plugin, its `config:` block — and
// returns the problems as a config.ErrorList at each provider's `auth:`
// block. Providers that share a source are checked once. It fetches no
// credential.
func (s *Set) Check(ctx context.Context) error {
	seen := map[kind.Checker]bool{}
	for _, name := range s.Names() {
		p := s.providers[name]
		if p.check == nil || seen[p.check] {
			continue
		}
		seen[p.check] = true
		if err := p.check.Check(ctx); err != nil {
			s.Config.Doc.Errorf(p.Path()+".auth", "%v", err)
		}
	}
	return s.Config.Doc.Err()
}
