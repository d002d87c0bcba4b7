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
