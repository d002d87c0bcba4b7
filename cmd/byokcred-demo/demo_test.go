package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/scrub"
	"github.com/byokcred/byokcred/internal/testkit/plugintest"
)

func TestMain(m *testing.M) {
	// The demo's plugin leg runs this executable as its token command.
	if len(os.Args) == 3 && os.Args[1] == mintTokenArg {
		if err := mintToken(os.Stdout, os.Args[2], time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	execPlugin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The same legs and output as at watching pace, faster: Entra tokens
	// of 4 s (as the session tests', leaving a request 1 s of validity)
	// still rotate within the 4 turns 1.3 s apart (refresh at half life),
	// the caches' clock skips the stores' refresh_interval, and the
	// runtime reuses the cache it was unpacked into.
	fast := pace{identityLifetime: 4 * time.Second, turnPause: 1300 * time.Millisecond, clock: new(aheadClock)}
	if cache, err := os.UserCacheDir(); err == nil {
		fast.runtimeCache = cache
	}
	var out bytes.Buffer
	if err := run(ctx, &out, filepath.Dir(execPlugin), new(scrub.Set), fast); err != nil {
		t.Fatalf("demo: %v\noutput:\n%s", err, out.String())
	}
	for _, w := range []string{
		"[static key] provider local-openai", "→ POST /v1/chat/completions  Authorization: demo…",
		"→ POST /openai/v1/chat/completions  api-key: demo…", `← reply: "Hello from the loopback model."`,
		"[entra id] provider foundry", "turn 4 → POST /openai/v1/responses  Bearer eyJh…", "(rotated)", "0 requests rejected",
		"[plugin] provider gateway", "one plugin process served", "gateway: exec plugin",
		"[multi-provider] one session over 3 providers", "anthropic/claude-sonnet  → anthropic /v1/messages  x-api-key: demo…",
		"gateway/llama-3.3-70b    → gateway /v1/chat/completions  Authorization: demo…", "each endpoint saw only its own credential",
		"[three clouds] one session", "bedrock/gpt-oss-120b   → /openai/v1/chat/completions  Authorization: bedr…", "vertex/gemini-flash    → /v1/projects/byok-demo/locations/us-central1/endpoints/openapi/chat/completions", "every endpoint accepted only its own cloud's credential",
		"[secret stores] API keys kept in three clouds' secret stores", "before  azure_key_vault        → Authorization: demo…",
		"after   google_secret_manager  → Authorization: demo…", "(key 2)", "the open session picked up each rotated key at its next request", "demo finished",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("demo output lacks %q:\n%s", w, out.String())
		}
	}
}

func TestMintToken(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "n")
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	var first, second bytes.Buffer
	if err := mintToken(&first, counter, now); err != nil {
		t.Fatal(err)
	}
	if err := mintToken(&second, counter, now); err != nil {
		t.Fatal(err)
	}
	for i, out := range []string{first.String(), second.String()} {
		for _, w := range []string{`"kind":"ExecCredential"`, `"expirationTimestamp":"2026-12-02T10:00:06Z"`, fmt.Sprintf(`"token":"demo-plugin-token-%d-`, i+1)} {
			if !strings.Contains(out, w) {
				t.Errorf("token %d = %s, want it to contain %s", i+1, out, w)
			}
		}
	}
}
