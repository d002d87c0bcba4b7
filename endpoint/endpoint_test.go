package endpoint

import (
	"fmt"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct{ url, wantErr string }{
		{"https://api.openai.com/v1", ""},
		{"http://127.0.0.1:8080", ""},
		{"http://127.9.9.9", ""},
		{"http://localhost:1234/v1", ""},
		{"http://[::1]:8080", ""},
		{"http://10.0.0.1", "plain http to 10.0.0.1"},
		{"http://localhost.evil.com", "plain http"},
		{"https://user:pw@host", "must not carry user:password"},
		{"api.openai.com", "has no host"},
		{"ws://x", "unsupported URL scheme"},
		{"https://x.example/a b", "URL holds a space, a control or an invisible character at byte 19"},
		{"https://x.example/v1\u202e", "an invisible character at byte 20"},
		{"https://x.example/v\u200b1", "an invisible character at byte 19"},
		{"https://x.example/\x1b[2J", "or an invisible character at byte 18"},
		{"https://x.example/v1\xff", "at byte 20"},
		{"https://bücher.example/ü", ""},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			err := Check(tc.url)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Check(%q) = %v, want %q", tc.url, err, tc.wantErr)
			}
		})
	}
}

// TestCheckNeverQuotesAQueryValue: a URL that fails the check is quoted
// redacted, since its query may hold a key.
func TestCheckNeverQuotesAQueryValue(t *testing.T) {
	err := Check("/v1?api-key=CANARY-q-5150")
	if err == nil || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("err = %v; want an error without the query value", err)
	}
}

// TestCheckUnparsableURL: a URL that does not parse is refused with the
// parser's reason alone, taken from *url.Error rather than cut out of its
// text: the URL itself, which may hold a key, is not quoted.
func TestCheckUnparsableURL(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://x.example/%zz?api-key=CANARY-p-1", `not a valid URL: invalid URL escape "%zz"`},
		{"https://x.example:port/?api-key=CANARY-p-2", `not a valid URL: invalid port ":port" after host`},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			if got := fmt.Sprint(Check(tc.url)); got != tc.want {
				t.Errorf("Check(%q) = %s, want %s", tc.url, got, tc.want)
			}
		})
	}
}
