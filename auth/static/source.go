package static

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/credshape"
	"github.com/byokcred/byokcred/secretfile"
)

// SourceOptions configures a [Source]. Exactly one of Value, Env and
// File is set.
type SourceOptions struct {
	// Kind is credential.KindAPIKey or credential.KindBearer.
	Kind credential.Kind
	// Value is a literal credential (already expanded by the config loader).
	Value credential.Secret
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
	// Logger receives the warning when a changed file cannot be used and
	// the last good key stays in use (default slog.Default()).
	Logger *slog.Logger
}

// Source serves a configured credential: an API key, or a bearer
// token. A file-backed source follows the file's changes, keeping the last
// good key while the file cannot be used. A bearer token that
// is a JWT expires at its `exp` claim: once it has, Token returns an error
// instead of a token every server would refuse. API keys are never parsed.
type Source struct {
	opts SourceOptions

	mu      sync.Mutex
	tok     *credential.Token
	modTime time.Time
	size    int64
	// failed is the state of the file when it last could not be used, so
	// that the same bad state is neither re-read nor logged on every call;
	// any change to it (content, size, mode, the file coming back) is
	// tried again.
	failed *fileState
}

// fileState is what a stat says of the file: enough to tell that it
// changed.
type fileState struct {
	statFailed bool // missing, or its directory unreadable
	modTime    int64
	size       int64
	mode       fs.FileMode
}

var _ credential.TokenSource = (*Source)(nil)

// NewSource checks opts and reads the credential once, so that a
// missing variable, an unreadable file or a value that cannot be sent in an
// HTTP header is reported at load time. An expired JWT is not a load error
// (it fails on use, naming where it came from), so that one stale token does
// not stop every other provider in the file from loading.
func NewSource(opts SourceOptions) (*Source, error) {
	if opts.Kind != credential.KindAPIKey && opts.Kind != credential.KindBearer {
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
	if opts.Logger == nil {
		opts.Logger = slog.Default()
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
		s.tok, err = s.token(credential.NewSecret(v))
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
	case s.opts.Kind == credential.KindBearer:
		return "the bearer_token value"
	default:
		return "the api_key value"
	}
}

// token checks v and wraps it, reading a bearer JWT's expiry.
func (s *Source) token(v credential.Secret) (*credential.Token, error) {
	if doc := credshape.JSONDocument(v.Reveal()); doc != "" {
		return nil, fmt.Errorf("static: %s holds %s, not a key: keep the one key alone there (json_key, which picks a field, applies to api_key_secret and bearer_token_secret)", s.origin(), doc)
	}
	if err := credential.CheckHeaderValue(v.Reveal(), s.opts.Kind); err != nil {
		return nil, fmt.Errorf("static: %s: %w", s.origin(), err)
	}
	tok := &credential.Token{Value: v, Kind: s.opts.Kind}
	if s.opts.Kind == credential.KindBearer {
		// The cache's rule for a token that states no expiry (see
		// jwtExpiry), so both kinds of source read a JWT alike.
		exp, err := credential.JWTExpiry(v)
		if err != nil {
			return nil, fmt.Errorf("static: %s: %w", s.origin(), err)
		}
		tok.Expiry = exp
	}
	return tok, nil
}

// Token returns the credential. For a file-backed source it stats the file
// and re-reads it when its size or modification time changed. A file that
// cannot be used after a change — empty or half-written (truncate, then
// write: the common way to rewrite a file in place), missing, too big,
// readable by others, not a header value — keeps the last good key in use,
// as a secret store's outage does, with a warning naming the file; it is
// tried again as soon as it changes. Only a source that never read a good
// key fails. An expired JWT is an error: no server would take it.
func (s *Source) Token(ctx context.Context) (*credential.Token, error) {
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
func (s *Source) current() (*credential.Token, error) {
	if s.opts.File == "" {
		return s.tok, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, state, err := s.reread()
	if err == nil {
		s.failed = nil
		return tok, nil
	}
	if s.tok == nil {
		return nil, err
	}
	if s.failed == nil || *s.failed != state {
		s.failed = &state
		s.opts.Logger.Warn("static: the secret file changed but cannot be used; the last good key stays in use until it is fixed",
			"file", s.opts.File, "error", err.Error())
	}
	return s.tok, nil
}

// reread stats the file and, when it changed since the last good read and
// since the last failed one, reads it; s.mu is held.
func (s *Source) reread() (*credential.Token, fileState, error) {
	fi, err := s.opts.Stat(s.opts.File)
	if err != nil {
		return nil, fileState{statFailed: true}, fmt.Errorf("static: secret file: %w", err)
	}
	state := fileState{modTime: fi.ModTime().UnixNano(), size: fi.Size(), mode: fi.Mode()}
	if s.tok != nil && fi.ModTime().Equal(s.modTime) && fi.Size() == s.size {
		return s.tok, state, nil
	}
	if s.failed != nil && *s.failed == state {
		return nil, state, errors.New("unchanged since the last failure")
	}
	v, err := secretfile.Read(s.opts.File, fi, s.opts.ReadFile)
	if err != nil {
		return nil, state, err
	}
	tok, err := s.token(v)
	if err != nil {
		return nil, state, err
	}
	s.tok = tok
	s.modTime, s.size = fi.ModTime(), fi.Size()
	return s.tok, state, nil
}
