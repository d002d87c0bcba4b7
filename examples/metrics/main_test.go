package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
)

func TestMetricsToStdout(t *testing.T) {
	idp, err := fakeidentity.Start(fakeidentity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	idp.Setenv(t)
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("providers:\n  foundry: {type: azure, base_url: https://x.openai.azure.com, model: m, auth: {type: entra, credential: managed_identity}}\n"), 0o600)
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"Name": "byokcred.token.fetches"`, `"Name": "byokcred.token.expiry"`, `"Name": "byokcred.token.fetch.duration"`, `"Value": "foundry"`} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %s", w)
		}
	}
	for _, is := range idp.Issued() {
		if strings.Contains(out.String(), is.Token) {
			t.Error("metrics output contains a token")
		}
	}
}

// The README's config reference (a static key from the environment) works
// as it is: the example registers every built-in kind, not only Entra ID
// (before, it refused the config: unknown auth type "static").
func TestMetricsWithTheREADMEStaticConfig(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-metrics-canary-0123456789")
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte(`default_provider: openai
providers:
  openai:
    type: openai
    base_url: https://api.openai.com/v1
    wire_api: completions
    model: gpt-4.1
    auth:
      type: static
      api_key_env: OPENAI_API_KEY
`), 0o600)
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	// A static key is read, not fetched: the run succeeds and exports the
	// meter's (empty) metrics.
	if !strings.Contains(out.String(), `"ScopeMetrics"`) {
		t.Errorf("no metrics exported:\n%s", out.String())
	}
	if strings.Contains(out.String(), "sk-metrics-canary") {
		t.Error("metrics output contains the key")
	}
}
