package credential

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"unicode/utf8"
)

// Redacted is what every formatting path prints in place of a secret.
const Redacted = "[REDACTED]"

// Secret holds a credential: an API key or a bearer token.
//
// Every way Go prints a value — fmt's verbs (including %#v and %q), String,
// GoString, slog (text and JSON) and encoding/json — prints [Redacted] instead
// of the value. The raw value is reachable only through [Secret.Reveal], so a
// leak has to be written on purpose.
//
// The value sits behind a pointer on purpose: when a Secret is an unexported
// field of some other struct, fmt prints that struct by reflection without
// calling Secret's methods, and a pointer then prints as an address, never as
// the text it points to.
//
// The zero Secret is empty. Secrets are immutable and safe to copy.
type Secret struct {
	p *string
}

// NewSecret wraps a raw credential value.
func NewSecret(value string) Secret {
	return Secret{p: &value}
}

// Reveal returns the raw value. Call it only at the point where the value
// leaves the process for its intended recipient (a request header, or
// `byokcred token --show`).
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.p == nil || *s.p == "" }

// Len returns the length of the value in bytes; it reveals nothing else.
func (s Secret) Len() int {
	if s.p == nil {
		return 0
	}
	return len(*s.p)
}

// Equal reports whether two secrets hold the same value.
func (s Secret) Equal(o Secret) bool { return s.Reveal() == o.Reveal() }

// Fingerprint returns a short, stable digest of the value: enough to tell two
// tokens apart in a log line ("did the token rotate?") and useless for
// recovering the value.
func (s Secret) Fingerprint() string {
	if s.IsZero() {
		return "empty"
	}
	sum := sha256.Sum256([]byte(*s.p))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

// Mask returns a display form for humans: at most the first four characters
// (only for values long enough that four characters give nothing away), the
// length and the fingerprint.
func (s Secret) Mask() string {
	n := s.Len()
	if n == 0 {
		return "(empty)"
	}
	prefix := ""
	if n >= 24 {
		v := *s.p
		i := 0
		for j := 0; j < 4 && i < len(v); j++ {
			_, size := utf8.DecodeRuneInString(v[i:])
			i += size
		}
		prefix = v[:i]
	}
	return fmt.Sprintf("%s…(%d chars, %s)", prefix, n, s.Fingerprint())
}

// String implements fmt.Stringer.
func (Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer (%#v).
func (Secret) GoString() string { return "credential.Secret{" + Redacted + "}" }

// Format implements fmt.Formatter so that every verb, including %x, %q and
// %d, redacts.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, Redacted)
	case 'q':
		fmt.Fprintf(f, "%q", Redacted)
	default:
		fmt.Fprint(f, Redacted)
	}
}

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON redacts in JSON output.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText redacts in text encodings (YAML, TOML, flag printing).
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
