package proxy

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedactQuery(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"kept", "api-version=2024-10-21&stream=true", "api-version=2024-10-21&stream=true"},
		{"key", "key=s3cret&api-version=1", "key=[REDACTED]&api-version=1"},
		{"sas signature", "sv=2022&sig=abc%2Bdef", "sv=[REDACTED]&sig=[REDACTED]"},
		{"access token", "access_token=abc", "access_token=[REDACTED]"},
		{"name that does not look secret", "code=abc", "code=[REDACTED]"},
		{"semicolon separator", "api-version=1;token=abc", "api-version=1;token=[REDACTED]"},
		{"encoded name", "api%2Dkey=abc", "api%2Dkey=[REDACTED]"},
		{"undecodable name", "%zz=abc", "%zz=[REDACTED]"},
		{"value without a name", "abc", "[REDACTED]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, redactQuery(tc.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestHeaderLogRedacts(t *testing.T) {
	h := http.Header{
		"Authorization":     {"Bearer s3cret"},
		"Api-Key":           {"s3cret"},
		"X-Api-Key":         {"s3cret"},
		"X-Byokcred-Token":  {"s3cret"},
		"Cookie":            {"s=s3cret"},
		"X-Gateway-Secret":  {"s3cret"},
		"X-Tenant":          {"s3cret"}, // configured: redacted whatever its name
		"Content-Type":      {"application/json"},
		"Anthropic-Version": {"2023-06-01"},
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "h", headerLog{h: h, extra: map[string]string{"x-tenant": "s3cret"}})
	out := b.String()
	if strings.Contains(out, "s3cret") {
		t.Errorf("a secret was logged: %s", out)
	}
	for _, want := range []string{"h.authorization=[REDACTED]", "h.x-tenant=[REDACTED]", "h.content-type=application/json", "h.anthropic-version=2023-06-01"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q: %s", want, out)
		}
	}
}
