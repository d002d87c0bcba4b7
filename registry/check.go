package registry

import (
	"context"
)

// Check asks every source that can (kind.Result.Check) to confirm its provider's
// configuration with its issuer — for a plugin, its `config:` block — and
// returns the problems as a config.ErrorList at each provider's `auth:`
// block. Providers that share a source are checked once. It fetches no
// credential.
func (s *Set) Check(ctx context.Context) error {
	seen := map[string]bool{}
	for _, name := range s.Names() {
		p := s.providers[name]
		if p.result.Check == nil || seen[p.key] {
			continue
		}
		seen[p.key] = true
		if err := p.result.Check(ctx); err != nil {
			s.Config.Doc.Errorf(p.Path()+".auth", "%v", err)
		}
	}
	return s.Config.Doc.Err()
}
