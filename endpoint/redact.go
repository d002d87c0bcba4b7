package endpoint

import (
	"net/url"
	"strings"

	"github.com/byokcred/byokcred/provider"
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
// value, any user info and the fragment are replaced by [provider.Redacted]. The
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
			b.WriteString(provider.Redacted)
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
	return scheme + "://" + provider.Redacted + after[at:]
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
				b.WriteString(name + "=" + provider.Redacted)
			default:
				// A bare value (?s3cret) may be the secret itself.
				b.WriteString(provider.Redacted)
			}
		}
		b.WriteString(sep)
	}
	return b.String()
}
