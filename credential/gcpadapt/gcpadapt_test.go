package gcpadapt_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"cloud.google.com/go/auth"
	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential/gcpadapt"
)

type tpFunc func(context.Context) (*auth.Token, error)

func (f tpFunc) Token(ctx context.Context) (*auth.Token, error) { return f(ctx) }

func TestTokenSource(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC)
	boom := errors.New("boom")
	answer := func(tok *auth.Token, err error) auth.TokenProvider {
		return tpFunc(func(context.Context) (*auth.Token, error) { return tok, err })
	}
	type result struct {
		Value, Kind string
		Expiry      time.Time
		Err         string
		IsCause     bool
	}
	tests := []struct {
		name string
		tp   auth.TokenProvider
		want result
	}{
		{"bearer", answer(&auth.Token{Value: "ya29.a", Type: "Bearer", Expiry: exp}, nil), result{Value: "ya29.a", Kind: "bearer", Expiry: exp}},
		{"untyped is bearer", answer(&auth.Token{Value: "ya29.b", Expiry: exp}, nil), result{Value: "ya29.b", Kind: "bearer", Expiry: exp}},
		{"error", answer(nil, boom), result{Err: "gcpadapt: boom", IsCause: true}},
		{"empty", answer(&auth.Token{}, nil), result{Err: "gcpadapt: the token provider returned an empty token"}},
		{"not bearer", answer(&auth.Token{Value: "x", Type: "MAC"}, nil), result{Err: "gcpadapt: the token provider returned a MAC token; model endpoints take bearer tokens"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := gcpadapt.TokenSource(tc.tp).Token(context.Background())
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
