package credential_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
)

func TestTokenSourceFunc(t *testing.T) {
	t.Parallel()
	type ctxKey struct{}
	boom := errors.New("boom")
	src := credential.TokenSourceFunc(func(ctx context.Context) (*credential.Token, error) {
		v, _ := ctx.Value(ctxKey{}).(string)
		if v == "" {
			return nil, boom
		}
		return &credential.Token{Value: credential.NewSecret(v), Kind: credential.KindBearer}, nil
	})
	tok, err := src.Token(context.WithValue(context.Background(), ctxKey{}, "from-ctx"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("from-ctx", tok.Value.Reveal()); diff != "" {
		t.Errorf("the function's token, with the caller's context (-want +got):\n%s", diff)
	}
	if _, err := src.Token(context.Background()); !errors.Is(err, boom) {
		t.Errorf("err = %v, want the function's error", err)
	}
}
