package credshape_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/credshape"
)

func TestMask(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"random base62", "pw Xk7pQ2mZ9vR4tL8wN3bY6cF1 read", "pw [REDACTED] read"},
		{"base64 with slashes", "key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "key [REDACTED]"},
		{"base64 padding", "b64: hDLT8JicVo1h83PK0mR0LQm7uQw=", "b64: [REDACTED]="},
		{"hex digest", "sum 8432d3f0989c568d61f3a3db3bc11b56f3c801b1.", "sum [REDACTED]."},
		{"uuid", "id 123e4567-e89b-12d3-a456-426614174000", "id [REDACTED]"},
		{"openai prefix", "using sk-proj-abcdefgh", "using [REDACTED]"},
		{"anthropic prefix", "sk-ant-api03-zzzzzzzzzz", "[REDACTED]"},
		{"aws key id", "AKIAIOSFODNN7EXAMPLE", "[REDACTED]"},
		{"github token", "ghp_abcdefghijklmnop", "[REDACTED]"},
		{"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig", "[REDACTED]"},
		{"key at the end of a path", "cat /run/secrets/Xk7pQ2mZ9vR4tL8wN3bY6cF1: denied", "cat /run/secrets/[REDACTED]: denied"},
		{"key after equals", "PW=Xk7pQ2mZ9vR4tL8wN3bY6cF1", "PW=[REDACTED]"},
		{"letters only, mixed like a key", "aZbYcXdWeVfUgThSiRjQ", "[REDACTED]"},
		{"permission denied", "permission denied: /etc/x", "permission denied: /etc/x"},
		{"long path", "open /usr/local/lib/python3.11/site-packages/x.py: no such file", "open /usr/local/lib/python3.11/site-packages/x.py: no such file"},
		{"url", "POST https://login.microsoftonline.com/tenant/oauth2/v2.0/token: 400", "POST https://login.microsoftonline.com/tenant/oauth2/v2.0/token: 400"},
		{"camel case", "getSecretValueWithContextAndRetry failed", "getSecretValueWithContextAndRetry failed"},
		{"error code", "ERR_CONNECTION_REFUSED_BY_PEER HTTPRequestFailedException", "ERR_CONNECTION_REFUSED_BY_PEER HTTPRequestFailedException"},
		{"version and arch", "kubectl-1.29.3-linux-amd64.tar.gz x86_64-unknown-linux-gnu v1.2.3-rc.1+build.20261206", "kubectl-1.29.3-linux-amd64.tar.gz x86_64-unknown-linux-gnu v1.2.3-rc.1+build.20261206"},
		{"arn", "arn:aws:iam::123456789012:role/secret-reader", "arn:aws:iam::123456789012:role/secret-reader"},
		{"timestamp", "2026-12-06T15:45:55.123Z", "2026-12-06T15:45:55.123Z"},
		{"short words and prefixes", "ask-me sk-short the AKIA", "ask-me sk-short the AKIA"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, credshape.Mask(tc.in)); diff != "" {
				t.Errorf("Mask(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}
