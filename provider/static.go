package provider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
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
	// Stat and ReadFile replace os.Stat and os.ReadFile (tests).
	Stat     func(string) (fs.FileInfo, error)
	ReadFile func(string) ([]byte, error)
}

// StaticSource serves a credential that has no expiry: an API key, or a
// static bearer token. A file-backed source follows the file's changes.
type StaticSource struct {
	opts StaticOptions

	mu      sync.Mutex
	tok     *Token
	modTime time.Time
	size    int64
}

var _ TokenSource = (*StaticSource)(nil)

// NewStaticSource checks opts and reads the credential once, so that a
// missing variable or unreadable file is reported at load time.
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
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	s := &StaticSource{opts: opts}
	switch {
	case !opts.Value.IsZero():
		s.tok = &Token{Value: opts.Value, Kind: opts.Kind}
	case opts.Env != "":
		v, ok := opts.LookupEnv(opts.Env)
		if !ok {
			return nil, fmt.Errorf("provider: environment variable %s is not set; export it or change the config", opts.Env)
		}
		if v == "" {
			return nil, fmt.Errorf("provider: environment variable %s is empty", opts.Env)
		}
		s.tok = &Token{Value: NewSecret(v), Kind: opts.Kind}
	default:
		if _, err := s.Token(context.Background()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Token returns the credential. For a file-backed source it stats the file
// and re-reads it when its size or modification time changed; if the file
// becomes unreadable the error is returned rather than a stale key, because a
// key that was rotated away is no longer valid either.
func (s *StaticSource) Token(ctx context.Context) (*Token, error) {
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
	s.tok = &Token{Value: v, Kind: s.opts.Kind}
	s.modTime, s.size = fi.ModTime(), fi.Size()
	return s.tok, nil
}

// CheckSecretFileMode refuses a secret file that group or others can read.
func CheckSecretFileMode(path string, fi fs.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("provider: secret file %s is readable by group or others (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("provider: secret file %s is not a regular file", path)
	}
	return nil
}

// ReadSecretFile checks the mode of an already-stat'ed file, reads it, and
// trims one trailing newline (editors and `echo` add one; keys never end in one).
// read defaults to os.ReadFile.
func ReadSecretFile(path string, fi fs.FileInfo, read func(string) ([]byte, error)) (Secret, error) {
	if err := CheckSecretFileMode(path, fi); err != nil {
		return Secret{}, err
	}
	if read == nil {
		read = os.ReadFile
	}
	b, err := read(path)
	if err != nil {
		return Secret{}, fmt.Errorf("provider: secret file: %w", err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return Secret{}, fmt.Errorf("provider: secret file %s is empty", path)
	}
	return NewSecret(v), nil
}
