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

// fakeCred answers with at (or err), recording the scopes asked for.
type fakeCred struct {
	at     azcore.AccessToken
	err    error
	scopes []string
}

func (f *fakeCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.scopes = o.Scopes
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
		name   string
		cred   *fakeCred
		scopes []string
		want   result
	}{
		{"default scope", &fakeCred{at: azcore.AccessToken{Token: "eyJ.a", ExpiresOn: exp, RefreshOn: refresh}}, nil,
			result{Value: "eyJ.a", Kind: "bearer", Expiry: exp, RefreshAt: refresh, Scopes: []string{azadapt.CognitiveServicesScope}}},
		{"own scopes", &fakeCred{at: azcore.AccessToken{Token: "eyJ.b", ExpiresOn: exp}}, []string{"api://app/.default"},
			result{Value: "eyJ.b", Kind: "bearer", Expiry: exp, Scopes: []string{"api://app/.default"}}},
		{"error", &fakeCred{err: boom}, nil,
			result{Scopes: []string{azadapt.CognitiveServicesScope}, Err: "azadapt: token for https://cognitiveservices.azure.com/.default: boom", ErrIsCause: true}},
		{"empty token", &fakeCred{}, nil,
			result{Scopes: []string{azadapt.CognitiveServicesScope}, Err: "azadapt: the credential returned an empty token for https://cognitiveservices.azure.com/.default"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := azadapt.TokenSource(tc.cred, tc.scopes...).Token(context.Background())
			got := result{Scopes: tc.cred.scopes}
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

var _ credential.TokenSource = azadapt.TokenSource(nil)
