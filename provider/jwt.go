package provider

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

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
	if raw.Exp > 0 {
		c.Expiry = time.Unix(int64(raw.Exp), 0).UTC()
	}
	return c, true
}

// Claims are the JWT claims byokcred shows to operators.
type Claims struct {
	Audience string    `json:"aud"`
	Issuer   string    `json:"iss"`
	TenantID string    `json:"tid"`
	ObjectID string    `json:"oid"`
	AppID    string    `json:"appid"`
	Expiry   time.Time `json:"-"`
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
