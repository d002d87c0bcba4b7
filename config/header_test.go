package config_test

import (
	"testing"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/provider"
)

func TestCredentialHeaderMapping(t *testing.T) {
	tests := []struct {
		typ  string
		kind provider.Kind
		want string
	}{
		{"openai", provider.KindAPIKey, "Authorization"},
		{"openai", provider.KindBearer, "Authorization"},
		{"azure", provider.KindAPIKey, "Api-Key"},
		{"azure", provider.KindBearer, "Authorization"},
		{"anthropic", provider.KindAPIKey, "X-Api-Key"},
		{"anthropic", provider.KindBearer, "Authorization"},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.kind.String(), func(t *testing.T) {
			if got := config.CredentialHeader(tc.typ, tc.kind); got != tc.want {
				t.Errorf("CredentialHeader(%s, %s) = %s, want %s", tc.typ, tc.kind, got, tc.want)
			}
		})
	}
}
