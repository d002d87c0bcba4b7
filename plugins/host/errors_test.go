package host

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestErrorFormat(t *testing.T) {
	cause := errors.New("plugin binary not found: x")
	tests := []struct {
		name              string
		err               *Error
		want, wantUnnamed string
	}{
		{"with provider", &Error{Plugin: "vault", Provider: "gateway", Err: cause},
			`plugins: plugin "vault", provider "gateway": plugin binary not found: x`, `plugins: plugin "vault": plugin binary not found: x`},
		{"eager start has no provider", &Error{Plugin: "vault", Err: cause},
			`plugins: plugin "vault": plugin binary not found: x`, `plugins: plugin "vault": plugin binary not found: x`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			// Inside a credential.TokenError, which names the provider first.
			if diff := cmp.Diff(tc.wantUnnamed, tc.err.ErrorWithoutProvider()); diff != "" {
				t.Errorf("message without the provider (-want +got):\n%s", diff)
			}
			if !errors.Is(tc.err, cause) {
				t.Error("cause not reachable through errors.Is")
			}
		})
	}
}
