package credential

import (
	"fmt"
	"strings"
)

// CheckHeaderValue reports why v cannot be sent as the value of an HTTP
// header carrying a credential of kind k, or nil.
//
// The Copilot runtime refuses such a header and quotes the whole value in its
// error, and Go's http.Client refuses it too: a credential with a stray
// newline (a Kubernetes secret written with `echo`), a CR, a NUL or a
// non-ASCII byte must be stopped where it is loaded, with an error that names
// where it came from and the byte offset, never the value.
//
// Bearer tokens (RFC 6750 b64token, JWTs, opaque tokens) never contain
// whitespace. API keys travel in their own header (`api-key`, `x-api-key`),
// where HTTP allows inner spaces; leading or trailing whitespace is refused
// for both, because HTTP strips it and the server would see another value.
func CheckHeaderValue(v string, k Kind) error {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c > 0x20 && c < 0x7f:
			continue
		case (c == ' ' || c == '\t') && k == KindAPIKey && i > 0 && strings.TrimRight(v[i:], " \t") != "":
			continue
		}
		return fmt.Errorf("byte %d of %d is %s, which an HTTP header cannot carry%s", i, len(v), describeByte(c), hint(v[i:]))
	}
	return nil
}

func describeByte(c byte) string {
	switch c {
	case '\n':
		return "a line feed (0x0a)"
	case '\r':
		return "a carriage return (0x0d)"
	case '\t':
		return "a tab (0x09)"
	case ' ':
		return "a space"
	case 0:
		return "a NUL byte"
	case 0x7f:
		return "a DEL control character (0x7f)"
	}
	if c < 0x20 {
		return fmt.Sprintf("a control character (0x%02x)", c)
	}
	// The byte of a multi-byte character is not shown: it would give away
	// part of the value for nothing.
	return "a non-ASCII byte"
}

// hint says what usually causes the refused byte.
func hint(rest string) string {
	if strings.TrimSpace(rest) == "" {
		return " (trailing whitespace or an extra newline: remove it where the credential is written)"
	}
	return ""
}

// checkFetched refuses a fetched token that cannot be sent as a header
// value: whatever its source (a plugin, Entra, a custom source), it is caught
// here rather than quoted in full by the runtime's error.
func checkFetched(tok *Token) error {
	if err := CheckHeaderValue(tok.Value.Reveal(), tok.Kind); err != nil {
		return fmt.Errorf("source returned a token that cannot be sent: %w", err)
	}
	return nil
}
