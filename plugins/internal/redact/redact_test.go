package redact

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedact(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		secrets []string
		want    string
	}{
		{"known secret", "got abcdef123 back", []string{"abcdef123"}, "got [REDACTED] back"},
		{"longest first", "x longsecret-suffix y", []string{"longsecret", "longsecret-suffix"}, "x [REDACTED] y"},
		{"too short to redact", "the id is 42", []string{"42"}, "the id is 42"},
		{"jwt by shape", "tok=eyJhbGciOiJI.eyJzdWIiOiJ4In0.c2ln end", nil, "tok=[REDACTED] end"},
		{"bearer header", "Authorization: Bearer abc.def-123_xyz", nil, "Authorization: Bearer [REDACTED]"},
		{"json field", `{"access_token":"s3cr3tvalue","x":1}`, nil, `{"access_token":"[REDACTED]","x":1}`},
		{"key=value", "api_key=AKIA1234567890", nil, "api_key=[REDACTED]"},
		{"prose survives", "invalid token: unknown kind", nil, "invalid token: unknown kind"},
		{"client secret", "client_secret=abcdefghijklmnopqrstuvwxyz", nil, "client_secret=[REDACTED]"},
		{"bare generated secret", "cat: Xk7pQ2mZ9vR4tL8wN3bY6cF1", nil, "cat: [REDACTED]"},
		{"bare prefixed key", "key sk-ant-api03-abcdefgh in use", nil, "key [REDACTED] in use"},
		{"diagnostics survive", "permission denied: /etc/x", nil, "permission denied: /etc/x"},
		{"empty", "", []string{"abcdef"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Redact(tc.in, tc.secrets...)); diff != "" {
				t.Errorf("Redact (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short", "abc", 5, "abc"},
		{"cut", "abcdef", 3, "abc…(truncated)"},
		{"rune boundary", "aé", 2, "a…(truncated)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Truncate(tc.in, tc.n)); diff != "" {
				t.Errorf("Truncate (-want +got):\n%s", diff)
			}
		})
	}
}
