package proxy

import (
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/endpoint"
	"github.com/byokcred/byokcred/registry"
)

// headerLog renders headers for slog with secret values replaced by
// credential.Redacted: every sensitive-looking name, and every header the
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
		if endpoint.SensitiveHeader(k) || configured[http.CanonicalHeaderKey(k)] {
			v = credential.Redacted
		}
		attrs = append(attrs, slog.String(strings.ToLower(k), v))
	}
	return slog.GroupValue(attrs...)
}

// redactQuery returns a raw query for logs: credential.RedactURL's rules, so
// that every URL byokcred prints is redacted alike.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	return strings.TrimPrefix(endpoint.Redact("?"+raw), "?")
}

// upstreamForLog renders the upstream URL of a request for logs: p's base
// URL as `providers` shows it (every part beyond the host that came from a
// ${VAR} hidden: a path segment or a ;param may be a key), the client's path
// after the provider's prefix, and the joined query redacted.
func upstreamForLog(p *registry.Provider, rest, rawQuery string) string {
	base, _, _ := strings.Cut(p.ShownBaseURL(), "?")
	s := strings.TrimRight(base, "/") + rest
	if rawQuery != "" {
		s += "?" + redactQuery(rawQuery)
	}
	return s
}
