// Package file is the byokcred credential plugin that reads a token from a
// file that something else keeps fresh: a Vault agent sink, a Kubernetes
// projected service-account token, a cron job.
//
// Config keys (unknown keys are errors):
//
//	path  string, required. Relative paths are relative to the host's
//	      working directory (the plugin runs there).
//	kind  bearer (default) | api_key: how the host sends the token.
//
// The file is re-read whenever its size or modification time changes, and
// its mode is checked on every call: it must not be readable by group or
// others (secretfile.Read's rule). One trailing newline is trimmed. A file
// found empty after a good read is a rewrite in progress (truncate, then
// write): the last token is served until the new one is there.
//
// When the content is a JWT (three dot-separated base64url segments whose
// middle one is a JSON object), the token's expiry is its `exp` claim. The
// signature is NOT checked: the plugin only reads the expiry to tell the
// host when to come back; the receiving API is what verifies the token. An
// already expired JWT is an error, naming the time it expired.
package file

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/credshape"
	"github.com/byokcred/byokcred/plugins/sdk"
	"github.com/byokcred/byokcred/plugins/shared"
	"github.com/byokcred/byokcred/secretfile"
)

// Source serves the token in one file.
type Source struct {
	path string
	kind credential.Kind
	now  func() time.Time

	mu      sync.Mutex
	tok     *credential.Token
	modTime time.Time
	size    int64
	// warned is set while the file is empty, so that a rewrite is
	// logged once.
	warned bool
	warn   func(msg string, args ...any)
}

var _ credential.TokenSource = (*Source)(nil)

// NewSource reads the file once, so that a missing or unreadable file is
// reported when the provider is configured. kind 0 means bearer.
func NewSource(path string, kind credential.Kind) (*Source, error) {
	if path == "" {
		return nil, errors.New("file: a path is required")
	}
	if kind == 0 {
		kind = credential.KindBearer
	}
	s := &Source{path: path, kind: kind, now: time.Now, warn: sdk.Logger("file").Warn}
	if _, err := s.Token(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// Token returns the file's token, re-reading the file if it changed. An
// unreadable, too-open or expired file is an error rather than a stale
// token: a rotated-away token is no longer valid either.
func (s *Source) Token(ctx context.Context) (*credential.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	// Checked on every call, not only on change: chmod does not change
	// the modification time.
	if err := secretfile.CheckMode(s.path, fi); err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.tok != nil && fi.Size() == 0:
		// Truncated and not yet written (issue 23, finding 9: requests
		// failed "is empty" in that moment); tried again at every call.
		if !s.warned {
			s.warned = true
			s.warn("the token file is empty, being rewritten; the last token stays in use until it is written", "path", s.path)
		}
	case s.tok == nil || !fi.ModTime().Equal(s.modTime) || fi.Size() != s.size:
		tok, err := s.read(fi)
		if err != nil {
			return nil, err
		}
		s.tok, s.modTime, s.size, s.warned = tok, fi.ModTime(), fi.Size(), false
	}
	if s.tok.Expired(s.now()) {
		return nil, fmt.Errorf("file: the JWT in %s expired at %s; whatever writes the file has stopped refreshing it", s.path, s.tok.Expiry.UTC().Format(time.RFC3339))
	}
	return s.tok, nil
}

func (s *Source) read(fi fs.FileInfo) (*credential.Token, error) {
	v, err := secretfile.Read(s.path, fi, nil)
	if err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	raw := strings.TrimSpace(v.Reveal())
	if raw != v.Reveal() {
		// Trailing blank lines or a CRLF file: send the token itself.
		v = credential.NewSecret(raw)
	}
	if strings.ContainsAny(raw, "\r\n") {
		return nil, fmt.Errorf("file: %s holds more than one line; it must hold only the token", s.path)
	}
	if doc := credshape.JSONDocument(raw); doc != "" {
		// Sent whole, it would give every key in it to one endpoint.
		return nil, fmt.Errorf("file: %s holds %s, not a token; it must hold only the token", s.path, doc)
	}
	tok := &credential.Token{Value: v, Kind: s.kind}
	exp, isJWT, err := jwtExpiry(raw)
	if err != nil {
		return nil, fmt.Errorf("file: %s looks like a JWT but %w", s.path, err)
	}
	if isJWT {
		tok.Expiry = exp
	}
	return tok, nil
}

// jwtExpiry returns the exp claim of a JWT, without verifying anything. It
// reports isJWT false for content that is not shaped like a JWT (an opaque
// token), and an error for a JWT whose exp is malformed. A JWT without exp
// does not expire.
func jwtExpiry(s string) (exp time.Time, isJWT bool, err error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return time.Time{}, false, nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false, nil
	}
	var claims map[string]any
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}, false, nil
	}
	v, ok := claims["exp"]
	if !ok {
		return time.Time{}, true, nil
	}
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || f <= 0 || f > 1e11 {
		return time.Time{}, true, errors.New("its exp claim is not a plausible NumericDate")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// Plugin is the file credential plugin.
type Plugin struct{}

var _ shared.Credential = Plugin{}

// Describe implements shared.Credential.
func (Plugin) Describe(context.Context) (shared.Info, error) {
	return shared.Info{Name: "file", Version: sdk.BuildVersion()}, nil
}

// Configure implements shared.Credential.
func (Plugin) Configure(_ context.Context, _ string, config map[string]any) (credential.TokenSource, error) {
	c := sdk.NewConfig(config)
	path := c.String("path", sdk.Required)
	kind := credential.KindBearer
	if c.OneOf("kind", "bearer", "bearer", "api_key") == "api_key" {
		kind = credential.KindAPIKey
	}
	if err := c.Err(); err != nil {
		return nil, fmt.Errorf("file: %w", err)
	}
	return NewSource(path, kind)
}
