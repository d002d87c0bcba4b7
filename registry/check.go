package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/byokcred/byokcred/config"
)

// Check asks every source that can (kind.Result.Check) to confirm its provider's
// configuration with its issuer — for a plugin, its `config:` block — and
// returns the problems as a config.ErrorList at each provider's `auth:`
// block. Providers that share a source are checked once. It fetches no
// credential. A code-built provider's problem (ProviderSpec.Check) has no
// place in a file: it is joined to the list, naming the provider.
func (s *Set) Check(ctx context.Context) error {
	seen := map[string]bool{}
	var code []error
	for _, name := range s.Names() {
		p := s.providers[name]
		if p.result.Check == nil || seen[p.key] {
			continue
		}
		seen[p.key] = true
		err := p.result.Check(ctx)
		switch {
		case err == nil:
		case p.hold != nil || s.Config.Doc == nil:
			code = append(code, fmt.Errorf("registry: provider %q: Check: %w", name, err))
		default:
			s.Config.Doc.Errorf(p.Path()+".auth", "%v", err)
		}
	}
	var fileErr error
	if s.Config.Doc != nil {
		fileErr = s.Config.Doc.Err()
	}
	if len(code) == 0 {
		return fileErr
	}
	return errors.Join(append([]error{fileErr}, code...)...)
}

// LoadChecked is Load followed by Set.Check, with every problem in one
// list, in file order (`byokcred validate`): when the file has problems,
// the providers whose own blocks have none are still built and checked,
// so a plugin's `config:` problems are reported beside the rest instead of
// once the rest is fixed; what was built for that is closed. The set is
// returned only when there is no problem; the caller closes it.
func LoadChecked(ctx context.Context, path string, opts Options) (*Set, error) {
	opts.defaults()
	cfg, err := config.Load(path, opts.LookupEnv)
	if cfg == nil {
		return nil, err
	}
	s, err := newSet(cfg, opts, nil, true)
	if s == nil {
		return nil, err
	}
	if err := s.Check(ctx); err != nil {
		s.abandon()
		return nil, err
	}
	return s, nil
}

// ErrNoCheck is Provider.Check's answer for a provider whose credential
// has no check of its own (kind.Result.Check, ProviderSpec.Check).
var ErrNoCheck = errors.New("registry: the provider's credential has no check of its own")

// Check confirms the provider's own credential with its issuer, without a
// user and without fetching the credential the provider serves: for a
// per-user provider (on-behalf-of), that the service's application
// credential is accepted. It runs the auth type's kind.Result.Check (a
// code-built provider's ProviderSpec.Check) and returns ErrNoCheck when
// there is none. Bound it with ctx: it may make a request to the issuer.
// Readiness probes (the admin address's /readyz) call it for per-user
// providers, which have no token of their own to fetch.
func (p *Provider) Check(ctx context.Context) error {
	if p.result.Check == nil {
		return ErrNoCheck
	}
	return p.result.Check(ctx)
}
