// Package tokenlogic is the token logic of the plugin-fetch benchmark's
// credential programs (bench/internal/tokenprog as a plugin,
// bench/internal/tokenexec as an exec-per-fetch helper): the same work per
// token, whichever way the program is run.
package tokenlogic

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Lifetime of each token.
const Lifetime = time.Hour

// key signs the tokens. They are benchmark tokens: nothing verifies them.
var key = []byte("byokcred-bench-tokenlogic-signing-key")

// Mint returns an HMAC-signed JWT-shaped token for subject, issued at now,
// and its expiry.
func Mint(subject string, now time.Time) (string, time.Time) {
	exp := now.Add(Lifetime).Truncate(time.Second)
	jti := make([]byte, 8)
	rand.Read(jti)
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{
		"sub": subject, "aud": "https://bench.byokcred.example", "iat": now.Unix(), "exp": exp.Unix(), "jti": hex.EncodeToString(jti),
	})
	signed := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(signed))
	return signed + "." + enc.EncodeToString(mac.Sum(nil)), exp
}
