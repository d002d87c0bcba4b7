// Package storetest loads a one-provider config whose static credential
// comes from a secret store, on a fake clock with a fast backoff, for the
// store modules' tests.
package storetest

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
	"github.com/byokcred/byokcred/registry"
)

// Load loads provider "p" (type openai) whose `auth:` block is `type:
// static` followed by block (lines indented six spaces, such as
// "      api_key_secret: {…}"), logging to logs, the store's requests going
// through client (registry.Options.HTTPClient; nil: the SDK's default). The
// set is closed when the test ends.
func Load(t testing.TB, clock *fakeclock.Clock, logs *syncbuf.Buffer, client *http.Client, block string) *registry.Provider {
	t.Helper()
	path := configtest.Write(t, "providers:\n  p:\n    type: openai\n    base_url: https://a.example\n    model: m\n    auth:\n      type: static\n"+block+"\n")
	set, err := registry.Load(path, registry.Options{
		Now:        clock.Now,
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
		HTTPClient: client,
		Cache:      credential.CacheOptions{MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Jitter: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	p, err := set.Provider("p")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Value returns p's credential, failing the test on an error.
func Value(t testing.TB, p *registry.Provider) string {
	t.Helper()
	tok, err := p.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value.Reveal()
}

// Canaries of [TwoVendors], the README's example of one secret holding
// several vendors' keys.
const (
	OpenAICanary    = "sk-CANARY-store-openai-3b9f1c"
	AnthropicCanary = "sk-ant-CANARY-store-anthropic-8e2d4a"
)

// TwoVendors is a secret holding two vendors' keys, which without json_key
// must be refused, never sent whole (issue 23, finding 4).
const TwoVendors = `{"anthropic": "` + AnthropicCanary + `", "openai": "` + OpenAICanary + `"}`

// Oversized returns a value of n bytes that starts with a canary, so that
// a test can check no part of it is shown: the secret too large for a
// store's answer (issue 23, finding 17).
func Oversized(n int) string {
	return OversizedCanary + strings.Repeat("x", n-len(OversizedCanary))
}

// OversizedCanary starts every [Oversized] value.
const OversizedCanary = "sk-CANARY-oversized-4d7e1a"

// Refused checks that p serves no credential and that its error holds each
// of want, while neither the error nor logs holds any of secrets.
func Refused(t testing.TB, p *registry.Provider, logs *syncbuf.Buffer, want []string, secrets ...string) {
	t.Helper()
	tok, err := p.Token(context.Background())
	if err == nil {
		t.Fatalf("got a credential of %d bytes, want an error", len(tok.Value.Reveal()))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not hold %q", err, w)
		}
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error shows a secret: %v", err)
		}
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log shows a secret:\n%s", logs)
		}
	}
}

// Eventually polls f for up to five seconds (the cache re-reads in the
// background).
func Eventually(t testing.TB, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
