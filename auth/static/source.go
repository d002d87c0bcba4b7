package static

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/byokcred/byokcred/provider"
	"github.com/byokcred/byokcred/secretfile"
)

// SourceOptions configures a [Source]. Exactly one of Value, Env and
// File is set.
type SourceOptions struct {
	// Kind is provider.KindAPIKey or provider.KindBearer.
	Kind provider.Kind
	// Value is a literal credential (already expanded by the config loader).
	Value provider.Secret
	// Env names an environment variable holding the credential.
	Env string
	// File is a path to a file holding the credential. The file is re-read
	// whenever it changes, so a key can be rotated without a restart. It must
	// not be readable by group or others.
	File string

	// LookupEnv replaces os.LookupEnv (tests).
	LookupEnv func(string) (string, bool)
	// Stat and ReadFile replace os.Stat and [secretfile.ReadBytes] (tests).
	Stat     func(string) (fs.FileInfo, error)
	ReadFile func(string) ([]byte, error)
	// Now is the clock that decides whether a bearer JWT has expired
	// (default time.Now).
	Now func() time.Time
}

// Source serves a configured credential: an API key, or a bearer
// token. A file-backed source follows the file's changes. A bearer token that
// is a JWT expires at its `exp` claim: once it has, Token returns an error
// instead of a token every server would refuse. API keys are never parsed.
type Source struct {
	opts SourceOptions

	mu      sync.Mutex
	tok     *provider.Token
	modTime time.Time
	size    int64
}

var _ provider.TokenSource = (*Source)(nil)

// NewSource checks opts and reads the credential once, so that a
// missing variable, an unreadable file or a value that cannot be sent in an
// HTTP header is reported at load time. An expired JWT is not a load error
// (it fails on use, naming where it came from), so that one stale token does
// not stop every other provider in the file from loading.
func NewSource(opts SourceOptions) (*Source, error) {
	if opts.Kind != provider.KindAPIKey && opts.Kind != provider.KindBearer {
		return nil, errors.New("static: static source needs a kind (api key or bearer)")
	}
	set := 0
	for _, b := range []bool{!opts.Value.IsZero(), opts.Env != "", opts.File != ""} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New("static: static source needs exactly one of a literal value, an environment variable or a file")
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Stat == nil {
		opts.Stat = os.Stat
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Source{opts: opts}
	var err error
	switch {
	case !opts.Value.IsZero():
		s.tok, err = s.token(opts.Value)
	case opts.Env != "":
		v, ok := opts.LookupEnv(opts.Env)
		if !ok {
			return nil, fmt.Errorf("static: environment variable %s is not set; export it or change the config", opts.Env)
		}
		if v == "" {
			return nil, fmt.Errorf("static: environment variable %s is empty", opts.Env)
		}
		s.tok, err = s.token(provider.NewSecret(v))
	default:
		_, err = s.current()
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// origin names where the credential comes from, for errors (never the value).
func (s *Source) origin() string {
	switch {
	case s.opts.Env != "":
		return "environment variable " + s.opts.Env
	case s.opts.File != "":
		return "secret file " + s.opts.File
	case s.opts.Kind == provider.KindBearer:
		return "the bearer_token value"
	default:
		return "the api_key value"
	}
}

// token checks v and wraps it, reading a bearer JWT's expiry.
func (s *Source) token(v provider.Secret) (*provider.Token, error) {
	if doc := jsonDocument(v.Reveal()); doc != "" {
		return nil, fmt.Errorf("static: %s holds %s, not a key: keep the one key alone there (json_key, which picks a field, applies to api_key_secret and bearer_token_secret)", s.origin(), doc)
	}
	if err := provider.CheckHeaderValue(v.Reveal(), s.opts.Kind); err != nil {
		return nil, fmt.Errorf("static: %s: %w", s.origin(), err)
	}
	tok := &provider.Token{Value: v, Kind: s.opts.Kind}
	if s.opts.Kind == provider.KindBearer {
		// The cache's rule for a token that states no expiry (see
		// jwtExpiry), so both kinds of source read a JWT alike.
		exp, err := provider.JWTExpiry(v)
		if err != nil {
			return nil, fmt.Errorf("static: %s: %w", s.origin(), err)
		}
		tok.Expiry = exp
	}
	return tok, nil
}

// Token returns the credential. For a file-backed source it stats the file
// and re-reads it when its size or modification time changed; if the file
// becomes unreadable the error is returned rather than a stale key, because a
// key that was rotated away is no longer valid either. An expired JWT is an
// error for the same reason.
func (s *Source) Token(ctx context.Context) (*provider.Token, error) {
	tok, err := s.current()
	if err != nil {
		return nil, err
	}
	if tok.Expired(s.opts.Now()) {
		return nil, fmt.Errorf("static: the JWT in %s expired at %s; put a fresh token there", s.origin(), tok.Expiry.UTC().Format(time.RFC3339))
	}
	return tok, nil
}

// current returns the credential, re-reading a file that changed.
func (s *Source) current() (*provider.Token, error) {
	if s.opts.File == "" {
		return s.tok, nil
	}
	fi, err := s.opts.Stat(s.opts.File)
	if err != nil {
		return nil, fmt.Errorf("static: secret file: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && fi.ModTime().Equal(s.modTime) && fi.Size() == s.size {
		return s.tok, nil
	}
	v, err := secretfile.Read(s.opts.File, fi, s.opts.ReadFile)
	if err != nil {
		return nil, err
	}
	tok, err := s.token(v)
	if err != nil {
		return nil, err
	}
	s.tok = tok
	s.modTime, s.size = fi.ModTime(), fi.Size()
	return s.tok, nil
}
