package config_test

import (
	"testing"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/credential"
)

func TestCredentialHeaderMapping(t *testing.T) {
	tests := []struct {
		typ  string
		kind credential.Kind
		want string
	}{
		{"openai", credential.KindAPIKey, "Authorization"},
		{"openai", credential.KindBearer, "Authorization"},
		{"azure", credential.KindAPIKey, "Api-Key"},
		{"azure", credential.KindBearer, "Authorization"},
		{"anthropic", credential.KindAPIKey, "X-Api-Key"},
		{"anthropic", credential.KindBearer, "Authorization"},
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.kind.String(), func(t *testing.T) {
			if got := config.CredentialHeader(tc.typ, tc.kind); got != tc.want {
				t.Errorf("CredentialHeader(%s, %s) = %s, want %s", tc.typ, tc.kind, got, tc.want)
			}
		})
	}
}
