package exec_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/plugintest"
	"github.com/byokcred/byokcred/registry"

	// The credential kinds its configs use.
	_ "github.com/byokcred/byokcred/auth/plugin"
)

// TestREADMEToolConfigsWork loads the very config that the README shows for
// az, gcloud, vault and kubelogin (testdata/cli-tools.yaml, quoted verbatim
// there) through the registry and the real exec plugin binary, with fake
// tools on PATH that check their arguments and print what the real tools
// print.
func TestREADMEToolConfigsWork(t *testing.T) {
	snippet, err := os.ReadFile("testdata/cli-tools.yaml")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```yaml\n"+string(snippet)+"```\n") {
		t.Errorf("README.md does not quote testdata/cli-tools.yaml verbatim in a yaml block; copy it there")
	}

	bin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plugintest.Cleanup)

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bin", "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(bin, filepath.Join(dir, "bin", "plugins", "byokcred-plugin-exec")); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "byokcred.yaml")
	if err := os.WriteFile(cfgPath, snippet, 0o600); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	fakebin := filepath.Join(dir, "fakebin")
	for _, d := range []string{home, fakebin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	// Each fake refuses arguments other than the snippet's, so that the
	// snippet is checked as well as the parsing.
	tools := map[string]struct{ args, check, out string }{
		"az": {
			args: "account get-access-token --resource https://cognitiveservices.azure.com -o json",
			// az 2.54+ output, indented as az prints it.
			out: fmt.Sprintf(`{
  "accessToken": "az-tok-5d1c",
  "expiresOn": "%s",
  "expires_on": %d,
  "subscription": "00000000-0000-0000-0000-000000000000",
  "tenant": "11111111-1111-1111-1111-111111111111",
  "tokenType": "Bearer"
}
`, exp.Local().Format("2006-01-02 15:04:05.000000"), exp.Unix()),
		},
		"gcloud": {
			args: "config config-helper --format=json",
			out: fmt.Sprintf(`{
  "configuration": {
    "active_configuration": "default",
    "properties": {
      "core": {
        "account": "me@example.com",
        "project": "my-project"
      }
    }
  },
  "credential": {
    "access_token": "ya29.gcloud-tok-7e2f",
    "id_token": "header.payload.signature",
    "token_expiry": "%s"
  },
  "sentinels": {
    "config_sentinel": "/home/me/.config/gcloud/config_sentinel"
  }
}
`, exp.UTC().Format(time.RFC3339)),
		},
		"vault": {
			args:  "read -field=token secret/llm/gateway",
			check: `[ "$VAULT_ADDR" = https://vault.internal:8200 ] || { echo "VAULT_ADDR not set" >&2; exit 2; }`,
			// -field prints the bare value without a newline.
			out: "hvs.vault-tok-9a4b",
		},
		"kubelogin": {
			args: "get-token --login azurecli --server-id api://llm-gateway",
			out: fmt.Sprintf(`{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false},"status":{"expirationTimestamp":"%s","token":"kubelogin-tok-3c8d"}}
`, exp.UTC().Format(time.RFC3339)),
		},
	}
	for name, tool := range tools {
		script := fmt.Sprintf(`#!/bin/sh
[ "$*" = %q ] || { echo "%s: unexpected arguments: $*" >&2; exit 2; }
[ "$HOME" = %q ] || { echo "%s: HOME not passed" >&2; exit 2; }
%s
printf '%%s' '%s'
`, tool.args, name, home, name, tool.check, tool.out)
		if err := os.WriteFile(filepath.Join(fakebin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	env := map[string]string{"PATH": fakebin + ":/usr/bin:/bin", "HOME": home}
	set, err := registry.Load(cfgPath, registry.Options{LookupEnv: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()

	type result struct {
		Value  string
		Expiry time.Time
	}
	want := map[string]result{
		"foundry":       {"az-tok-5d1c", exp},
		"vertex":        {"ya29.gcloud-tok-7e2f", exp},
		"gateway":       {"hvs.vault-tok-9a4b", time.Time{}},
		"entra-gateway": {"kubelogin-tok-3c8d", exp},
	}
	got := map[string]result{}
	for _, name := range set.Names() {
		p, err := set.Provider(name)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		tok, err := p.Source.Token(ctx)
		cancel()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		r := result{Value: tok.Value.Reveal()}
		if !tok.Expiry.IsZero() {
			r.Expiry = tok.Expiry.Local()
		}
		got[name] = r
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
}
