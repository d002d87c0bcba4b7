package endpoint

import (
	"net/url"
	"strings"

	"github.com/byokcred/byokcred/credential"
)

// harmlessQueryParams are the query parameters whose values Redact
// keeps: they select an API version or a mode, and seeing them helps to
// diagnose a request. Any other value may be a secret (?api-key=, ?code=,
// ?sig=, a gateway's own name for its key), so it is not printed.
var harmlessQueryParams = map[string]bool{
	"api-version": true, // Azure OpenAI
	"beta":        true, // Anthropic clients send ?beta=true
	"stream":      true,
}

// Redact returns raw fit for printing: the value of every query
// parameter except known harmless ones (api-version), a parameter without a
// value, any user info and the fragment are replaced by [credential.Redacted]. The
// rest is kept as written. It works on the text, so a URL that does not
// parse is redacted too. Query parameters are split on both "&" and ";":
// some servers accept either.
func Redact(raw string) string {
	rest, frag, hasFrag := strings.Cut(raw, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	var b strings.Builder
	b.Grow(len(raw))
	b.WriteString(redactUserInfo(rest))
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(redactQuery(query))
	}
	if hasFrag {
		b.WriteByte('#')
		if frag != "" {
			b.WriteString(credential.Redacted)
		}
	}
	return b.String()
}

// redactUserInfo replaces the user:password part of scheme://user@host.
func redactUserInfo(s string) string {
	scheme, after, ok := strings.Cut(s, "://")
	if !ok || strings.ContainsAny(scheme, "/?#") {
		return s
	}
	authority := after
	if i := strings.IndexByte(after, '/'); i >= 0 {
		authority = after[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return s
	}
	return scheme + "://" + credential.Redacted + after[at:]
}

// redactQuery redacts a raw query (without the "?").
func redactQuery(q string) string {
	var b strings.Builder
	b.Grow(len(q))
	for q != "" {
		part := q
		sep := ""
		if i := strings.IndexAny(q, "&;"); i >= 0 {
			part, sep, q = q[:i], q[i:i+1], q[i+1:]
		} else {
			q = ""
		}
		if part != "" {
			name, _, hasValue := strings.Cut(part, "=")
			decoded, err := url.QueryUnescape(name)
			switch {
			case err == nil && harmlessQueryParams[strings.ToLower(decoded)]:
				b.WriteString(part)
			case hasValue:
				b.WriteString(name + "=" + credential.Redacted)
			default:
				// A bare value (?s3cret) may be the secret itself.
				b.WriteString(credential.Redacted)
			}
		}
		b.WriteString(sep)
	}
	return b.String()
}

// Span is a part of a string that came from an environment variable: bytes
// [Start, End) hold the value of Name.
type Span struct {
	Start, End int
	Name       string
}

// RedactVars returns raw fit for printing as Redact does, and also hides
// every part beyond scheme://host[:port] that came from an environment
// variable (spans, as the config loader records them): a variable may hold
// a secret in a path segment or a ;param (https://fn.example/${FN_KEY}/v1),
// where Redact, working on the text alone, cannot know it. A variable
// whose value lies wholly beyond the host is shown as ${NAME}; the
// path of a variable that holds the whole URL is shown as [REDACTED]
// (its scheme and host are kept: they name the endpoint and are no
// secret). The host itself is kept even when it came from a variable.
func RedactVars(raw string, spans []Span) string {
	if len(spans) == 0 {
		return Redact(raw)
	}
	hostEnd := HostEnd(raw)
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		if sp.Start < at || sp.End > len(raw) || sp.End <= sp.Start || sp.End <= hostEnd {
			continue // overlapping, out of range, or within scheme://host
		}
		start := max(sp.Start, hostEnd)
		b.WriteString(raw[at:start])
		if sp.Start >= hostEnd {
			b.WriteString("${" + sp.Name + "}")
		} else if tail := raw[start:sp.End]; len(tail) > 1 || !strings.ContainsAny(tail, "/?#") {
			if strings.ContainsAny(tail[:1], "/?#") {
				b.WriteByte(tail[0]) // the separator shows where it sits
			}
			b.WriteString(credential.Redacted)
		} else {
			b.WriteString(tail)
		}
		at = sp.End
	}
	b.WriteString(raw[at:])
	return Redact(b.String())
}

// HostEnd is the length of raw's scheme://host[:port] (0 when raw has no
// scheme): the part of a URL that names the endpoint and is no secret, kept
// by RedactVars even when it came from a variable.
func HostEnd(raw string) int {
	scheme, after, ok := strings.Cut(raw, "://")
	if !ok || strings.ContainsAny(scheme, "/?#") {
		return 0
	}
	if i := strings.IndexAny(after, "/?#"); i >= 0 {
		return len(scheme) + 3 + i
	}
	return len(raw)
}

// sensitiveHeaderWords mark header names that may carry a secret. Matching
// by word rather than by a fixed list also covers gateway-specific names
// (X-Gateway-Key, X-Session-Token).
var sensitiveHeaderWords = []string{"auth", "key", "token", "secret", "password", "cookie", "session", "signature", "sig", "credential"}

// SensitiveHeader reports whether a header named name may carry a secret
// (Authorization, Api-Key, Ocp-Apim-Subscription-Key, Cookie, …): its value
// is never logged by the proxy nor sent by the agent's provider description.
func SensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	for _, w := range sensitiveHeaderWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}
