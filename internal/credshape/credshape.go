// Package credshape tells text shaped like a credential from ordinary
// words, for text byokcred did not write and cannot check against the
// secrets it knows: a plugin's stderr (`cat pw.txt >&2`), the field names
// of a JSON secret (a name may itself be a key).
//
// It is a heuristic, and errs towards masking: a 40-digit commit hash or a
// UUID in a plugin's diagnostics is masked along with the keys it resembles,
// while paths, URLs, host names, error codes and prose are kept. A secret
// shaped like prose (a passphrase of words) is not caught; the rule stays
// that nothing prints one.
package credshape

import (
	"strings"

	"github.com/byokcred/byokcred/credential"
)

// MinOpaque is the shortest run judged by its shape alone: generated keys
// are longer, while shorter runs are mostly words, numbers and ids.
const MinOpaque = 20

// prefixes start the credentials of well-known services; a run that starts
// with one and goes on for at least minAfterPrefix characters is masked
// whatever its length.
var prefixes = []string{
	"sk-", "sk_", "rk_", "pk_live_", // OpenAI, Anthropic (sk-ant-), Stripe
	"AKIA", "ASIA", // AWS access key ids
	"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", // GitHub
	"glpat-",                                    // GitLab
	"xoxa-", "xoxb-", "xoxp-", "xoxr-", "xapp-", // Slack
	"AIza", "ya29.", // Google API keys and access tokens
	"eyJ",   // base64 of `{"`: JWTs and encoded JSON documents
	"hf_",   // Hugging Face
	"npm_",  // npm
	"pypi-", // PyPI
	"SG.",   // SendGrid
}

const minAfterPrefix = 8

// hasPrefix reports whether s is a well-known prefix and enough after it.
func hasPrefix(s string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) && len(s) >= len(p)+minAfterPrefix {
			return true
		}
	}
	return false
}

// isRunByte reports whether c can be part of a credential: base64 (standard
// and URL-safe, with padding), hex, and the separators of structured keys.
func isRunByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("+/=_.~-", c) >= 0
}

// isSegmentSep splits a run into the parts of a path, a host name or a
// key=value pair, each judged on its own.
func isSegmentSep(c byte) bool { return c == '/' || c == '.' || c == '=' }

// Looks reports whether s, a word without spaces, looks like a credential:
// it starts with a well-known prefix, or it is at least [MinOpaque] bytes
// of letters and digits mixed the way generated keys mix them (every
// second or third character changes between lower case, upper case and
// digit; words, paths and identifiers rarely change), or of hex digits.
func Looks(s string) bool {
	if hasPrefix(s) {
		return true
	}
	if len(s) < MinOpaque {
		return false
	}
	var lower, upper, digit, hex, pairs, changes int
	prev := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		class := 0
		switch {
		case c >= 'a' && c <= 'z':
			class, lower = 1, lower+1
		case c >= 'A' && c <= 'Z':
			class, upper = 2, upper+1
		case c >= '0' && c <= '9':
			class, digit = 3, digit+1
		}
		if (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') {
			hex++
		}
		if class != 0 && prev != 0 {
			pairs++
			if class != prev {
				changes++
			}
		}
		prev = class
	}
	letters := lower + upper
	switch {
	case letters+digit < MinOpaque:
		return false
	case hex == letters && digit > 0 && letters > 0 && strings.Trim(s, "0123456789abcdefABCDEF-") == "":
		// A hex digest, a hex key, a UUID.
		return true
	case pairs == 0:
		return false
	}
	ratio := float64(changes) / float64(pairs)
	// Random base62 changes class at 62% of pairs, hex at 53%; camelCase
	// identifiers stay under 40%, paths and prose under 10%.
	return (digit > 0 && letters > 0 && ratio >= 0.3) || (upper > 0 && lower > 0 && ratio >= 0.45)
}

// Mask returns s with every run of credential characters that [Looks] like
// a credential replaced by [credential.Redacted]. A run's parts between
// slashes, dots and equals signs are judged first, so that a key at the end
// of a path or after `name=` is masked and the rest kept; then the whole.
func Mask(s string) string {
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); {
		if !isRunByte(s[i]) {
			j := i + 1
			for j < len(s) && !isRunByte(s[j]) {
				j++
			}
			b.WriteString(s[i:j])
			i = j
			continue
		}
		j := i + 1
		for j < len(s) && isRunByte(s[j]) {
			j++
		}
		run := s[i:j]
		if m := maskRun(run); m != run {
			changed = true
			b.WriteString(m)
		} else {
			b.WriteString(run)
		}
		i = j
	}
	if !changed {
		return s
	}
	return b.String()
}

func maskRun(run string) string {
	// A known prefix takes the whole run: a JWT's signature is its own part.
	word := strings.TrimRight(run, ".")
	if hasPrefix(word) {
		return credential.Redacted + run[len(word):]
	}
	// Then the parts, so that a path or a name= before a key is kept.
	var b strings.Builder
	changed := false
	start := 0
	for i := 0; i <= len(run); i++ {
		if i < len(run) && !isSegmentSep(run[i]) {
			continue
		}
		seg := run[start:i]
		if seg != "" && seg != run && Looks(seg) {
			b.WriteString(credential.Redacted)
			changed = true
		} else {
			b.WriteString(seg)
		}
		if i < len(run) {
			b.WriteByte(run[i])
		}
		start = i + 1
	}
	if changed {
		return b.String()
	}
	// Then the whole run: base64 keys hold slashes, and no part of one
	// need be long on its own. A sentence's full stop is not part of it.
	if Looks(word) {
		return credential.Redacted + run[len(word):]
	}
	return run
}
