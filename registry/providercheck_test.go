package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
)

// TestProviderCheck: Provider.Check runs a code-built provider's
// ProviderSpec.Check (a per-user provider's proof of its application
// credential), passes its error through, and answers ErrNoCheck when there
// is none; Set.Check of a code-built set names the provider whose check
// failed (a code-built set has no file to place it in).
func TestProviderCheck(t *testing.T) {
	t.Parallel()
	refused := errors.New("app credential refused")
	perUser := func(user credential.TokenSource) credential.TokenSource { return user }
	tests := []struct {
		name      string
		check     func(context.Context) error
		wantErr   error
		wantSetOK bool
		wantSet   string
	}{
		{"no check", nil, ErrNoCheck, true, ""},
		{"accepted", func(context.Context) error { return nil }, nil, true, ""},
		{"refused", func(context.Context) error { return refused }, refused, false, `registry: provider "obo": Check: app credential refused`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec := ProviderSpec{Name: "obo", Type: "openai", BaseURL: "https://obo.example", Model: "m", PerUser: perUser, Check: tt.check}
			p, err := NewProvider(spec, Options{Logger: quiet(), PerUser: true})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.Check(context.Background()); !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Errorf("Provider.Check = %v, want %v", err, tt.wantErr)
			}
			set, err := NewSet(SetSpec{Providers: []*Provider{p}})
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			err = set.Check(context.Background())
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.wantSet, got); diff != "" || (err == nil) != tt.wantSetOK {
				t.Errorf("Set.Check (-want +got):\n%s", diff)
			}
			if err != nil && !errors.Is(err, refused) {
				t.Errorf("Set.Check = %v: does not wrap the check's error", err)
			}
		})
	}
}
