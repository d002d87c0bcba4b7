package endpoint_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/endpoint"
)

func TestRedact(t *testing.T) {
	const canary = "CANARY-url-secret-3141"
	tests := []struct {
		name, in, want string
	}{
		{"no query", "https://gw.example/v1", "https://gw.example/v1"},
		{"api-version kept", "https://x.openai.azure.com?api-version=2024-10-21", "https://x.openai.azure.com?api-version=2024-10-21"},
		{"api key in the query", "https://gw.example/v1?api-key=" + canary, "https://gw.example/v1?api-key=[REDACTED]"},
		{"code (Azure Functions)", "https://fn.example/api?code=" + canary + "&api-version=1", "https://fn.example/api?code=[REDACTED]&api-version=1"},
		{"any unknown name", "https://gw.example/v1?tenant=" + canary, "https://gw.example/v1?tenant=[REDACTED]"},
		{"semicolon separator", "https://gw.example/v1?api-version=1;token=" + canary, "https://gw.example/v1?api-version=1;token=[REDACTED]"},
		{"bare value", "https://gw.example/v1?" + canary, "https://gw.example/v1?[REDACTED]"},
		{"bare harmless flag", "https://gw.example/v1/messages?beta", "https://gw.example/v1/messages?beta"},
		{"harmless name in any case", "https://gw.example?API-Version=1", "https://gw.example?API-Version=1"},
		{"encoded harmless name", "https://gw.example?api%2Dversion=1", "https://gw.example?api%2Dversion=1"},
		{"undecodable name", "https://gw.example?%zz=" + canary, "https://gw.example?%zz=[REDACTED]"},
		{"empty parts", "https://gw.example?&&api-version=1&", "https://gw.example?&&api-version=1&"},
		{"fragment", "https://gw.example/v1#access_token=" + canary, "https://gw.example/v1#[REDACTED]"},
		{"user info", "https://user:" + canary + "@gw.example/v1", "https://[REDACTED]@gw.example/v1"},
		{"at sign in the path is not user info", "https://gw.example/v1/@me", "https://gw.example/v1/@me"},
		{"query without a base", "?sig=" + canary + "&stream=true", "?sig=[REDACTED]&stream=true"},
		{"unparsable URL", "ht!tp://%zz/?key=" + canary, "ht!tp://%zz/?key=[REDACTED]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, endpoint.Redact(tc.in)); diff != "" {
				t.Errorf("Redact(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}
