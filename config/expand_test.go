package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"HOST": "example.com", "EMPTY": "", "SECRET": "CANARY-expand-42", "DOLLAR": "${HOST}"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "no variables", in: "https://x/y", want: "https://x/y"},
		{name: "simple", in: "https://${HOST}/v1", want: "https://example.com/v1"},
		{name: "default unused", in: "${HOST:-other}", want: "example.com"},
		{name: "default for unset", in: "${NOPE:-fallback}", want: "fallback"},
		{name: "default for empty", in: "${EMPTY:-fallback}", want: "fallback"},
		{name: "empty default", in: "a${NOPE:-}b", want: "ab"},
		{name: "set but empty", in: "a${EMPTY}b", want: "ab"},
		{name: "escaped dollar", in: "$${HOST}", want: "${HOST}"},
		{name: "lone dollar kept", in: "cost $5", want: "cost $5"},
		{name: "trailing dollar", in: "x$", want: "x$"},
		{name: "two", in: "${HOST}/${HOST}", want: "example.com/example.com"},
		{name: "unset names the variable", in: "${MISSING_VAR}", wantErr: "environment variable MISSING_VAR is not set"},
		{name: "unterminated", in: "${HOST", wantErr: "unterminated ${"},
		{name: "bad name", in: "${1X}", wantErr: "invalid variable name"},
		{name: "nested default used", in: "${NOPE:-${HOST}}", want: "example.com"},
		{name: "nested default unused", in: "${HOST:-${MISSING_VAR}}", want: "example.com"},
		{name: "nested default of default", in: "${NOPE:-${EMPTY:-${HOST}/v1}}", want: "example.com/v1"},
		{name: "nested default with text around", in: "https://${NOPE:-api.${HOST}}/x", want: "https://api.example.com/x"},
		{name: "nested unset names the variable", in: "${NOPE:-${MISSING_VAR}}", wantErr: "environment variable MISSING_VAR is not set"},
		{name: "escaped dollar in a default", in: "${NOPE:-$${HOST}}", want: "${HOST}"},
		{name: "brace in a default", in: "${NOPE:-a}b}", want: "ab}"},
		{name: "unterminated nested", in: "${NOPE:-${HOST}", wantErr: "unterminated ${"},
		{name: "values are not expanded again", in: "${DOLLAR}", want: "${HOST}"},
		{name: "nesting is bounded", in: strings.Repeat("${NOPE:-", 9) + "x" + strings.Repeat("}", 9), wantErr: "nested more than 8 deep"},
		{name: "nesting at the bound", in: strings.Repeat("${NOPE:-", 8) + "x" + strings.Repeat("}", 8), want: "x"},
		{name: "plain dollars at the bound", in: strings.Repeat("${NOPE:-", 8) + "$$x" + strings.Repeat("}", 8), want: "$x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := expandVars(tc.in, lookup)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Error(diff)
			}
		})
	}
}
