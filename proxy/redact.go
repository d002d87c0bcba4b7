package proxy

import (
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/byokcred/byokcred/endpoint"
	"github.com/byokcred/byokcred/provider"
)

// sensitiveWords mark header names whose values are never logged.
// Matching by word rather than by a fixed list also covers gateway-specific
// names (X-Gateway-Key, X-Session-Token).
var sensitiveWords = []string{"auth", "key", "token", "secret", "password", "cookie", "session", "signature", "sig", "credential"}

// sensitive reports whether a header named name may carry a secret.
func sensitive(name string) bool {
	n := strings.ToLower(name)
	for _, w := range sensitiveWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// headerLog renders headers for slog with secret values replaced by
// provider.Redacted: every sensitive-looking name, and every header the
// provider's config adds (their values come from ${VAR}s, which may be
// secrets under any name).
type headerLog struct {
	h     http.Header
	extra map[string]string
}

// LogValue implements slog.LogValuer.
func (l headerLog) LogValue() slog.Value {
	configured := make(map[string]bool, len(l.extra))
	for k := range l.extra {
		configured[http.CanonicalHeaderKey(k)] = true
	}
	keys := slices.Sorted(maps.Keys(l.h))
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		v := strings.Join(l.h[k], ", ")
		if sensitive(k) || configured[http.CanonicalHeaderKey(k)] {
			v = provider.Redacted
		}
		attrs = append(attrs, slog.String(strings.ToLower(k), v))
	}
	return slog.GroupValue(attrs...)
}

// redactQuery returns a raw query for logs: provider.RedactURL's rules, so
// that every URL byokcred prints is redacted alike.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	return strings.TrimPrefix(endpoint.Redact("?"+raw), "?")
}

// redactURL renders u for logs with its query redacted.
func redactURL(u *url.URL) string {
	return endpoint.Redact(u.String())
}
