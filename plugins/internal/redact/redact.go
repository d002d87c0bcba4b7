// Package redact keeps credentials out of the text plugins and the host
// log or return: known secret values and credential-shaped text are
// replaced, and long text is cut.
package redact

import (
	"sort"
	"strings"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/credshape"
	"github.com/byokcred/byokcred/internal/lazyre"
)

// MinRedactLen is the shortest secret that [Redact] replaces verbatim: a
// shorter value would match ordinary words all over a log line and give
// nothing away on its own.
const MinRedactLen = 6

var (
	// A JWT: three base64url segments, the first two starting with the
	// encoding of `{"`. Catches OIDC and Entra tokens that were never seen
	// as a return value.
	jwtPattern = lazyre.New(`eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
	// An Authorization header value: `Bearer x`, `Basic x`.
	headerPattern = lazyre.New(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`)
	// A key=value that names a secret, in the shapes that tools print:
	// `token: x`, `api_key=x`, "access_token":"x".
	pairPattern = lazyre.New(`(?i)\b((?:access|refresh|id)?_?token|api[_-]?key|client[_-]?secret|secret|password|authorization)("?\s*[:=]\s*"?)[^\s",}]{6,}`)
)

// Redact returns s with every occurrence of each secret (of at least
// [MinRedactLen] bytes) and anything shaped like a JWT, a bearer header, a
// `token=…` pair or a bare credential (a well-known prefix such as sk- or
// AKIA, or a long run of mixed letters and digits, or of hex: see
// [credshape.Mask]) replaced by [credential.Redacted]. The last catches a
// secret no one named: `cat pw.txt >&2` in a plugin's command.
//
// It is a safety net for text that a plugin or a command produced (log
// lines, stderr, error messages): it cannot know every secret, so the rule
// stays that plugins never print one.
func Redact(s string, secrets ...string) string {
	if s == "" {
		return s
	}
	// Longest first, so that a secret containing another is replaced whole.
	sorted := append([]string(nil), secrets...)
	sort.Slice(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	for _, sec := range sorted {
		if len(sec) >= MinRedactLen && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, credential.Redacted)
		}
	}
	s = jwtPattern.ReplaceAllString(s, credential.Redacted)
	s = headerPattern.ReplaceAllString(s, "$1 "+credential.Redacted)
	s = pairPattern.ReplaceAllStringFunc(s, func(m string) string {
		sub := pairPattern.FindStringSubmatch(m)
		// Only a value that looks generated, so that prose such as
		// "invalid token: unknown kind" survives.
		if !looksGenerated(m[len(sub[1])+len(sub[2]):]) {
			return m
		}
		return sub[1] + sub[2] + credential.Redacted
	})
	return credshape.Mask(s)
}

// looksGenerated reports whether a value looks like a credential rather
// than a word: it has a digit, or is too long for a word.
func looksGenerated(v string) bool {
	return len(v) >= 20 || strings.ContainsAny(v, "0123456789")
}

// Truncate cuts s to at most n bytes on a rune boundary, marking the cut.
// Redact first: a cut can split a secret so that Redact no longer sees it.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…(truncated)"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
