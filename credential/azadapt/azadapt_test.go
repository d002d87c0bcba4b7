package azadapt_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/credential/azadapt"
)

// fakeCred answers with at (or err), recording what it was asked.
type fakeCred struct {
	at     azcore.AccessToken
	err    error
	asked  policy.TokenRequestOptions
	called bool
}

func (f *fakeCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.asked, f.called = o, true
	return f.at, f.err
}

func TestTokenSource(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC)
	refresh := exp.Add(-30 * time.Minute)
	boom := errors.New("boom")
	type result struct {
		Value, Kind       string
		Expiry, RefreshAt time.Time
		Scopes            []string
		Err               string
		ErrIsCause        bool
	}
	tests := []struct {
		name  string
		cred  *fakeCred
		scope string
		want  result
	}{
		{"default scope", &fakeCred{at: azcore.AccessToken{Token: "eyJ.a", ExpiresOn: exp, RefreshOn: refresh}}, "",
			result{Value: "eyJ.a", Kind: "bearer", Expiry: exp, RefreshAt: refresh, Scopes: []string{azadapt.CognitiveServicesScope}}},
		{"own scope", &fakeCred{at: azcore.AccessToken{Token: "eyJ.b", ExpiresOn: exp}}, "api://app/.default",
			result{Value: "eyJ.b", Kind: "bearer", Expiry: exp, Scopes: []string{"api://app/.default"}}},
		{"error", &fakeCred{err: boom}, "",
			result{Scopes: []string{azadapt.CognitiveServicesScope}, Err: "entra: *azadapt_test.fakeCred credential, scope https://cognitiveservices.azure.com/.default: boom", ErrIsCause: true}},
		{"malformed scope: the credential is never asked", &fakeCred{}, "https://x.example/?a=b",
			result{Err: `azadapt: entra: invalid scope "https://x.example/?a=b": want a resource followed by /.default, such as https://cognitiveservices.azure.com/.default, using only letters, digits and . _ ~ : / -`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := azadapt.TokenSource(tc.cred, tc.scope).Token(context.Background())
			got := result{Scopes: tc.cred.asked.Scopes}
			if err != nil {
				got.Err, got.ErrIsCause = err.Error(), errors.Is(err, boom)
			} else {
				got.Value, got.Kind, got.Expiry, got.RefreshAt = tok.Value.Reveal(), tok.Kind.String(), tok.Expiry, tok.RefreshAt
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestForcedRefreshAsksForANewToken: after the model rejected a token, the
// cache's forced refresh must reach Entra, not azidentity's cache: the
// request carries claims (a token issued from now on).
func TestForcedRefreshAsksForANewToken(t *testing.T) {
	t.Parallel()
	cred := &fakeCred{at: azcore.AccessToken{Token: "eyJ.c", ExpiresOn: time.Now().Add(time.Hour)}}
	cache := credential.NewCache(azadapt.TokenSource(cred, ""), credential.CacheOptions{})
	defer cache.Close()
	tok, err := cache.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	plainClaims := cred.asked.Claims
	cache.Invalidate(tok)
	if _, err := cache.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	if plainClaims != "" || cred.asked.Claims == "" {
		t.Errorf("claims: first fetch %q, after a rejection %q; want none, then some", plainClaims, cred.asked.Claims)
	}
}
