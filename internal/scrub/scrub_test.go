package scrub_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/scrub"
)

func TestScrubRemovesEveryShapeOfACredential(t *testing.T) {
	const key = "CANARY-scrub-0123456789abcdef"
	tests := []struct {
		name, value, text, want string
	}{
		{name: "as is", value: key, text: "bad header: " + key + " (x)", want: "bad header: [REDACTED] (x)"},
		{name: "with its stray newline", value: key + "\n", text: "value for x-api-key: " + key + "\n", want: "value for x-api-key: [REDACTED]"},
		{name: "Go-quoted", value: key + "\x01", text: `header "` + key + `\x01" refused`, want: `header "[REDACTED]" refused`},
		{name: "JSON-escaped", value: key + "\r\n", text: `{"value":"` + key + `\r\n"}`, want: `{"value":"[REDACTED]"}`},
		{name: "cut at a control character", value: "abcdefghij\x7fklmnopqrstu", text: "got abcdefghij then klmnopqrstu", want: "got [REDACTED] then [REDACTED]"},
		{name: "short pieces are left alone", value: "abc\x01" + key, text: "abc was [REDACTED]" + key, want: "abc was [REDACTED][REDACTED]"},
		{name: "too short to be a credential", value: "ka", text: "kangaroo", want: "kangaroo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s scrub.Set
			s.Add(tc.value)
			if diff := cmp.Diff(tc.want, s.Scrub(tc.text)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// A key file with an extra newline (a Kubernetes secret written with echo)
// used to pass validate, token and doctor, and then `chat` printed the whole
// key in the runtime's "Invalid native model HTTP header value for
// x-api-key: <key>" (issue 19.1). It is refused at load, naming the file and
// the byte, and no command prints it.
