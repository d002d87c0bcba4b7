package credential_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/byokcred/byokcred/credential"
)

// A Secret never prints its value, whichever way it is printed.
func ExampleSecret() {
	s := credential.NewSecret("sk-live-0123456789abcdefghij")
	fmt.Printf("%v %s %q %#v\n", s, s, s, s)
	slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}})).Info("key", "value", s)
	fmt.Println(strings.Split(s.Mask(), ",")[0]) // for humans: four characters, length, fingerprint
	// Output:
	// [REDACTED] [REDACTED] "[REDACTED]" credential.Secret{[REDACTED]}
	// level=INFO msg=key value=[REDACTED]
	// sk-l…(28 chars
}

type countingSource struct{ n int }

func (s *countingSource) Token(context.Context) (*credential.Token, error) {
	s.n++
	return &credential.Token{Value: credential.NewSecret(fmt.Sprint("token-", s.n)), Kind: credential.KindBearer, Expiry: time.Now().Add(time.Hour)}, nil
}

// Wrap any source in a Cache: tokens are served from memory and refreshed
// ahead of expiry, once, in the background.
func ExampleNewCache() {
	src := &countingSource{}
	cache := credential.NewCache(src, credential.CacheOptions{Name: "example"})
	defer cache.Close()
	for i := 0; i < 3; i++ {
		tok, _ := cache.Token(context.Background())
		fmt.Println(tok.Value.Reveal())
	}
	st := cache.Stats()
	fmt.Println("fetches:", st.Fetches, "served from memory:", st.Hits)
	// Output:
	// token-1
	// token-1
	// token-1
	// fetches: 1 served from memory: 2
}

// down is a token source whose identity provider is down.
type down struct{ err error }

func (d down) Token(context.Context) (*credential.Token, error) { return nil, d.err }

// A failed token request is a *TokenError: which provider, and when the
// cache tries again; the cause stays matchable with errors.Is.
func ExampleTokenError() {
	errDown := errors.New("identity provider: 503")
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := credential.NewCache(down{errDown}, credential.CacheOptions{Name: "foundry", Now: func() time.Time { return now }, Rand: func() float64 { return 0 }})
	defer c.Close()

	_, err := c.Token(context.Background())
	var te *credential.TokenError
	if errors.As(err, &te) {
		fmt.Println(te.Provider, "retry in", te.Retry.Sub(now), errors.Is(err, errDown))
	}
	fmt.Println(err)
	// Output:
	// foundry retry in 500ms true
	// provider foundry: no token: identity provider: 503
}
