package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StaticOptions configures a [StaticSource]. Exactly one of Value, Env and
// File is set.
type StaticOptions struct {
	// Kind is KindAPIKey or KindBearer.
	Kind Kind
	// Value is a literal credential (already expanded by the config loader).
	Value Secret
	// Env names an environment variable holding the credential.
	Env string
	// File is a path to a file holding the credential. The file is re-read
	// whenever it changes, so a key can be rotated without a restart. It must
	// not be readable by group or others.
	File string

	// LookupEnv replaces os.LookupEnv (tests).
	LookupEnv func(string) (string, bool)
	// Stat and ReadFile replace os.Stat and [ReadCredentialFile] (tests).
	Stat     func(string) (fs.FileInfo, error)
	ReadFile func(string) ([]byte, error)
	// Now is the clock that decides whether a bearer JWT has expired
	// (default time.Now).
	Now func() time.Time
}

// StaticSource serves a configured credential: an API key, or a bearer
// token. A file-backed source follows the file's changes. A bearer token that
// is a JWT expires at its `exp` claim: once it has, Token returns an error
// instead of a token every server would refuse. API keys are never parsed.
type StaticSource struct {
	opts StaticOptions

	mu      sync.Mutex
	tok     *Token
	modTime time.Time
	size    int64
}

var _ TokenSource = (*StaticSource)(nil)

// NewStaticSource checks opts and reads the credential once, so that a
// missing variable, an unreadable file or a value that cannot be sent in an
// HTTP header is reported at load time. An expired JWT is not a load error
// (it fails on use, naming where it came from), so that one stale token does
// not stop every other provider in the file from loading.
func NewStaticSource(opts StaticOptions) (*StaticSource, error) {
	if opts.Kind != KindAPIKey && opts.Kind != KindBearer {
		return nil, errors.New("provider: static source needs a kind (api key or bearer)")
	}
	set := 0
	for _, b := range []bool{!opts.Value.IsZero(), opts.Env != "", opts.File != ""} {
		if b {
			set++
		}
	}
	if set != 1 {
		return nil, errors.New("provider: static source needs exactly one of a literal value, an environment variable or a file")
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
	s := &StaticSource{opts: opts}
	var err error
	switch {
	case !opts.Value.IsZero():
		s.tok, err = s.token(opts.Value)
	case opts.Env != "":
		v, ok := opts.LookupEnv(opts.Env)
		if !ok {
			return nil, fmt.Errorf("provider: environment variable %s is not set; export it or change the config", opts.Env)
		}
		if v == "" {
			return nil, fmt.Errorf("provider: environment variable %s is empty", opts.Env)
		}
		s.tok, err = s.token(NewSecret(v))
	default:
		_, err = s.current()
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// origin names where the credential comes from, for errors (never the value).
func (s *StaticSource) origin() string {
	switch {
	case s.opts.Env != "":
		return "environment variable " + s.opts.Env
	case s.opts.File != "":
		return "secret file " + s.opts.File
	case s.opts.Kind == KindBearer:
		return "the bearer_token value"
	default:
		return "the api_key value"
	}
}

// token checks v and wraps it, reading a bearer JWT's expiry.
func (s *StaticSource) token(v Secret) (*Token, error) {
	if err := checkHeaderValue(v.Reveal(), s.opts.Kind); err != nil {
		return nil, fmt.Errorf("provider: %s: %w", s.origin(), err)
	}
	tok := &Token{Value: v, Kind: s.opts.Kind}
	if s.opts.Kind == KindBearer {
		// The cache's rule for a token that states no expiry (see
		// jwtExpiry), so both kinds of source read a JWT alike.
		exp, err := jwtExpiry(v)
		if err != nil {
			return nil, fmt.Errorf("provider: %s: %w", s.origin(), err)
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
func (s *StaticSource) Token(ctx context.Context) (*Token, error) {
	tok, err := s.current()
	if err != nil {
		return nil, err
	}
	if tok.Expired(s.opts.Now()) {
		return nil, fmt.Errorf("provider: the JWT in %s expired at %s; put a fresh token there", s.origin(), tok.Expiry.UTC().Format(time.RFC3339))
	}
	return tok, nil
}

// current returns the credential, re-reading a file that changed.
func (s *StaticSource) current() (*Token, error) {
	if s.opts.File == "" {
		return s.tok, nil
	}
	fi, err := s.opts.Stat(s.opts.File)
	if err != nil {
		return nil, fmt.Errorf("provider: secret file: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && fi.ModTime().Equal(s.modTime) && fi.Size() == s.size {
		return s.tok, nil
	}
	v, err := ReadSecretFile(s.opts.File, fi, s.opts.ReadFile)
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

// MaxSecretFileSize caps a secret file. A credential is bytes, not
// megabytes: API keys are under 200 bytes and the largest bearer tokens seen
// (Entra tokens with many group claims, client certificates with a chain) are
// a few KiB, while servers refuse request headers beyond 8–64 KiB anyway. The
// cap stops a wrong path (a log, a disk image, a 2 GiB sparse file) from
// being read into memory.
const MaxSecretFileSize = 64 << 10

// CheckSecretFileMode refuses a secret file that group or others can read,
// that is not a regular file (a FIFO would block the reader; a device never
// ends) or that is larger than [MaxSecretFileSize].
func CheckSecretFileMode(path string, fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("provider: secret file %s is readable by group or others (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("provider: secret file %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > MaxSecretFileSize {
		return fmt.Errorf("provider: secret file %s is %d bytes; a credential file holds at most %d", path, fi.Size(), MaxSecretFileSize)
	}
	return nil
}

// ReadCredentialFile reads a secret file (a key, a client secret, a
// certificate) safely: it opens without blocking, checks what it opened
// (the path may have been swapped since it was stat'ed) with
// [CheckSecretFileMode], and reads at most [MaxSecretFileSize] bytes, since a
// pseudo-file such as /proc/self/environ reports size 0 whatever it holds.
func ReadCredentialFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("provider: secret file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("provider: secret file: %w", err)
	}
	if err := CheckSecretFileMode(path, fi); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("provider: secret file: %w", err)
	}
	if len(b) > MaxSecretFileSize {
		return nil, fmt.Errorf("provider: secret file %s holds more than %d bytes; a credential file holds at most that", path, MaxSecretFileSize)
	}
	return b, nil
}

// ReadSecretFile checks the mode of an already-stat'ed file, reads it, and
// trims one trailing newline (editors and `echo` add one; keys never end in one).
// read defaults to [ReadCredentialFile]. A NUL byte is refused: text
// credentials never hold one, and it marks a binary or pseudo-file read by
// mistake.
func ReadSecretFile(path string, fi fs.FileInfo, read func(string) ([]byte, error)) (Secret, error) {
	if err := CheckSecretFileMode(path, fi); err != nil {
		return Secret{}, err
	}
	var b []byte
	var err error
	if read == nil {
		b, err = ReadCredentialFile(path)
	} else if b, err = read(path); err != nil {
		err = fmt.Errorf("provider: secret file: %w", err)
	}
	if err != nil {
		return Secret{}, err
	}
	if len(b) > MaxSecretFileSize {
		return Secret{}, fmt.Errorf("provider: secret file %s holds more than %d bytes; a credential file holds at most that", path, MaxSecretFileSize)
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return Secret{}, fmt.Errorf("provider: secret file %s: byte %d is a NUL byte; it is not a text credential file", path, i)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return Secret{}, fmt.Errorf("provider: secret file %s is empty", path)
	}
	return NewSecret(v), nil
}
