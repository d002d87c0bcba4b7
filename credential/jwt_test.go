package credential

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// An exp beyond year 9999 reads as no expiry: as a time it cannot be written
// as RFC 3339 or JSON (`token --json` failed) and overflows durations.
func TestParseClaimsExpiryRange(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name string
		exp  string
		want time.Time
	}{
		{"ordinary", "1798761600", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"last second of 9999", "253402300799", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"past 9999", "253402300800", time.Time{}},
		{"absurd", "1e300", time.Time{}},
		{"negative", "-5", time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := ParseClaims(NewSecret(enc([]byte(`{}`)) + "." + enc([]byte(fmt.Sprintf(`{"exp":%s}`, tc.exp))) + ".s"))
			if !ok {
				t.Fatal("not parsed as a JWT")
			}
			if diff := cmp.Diff(tc.want, c.Expiry); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if _, err := c.Expiry.MarshalJSON(); err != nil {
				t.Errorf("expiry cannot be written as JSON: %v", err)
			}
		})
	}
}
