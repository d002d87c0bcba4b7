// Package credential defines the credential contract of byokcred: a Token, the
// TokenSource that produces it, and the sources and wrappers built on it.
//
// The shape follows golang.org/x/oauth2: one small interface, and caching as a
// wrapper around any source rather than code repeated inside each source.
package credential

import (
	"context"
	"log/slog"
	"time"
)

// Kind says which kind of credential a token is. The session factory uses it to
// choose the field (and so the HTTP header) that carries the credential.
type Kind uint8

const (
	// KindAPIKey is a long-lived key: sent as `api-key` to Azure, `x-api-key`
	// to Anthropic and `Authorization: Bearer` to OpenAI-compatible endpoints.
	KindAPIKey Kind = iota + 1
	// KindBearer is a bearer token, always sent as `Authorization: Bearer`.
	KindBearer
)

// String returns the config spelling of the kind.
func (k Kind) String() string {
	switch k {
	case KindAPIKey:
		return "api_key"
	case KindBearer:
		return "bearer"
	default:
		return "unknown"
	}
}

// Token is one credential with its lifetime. Tokens handed out by a
// TokenSource are shared between callers and must be treated as immutable.
type Token struct {
	// Value is the credential itself.
	Value Secret
	// Kind says how the credential is sent.
	Kind Kind
	// Expiry is when the token stops being accepted. Zero means it does not
	// expire (static keys).
	Expiry time.Time
	// RefreshAt is the issuer's hint for when to renew (Entra's refresh_in).
	// Zero means no hint.
	RefreshAt time.Time
}

// Expired reports whether the token is unusable at now. A token without an
// expiry never expires.
func (t *Token) Expired(now time.Time) bool {
	return t == nil || (!t.Expiry.IsZero() && !now.Before(t.Expiry))
}

// LogValue implements slog.LogValuer: kind, expiry and fingerprint, never the
// value.
func (t *Token) LogValue() slog.Value {
	if t == nil {
		return slog.StringValue("<nil>")
	}
	attrs := []slog.Attr{
		slog.String("kind", t.Kind.String()),
		slog.String("fingerprint", t.Value.Fingerprint()),
	}
	if !t.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", t.Expiry))
	}
	return slog.GroupValue(attrs...)
}

// TokenSource supplies credentials.
//
// Token returns a token that is valid when returned, or an error. It must be
// safe for concurrent use by many goroutines: the Copilot runtime asks for a
// token before every model request, from many sessions at once. Token must
// honour ctx: it returns promptly with ctx's error once ctx is done, rather
// than leaving a model request waiting on a stuck identity provider.
//
// Implementations need not cache; wrap them with [NewCache] for caching,
// refresh ahead of expiry and single-flight fetching.
type TokenSource interface {
	Token(ctx context.Context) (*Token, error)
}

// Closer is implemented by sources that hold resources (plugin processes,
// background refreshers).
type Closer interface {
	Close() error
}

// StaticTokenSource returns a source that always returns tok, as x/oauth2's
// StaticTokenSource does: for tests and for credentials that never change.
// (The `static` auth type, with env and file keys that follow rotation, is
// package auth/static.)
func StaticTokenSource(tok *Token) TokenSource { return staticTokenSource{tok} }

type staticTokenSource struct{ tok *Token }

func (s staticTokenSource) Token(context.Context) (*Token, error) { return s.tok, nil }
