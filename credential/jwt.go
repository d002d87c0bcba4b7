package credential

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
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
		Iat float64 `json:"iat"`
		Nbf float64 `json:"nbf"`
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
	c.Expiry, c.IssuedAt, c.NotBefore = unixTime(raw.Exp), unixTime(raw.Iat), unixTime(raw.Nbf)
	return c, true
}

// unixTime is a JWT time claim; zero when absent. A time past year 9999 is
// "never" in practice; as a time it would overflow durations and cannot be
// written as RFC 3339 or JSON.
func unixTime(secs float64) time.Time {
	if secs <= 0 || secs > maxExp {
		return time.Time{}
	}
	return time.Unix(int64(secs), 0).UTC()
}

// JWTExpiry is the expiry a JWT states (its exp): zero when v is not a JWT
// or has no exp. An exp that is not after the token's iat or nbf is an
// error: such a token was never valid, and serving it until a clock says
// otherwise would only move the failure to the endpoint. An iat or nbf
// ahead of this host's clock is accepted: issuer and host clocks differ by
// seconds to minutes, and the endpoint applies its own leeway.
func JWTExpiry(v Secret) (time.Time, error) {
	c, ok := ParseClaims(v)
	if !ok || c.Expiry.IsZero() {
		return time.Time{}, nil
	}
	for _, claim := range []struct {
		name string
		at   time.Time
	}{{"iat", c.IssuedAt}, {"nbf", c.NotBefore}} {
		if !claim.at.IsZero() && !c.Expiry.After(claim.at) {
			return time.Time{}, fmt.Errorf("source returned a JWT whose exp (%s) is not after its %s (%s)",
				c.Expiry.Format(time.RFC3339), claim.name, claim.at.Format(time.RFC3339))
		}
	}
	return c.Expiry, nil
}

// Claims are the JWT claims byokcred shows to operators.
type Claims struct {
	Audience string `json:"aud"`
	Issuer   string `json:"iss"`
	TenantID string `json:"tid"`
	ObjectID string `json:"oid"`
	// Subject is sub: names a user where there is no oid (non-Entra
	// issuers).
	Subject string    `json:"sub"`
	AppID   string    `json:"appid"`
	Expiry  time.Time `json:"-"`
	// IssuedAt and NotBefore are iat and nbf (zero when absent): the cache
	// checks that exp comes after them.
	IssuedAt  time.Time `json:"-"`
	NotBefore time.Time `json:"-"`
}

// String is for operators; it contains no secret.
func (c Claims) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("aud", c.Audience)
	add("tid", c.TenantID)
	add("oid", c.ObjectID)
	add("appid", c.AppID)
	return strings.Join(parts, " ")
}
