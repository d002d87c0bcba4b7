package host

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/credential"
	pb "github.com/byokcred/byokcred/plugins/proto"

	"github.com/byokcred/byokcred/plugins/internal/wire"
)

// source is one provider's view of a plugin.
type source struct {
	inst     *instance
	provider string
	config   map[string]any
	scrub    func(string) string // nil: errors as they are

	// sem serialises Configure for this provider, without blocking a
	// caller past its ctx.
	sem chan struct{}

	mu     sync.Mutex
	gen    uint64 // generation of the process that remote belongs to
	remote *wire.RemoteSource
}

var _ credential.TokenSource = (*source)(nil)

// Token asks the plugin for a token, starting or restarting the process and
// configuring this provider in it as needed. Every error is an [*Error].
func (s *source) Token(ctx context.Context) (*credential.Token, error) {
	return s.TokenFor(ctx, credential.Secret{})
}

// Check starts the plugin if needed and configures this provider in it,
// fetching no token: the plugin checks the provider's `config:` block
// (unknown keys, wrong types, missing values) in Configure, so a typo shows
// at validate time rather than at the first model request. Errors are as
// Token's.
func (s *source) Check(ctx context.Context) error {
	err := func() error {
		p, err := s.inst.acquire(ctx)
		if err != nil {
			return err
		}
		_, err = s.configured(ctx, p)
		return err
	}()
	if err == nil {
		return nil
	}
	if s.scrub != nil {
		err = &scrubbedError{msg: s.scrub(err.Error()), err: err}
	}
	return &Error{Plugin: s.inst.name, Provider: s.provider, Err: err}
}

// TokenFor asks the plugin for a token on behalf of the user whose token is
// subject (zero: the provider's own identity). The plugin must have
// announced the provider's config as per-user; otherwise the user's token is
// not sent.
func (s *source) TokenFor(ctx context.Context, subject credential.Secret) (*credential.Token, error) {
	tok, err := s.token(ctx, subject)
	if err != nil {
		msg := err.Error()
		if !subject.IsZero() {
			msg = strings.ReplaceAll(msg, subject.Reveal(), "[user token]")
		}
		if s.scrub != nil {
			msg = s.scrub(msg)
		}
		if s.scrub != nil || !subject.IsZero() {
			err = &scrubbedError{msg: msg, err: err}
		}
		return nil, &Error{Plugin: s.inst.name, Provider: s.provider, Err: err}
	}
	return tok, nil
}

func (s *source) token(ctx context.Context, subject credential.Secret) (*credential.Token, error) {
	p, err := s.inst.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := s.configured(ctx, p)
	if err != nil {
		return nil, err
	}
	s.inst.relay.begin()
	var resp *pb.GetTokenResponse
	err = s.inst.call(ctx, p, "get token", func(cctx context.Context) error {
		var err error
		if subject.IsZero() {
			resp, err = rs.Fetch(cctx)
		} else {
			resp, err = rs.FetchFor(cctx, subject)
		}
		return err
	})
	// Known now, so redacted from every line the plugin wrote meanwhile,
	// even when the token turns out to be unusable.
	s.inst.relay.end(resp.GetValue(), subject.Reveal())
	if err != nil {
		return nil, err
	}
	tok, err := wire.TokenFromProto(resp)
	if err != nil {
		return nil, err
	}
	if err := wire.CheckExpiry(tok, time.Now()); err != nil {
		return nil, err
	}
	return tok, nil
}

// configured returns this provider's handle in process p, sending
// Configure first if p is a process it has not been configured in (the first
// call, or the first after a restart).
func (s *source) configured(ctx context.Context, p *process) (*wire.RemoteSource, error) {
	if rs := s.current(p); rs != nil {
		return rs, nil
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.sem }()
	if rs := s.current(p); rs != nil {
		return rs, nil // configured by the caller we waited for
	}
	var rs *wire.RemoteSource
	err := s.inst.call(ctx, p, "configure", func(cctx context.Context) error {
		var err error
		rs, err = p.cred.ConfigureRemote(cctx, s.provider, s.config)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.gen, s.remote = p.gen, rs
	s.mu.Unlock()
	s.inst.log.Debug("provider configured in plugin", "provider", s.provider, "pid", p.pid)
	return rs, nil
}

func (s *source) current(p *process) *wire.RemoteSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.remote != nil && s.gen == p.gen {
		return s.remote
	}
	return nil
}
