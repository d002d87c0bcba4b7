package provider

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// maxExp is 9999-12-31T23:59:59Z in Unix seconds.
const maxExp = 253402300799

// ParseClaims reads the payload of a JWT without verifying its signature:
// byokcred only shows the claims to an operator and reads the expiry of a
// token it got from a trusted channel; the endpoint that receives the token
// does the verifying. ok is false when v is not a JWT.
func ParseClaims(v Secret) (c Claims, ok bool) {
	parts := strings.Split(v.Reveal(), ".")
	if len(parts) != 3 {
		return Claims{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Claims{}, false
	}
	var raw struct {
		Claims
		Aud any     `json:"aud"`
		Exp float64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return Claims{}, false
	}
	c = raw.Claims
	switch aud := raw.Aud.(type) {
	case string:
		c.Audience = aud
	case []any:
		var s []string
		for _, a := range aud {
			if as, ok := a.(string); ok {
				s = append(s, as)
			}
		}
		c.Audience = strings.Join(s, ",")
	}
	// An exp past year 9999 is "never" in practice; as a time it would
	// overflow durations and cannot be written as RFC 3339 or JSON.
	if raw.Exp > 0 && raw.Exp <= maxExp {
		c.Expiry = time.Unix(int64(raw.Exp), 0).UTC()
	}
	return c, true
}
