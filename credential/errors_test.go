package credential

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var errIdP = errors.New("503 Service Unavailable")

// namesProvider is a cause that names the provider itself, as the plugin
// host's errors do.
type namesProvider struct{}

func (namesProvider) Error() string {
	return `plugins: plugin "stamp", provider "test-provider": plugin call failed`
}
func (namesProvider) ErrorWithoutProvider() string {
	return `plugins: plugin "stamp": plugin call failed`
}

// TestCacheTokenErrors: every error a Cache returns is a *TokenError naming
// the cache once, saying when its next attempt is due, and keeping the
// cause for errors.Is.
func TestCacheTokenErrors(t *testing.T) {
	start := newFakeClock().Now()
	failing := fmt.Errorf("idp: %w", errIdP)
	tests := []struct {
		name string
		err  func(t *testing.T) error
		want TokenError // Err is checked by is
		is   error
		msg  string
	}{
		{"cold fetch fails",
			func(t *testing.T) error {
				c, src, _ := newTestCache(time.Hour)
				src.set(failing, nil)
				_, err := c.Token(context.Background())
				return err
			},
			TokenError{Provider: "test-provider", Op: "no token", Retry: start.Add(500 * time.Millisecond)},
			errIdP, "provider test-provider: no token: idp: 503 Service Unavailable"},
		{"asked again within the backoff",
			func(t *testing.T) error {
				c, src, clock := newTestCache(time.Hour)
				src.set(failing, nil)
				c.Token(context.Background())
				clock.Advance(100 * time.Millisecond)
				_, err := c.Token(context.Background())
				return err
			},
			TokenError{Provider: "test-provider", Op: "no token", Retry: start.Add(500 * time.Millisecond)},
			errIdP, "provider test-provider: no token: idp: 503 Service Unavailable (next attempt in 400ms)"},
		{"token expired and its refresh failed",
			func(t *testing.T) error {
				c, src, clock := newTestCache(time.Minute)
				mustToken(t, c)
				src.set(failing, nil)
				clock.Advance(2 * time.Minute)
				_, err := c.Token(context.Background())
				return err
			},
			TokenError{Provider: "test-provider", Op: "token expired at 2026-01-01T12:01:00Z and refresh failed", Retry: start.Add(2*time.Minute + 500*time.Millisecond)},
			errIdP, "provider test-provider: token expired at 2026-01-01T12:01:00Z and refresh failed: idp: 503 Service Unavailable"},
		{"the caller stops waiting",
			func(t *testing.T) error {
				c, src, _ := newTestCache(time.Hour)
				src.set(nil, make(chan struct{}))
				t.Cleanup(func() { c.Close() })
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_, err := c.Token(ctx)
				return err
			},
			TokenError{Provider: "test-provider", Op: "waiting for a token"},
			context.Canceled, "provider test-provider: waiting for a token: context canceled"},
		{"closed",
			func(t *testing.T) error {
				c, _, _ := newTestCache(time.Hour)
				c.Close()
				_, err := c.Token(context.Background())
				return err
			},
			TokenError{Provider: "test-provider", Op: "token cache closed"},
			nil, "provider test-provider: token cache closed"},
		{"a cause naming the provider too",
			func(t *testing.T) error {
				c, src, _ := newTestCache(time.Hour)
				src.set(namesProvider{}, nil)
				_, err := c.Token(context.Background())
				return err
			},
			TokenError{Provider: "test-provider", Op: "no token", Retry: start.Add(500 * time.Millisecond)},
			namesProvider{}, `provider test-provider: no token: plugins: plugin "stamp": plugin call failed`},
		{"unnamed cache",
			func(t *testing.T) error {
				clock := newFakeClock()
				c := NewCache(&scriptedSource{clock: clock, fail: failing}, CacheOptions{Now: clock.Now, Rand: func() float64 { return 0 }})
				_, err := c.Token(context.Background())
				return err
			},
			TokenError{Op: "no token", Retry: start.Add(500 * time.Millisecond)},
			errIdP, "provider: no token: idp: 503 Service Unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err(t)
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("errors.As(%v, *TokenError) = false", err)
			}
			if diff := cmp.Diff(tc.want, *te, cmpopts.IgnoreFields(TokenError{}, "Err"), cmpopts.IgnoreUnexported(TokenError{})); diff != "" {
				t.Errorf("TokenError (-want +got):\n%s", diff)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
			}
			if diff := cmp.Diff(tc.msg, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTokenErrorMessage: the message of a TokenError made by hand, as a
// kind or a program would.
func TestTokenErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *TokenError
		want string
	}{
		{"all parts", &TokenError{Provider: "p", Kind: "entra", Op: "no token", Err: errIdP}, "provider p: no token: 503 Service Unavailable"},
		{"no op", &TokenError{Provider: "p", Err: errIdP}, "provider p: 503 Service Unavailable"},
		{"no cause", &TokenError{Provider: "p", Op: "source returned an empty credential"}, "provider p: source returned an empty credential"},
		{"retry time alone is not shown", &TokenError{Provider: "p", Err: errIdP, Retry: time.Now()}, "provider p: 503 Service Unavailable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.err.Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
