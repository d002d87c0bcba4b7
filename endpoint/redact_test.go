package endpoint_test

import (
	"strings"
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

// TestRedactVars: every part beyond scheme://host[:port] that came from a
// variable is hidden, wherever it sits (issue 23, finding 8).
func TestRedactVars(t *testing.T) {
	const canary = "CANARY-var-2718"
	// span finds the first occurrence of value in raw.
	span := func(raw, value, name string) endpoint.Span {
		i := strings.Index(raw, value)
		return endpoint.Span{Start: i, End: i + len(value), Name: name}
	}
	tests := []struct {
		name, in string
		vars     func(string) []endpoint.Span
		want     string
	}{
		{"no variables", "https://gw.example/v1?code=" + canary, nil, "https://gw.example/v1?code=[REDACTED]"},
		{"path segment", "https://fn.example/api/" + canary + "/v1",
			func(s string) []endpoint.Span { return []endpoint.Span{span(s, canary, "FN_KEY")} }, "https://fn.example/api/${FN_KEY}/v1"},
		{";param", "https://gw.example/v1;sig=" + canary,
			func(s string) []endpoint.Span { return []endpoint.Span{span(s, canary, "SIG")} }, "https://gw.example/v1;sig=${SIG}"},
		{"query value", "https://gw.example/v1?code=" + canary,
			func(s string) []endpoint.Span { return []endpoint.Span{span(s, canary, "CODE")} }, "https://gw.example/v1?code=[REDACTED]"},
		{"harmless query name from a variable", "https://gw.example/v1?api-version=" + canary,
			func(s string) []endpoint.Span { return []endpoint.Span{span(s, canary, "V")} }, "https://gw.example/v1?api-version=${V}"},
		{"host from a variable is kept", "https://" + "gw.example" + "/v1",
			func(s string) []endpoint.Span { return []endpoint.Span{span(s, "gw.example", "HOST")} }, "https://gw.example/v1"},
		{"host and port from a variable", "http://127.0.0.1:8080/v1",
			func(s string) []endpoint.Span { return []endpoint.Span{span(s, "127.0.0.1:8080", "ADDR")} }, "http://127.0.0.1:8080/v1"},
		{"whole URL: its path is hidden", "https://gw.example/" + canary + "/v1",
			func(s string) []endpoint.Span { return []endpoint.Span{{Start: 0, End: len(s), Name: "URL"}} }, "https://gw.example/[REDACTED]"},
		{"whole URL without a path", "https://gw.example/",
			func(s string) []endpoint.Span { return []endpoint.Span{{Start: 0, End: len(s), Name: "URL"}} }, "https://gw.example/"},
		{"whole URL with a query only", "https://gw.example?code=" + canary,
			func(s string) []endpoint.Span { return []endpoint.Span{{Start: 0, End: len(s), Name: "URL"}} }, "https://gw.example?[REDACTED]"},
		{"two variables, text between", "https://gw.example/a/" + canary + "/b/" + canary + "x",
			func(s string) []endpoint.Span {
				i := strings.LastIndex(s, canary)
				return []endpoint.Span{span(s, canary, "A"), {Start: i, End: i + len(canary), Name: "B"}}
			}, "https://gw.example/a/${A}/b/${B}x"},
		{"no scheme: all of it counts as path", canary + "/v1",
			func(s string) []endpoint.Span { return []endpoint.Span{span(s, canary, "X")} }, "${X}/v1"},
		{"spans out of range are ignored, the rest still redacted", "https://gw.example/v1?k=" + canary,
			func(string) []endpoint.Span { return []endpoint.Span{{Start: 5, End: 500, Name: "X"}} }, "https://gw.example/v1?k=[REDACTED]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var spans []endpoint.Span
			if tc.vars != nil {
				spans = tc.vars(tc.in)
			}
			if diff := cmp.Diff(tc.want, endpoint.RedactVars(tc.in, spans)); diff != "" {
				t.Errorf("RedactVars(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestSensitiveHeaderAndHostEnd(t *testing.T) {
	headers := map[string]bool{
		"Authorization": true, "Api-Key": true, "Ocp-Apim-Subscription-Key": true, "Cookie": true,
		"X-Session-Token": true, "X-Amz-Signature": true, "X-Team": false, "Content-Type": false, "X-Request-Id": false,
	}
	for name, want := range headers {
		if got := endpoint.SensitiveHeader(name); got != want {
			t.Errorf("SensitiveHeader(%q) = %v, want %v", name, got, want)
		}
	}
	urls := map[string]int{
		"https://h.example:8443/v1?x=1": len("https://h.example:8443"),
		"https://h.example":             len("https://h.example"),
		"h.example/v1":                  0,
		"a/b://c":                       0,
	}
	for raw, want := range urls {
		if got := endpoint.HostEnd(raw); got != want {
			t.Errorf("HostEnd(%q) = %d, want %d", raw, got, want)
		}
	}
}
