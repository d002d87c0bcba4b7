package oauth2adapt_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/byokcred/byokcred/credential/oauth2adapt"
)

type tsFunc func() (*oauth2.Token, error)

func (f tsFunc) Token() (*oauth2.Token, error) { return f() }

func TestTokenSource(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC)
	boom := errors.New("boom")
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	type result struct {
		Value, Kind string
		Expiry      time.Time
		Err         string
		IsCause     bool
	}
	tests := []struct {
		name string
		ts   oauth2.TokenSource
		ctx  context.Context
		want result
	}{
		{"token", oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "at-1", TokenType: "Bearer", Expiry: exp}), context.Background(),
			result{Value: "at-1", Kind: "bearer", Expiry: exp}},
		{"error", tsFunc(func() (*oauth2.Token, error) { return nil, boom }), context.Background(),
			result{Err: "oauth2adapt: boom", IsCause: true}},
		{"no access token", tsFunc(func() (*oauth2.Token, error) { return &oauth2.Token{}, nil }), context.Background(),
			result{Err: "oauth2adapt: the oauth2 token source returned no access token"}},
		{"caller gives up on a stuck source", tsFunc(func() (*oauth2.Token, error) { <-stuck; return nil, boom }), canceled,
			result{Err: "oauth2adapt: waiting for the oauth2 token source: context canceled"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := oauth2adapt.TokenSource(tc.ts).Token(tc.ctx)
			var got result
			if err != nil {
				got.Err, got.IsCause = err.Error(), errors.Is(err, boom)
			} else {
				got.Value, got.Kind, got.Expiry = tok.Value.Reveal(), tok.Kind.String(), tok.Expiry
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
