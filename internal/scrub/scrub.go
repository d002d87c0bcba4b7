// Package scrub removes credentials from text that byokcred did not write
// itself: the Copilot runtime's error messages, which are plain text, not
// credential.Secret, and have quoted a whole key.
package scrub

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"

	copilot "github.com/github/copilot-sdk/go"

	"github.com/byokcred/byokcred/credential"
)

// minFragment is the shortest piece of a credential scrubbed on its own.
// Shorter pieces (a key split at a stray control character) would garble
// ordinary words in the message and give little away.
const minFragment = 8

// minValue is the shortest credential remembered: a shorter one is no real
// credential, and replacing it would garble every message it occurs in.
const minValue = 4

// maxRemembered bounds the credentials remembered in one run: a chat that
// lasts for days sees a new token every hour or so, far fewer than this.
const maxRemembered = 4096

// Set remembers every credential handed to the Copilot runtime in this
// run. The runtime's errors are text, not credential.Secret: it has quoted a
// whole key in one ("Invalid native model HTTP header value for x-api-key:
// <key>"), so everything it says is scrubbed of these values before byokcred
// prints it.
type Set struct {
	mu     sync.Mutex
	values map[string]struct{}
}

// Add remembers v (a value shorter than 4 bytes is no real credential and
// is not remembered).
func (s *Set) Add(v string) {
	if len(v) < minValue {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]struct{}{}
	}
	if len(s.values) < maxRemembered {
		s.values[v] = struct{}{}
	}
}

// Scrub replaces every remembered credential in text with [REDACTED] in the
// shapes a message may carry it: as it is, escaped as in Go or JSON quoting,
// and each run of at least minFragment visible characters of it, so that a
// value cut at a newline or a control character is caught too.
func (s *Set) Scrub(text string) string {
	s.mu.Lock()
	var forms []string
	for v := range s.values {
		forms = append(forms, v, unquoted(strconv.Quote(v)), unquoted(strconv.QuoteToASCII(v)))
		if b, err := json.Marshal(v); err == nil {
			forms = append(forms, unquoted(string(b)))
		}
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			if len(f) >= minFragment {
				forms = append(forms, f)
			}
		}
	}
	s.mu.Unlock()
	// Longest first, so that a value is replaced whole before its pieces.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	for _, f := range forms {
		if f != "" {
			text = strings.ReplaceAll(text, f, credential.Redacted)
		}
	}
	return text
}

func unquoted(q string) string { return q[1 : len(q)-1] }

// Remember records the credentials a session config hands to the runtime,
// including every token its callbacks return later, and the header values
// (a header may carry a key too).
func (s *Set) Remember(sc *copilot.SessionConfig) {
	if sc == nil {
		return
	}
	if p := sc.Provider; p != nil {
		p.BearerTokenProvider = s.rememberProvider(p.APIKey, p.BearerToken, p.Headers, p.BearerTokenProvider)
	}
	for i := range sc.Providers {
		p := &sc.Providers[i]
		p.BearerTokenProvider = s.rememberProvider(p.APIKey, p.BearerToken, p.Headers, p.BearerTokenProvider)
	}
}

func (s *Set) rememberProvider(apiKey, bearer string, headers map[string]string, cb copilot.BearerTokenProvider) copilot.BearerTokenProvider {
	s.Add(apiKey)
	s.Add(bearer)
	for _, v := range headers {
		if len(v) >= minFragment { // `1`, `true`: not worth garbling text for
			s.Add(v)
		}
	}
	if cb == nil {
		return nil
	}
	return func(args copilot.ProviderTokenArgs) (string, error) {
		tok, err := cb(args)
		s.Add(tok)
		return tok, err
	}
}
