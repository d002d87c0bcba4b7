package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/byokcred/byokcred/internal/testkit/fakestores"
)

// TestTokenAndDoctorShowTheSecretVersion: for a key read from each secret
// store, `token` names the reference and the version read, and `doctor`
// also the version's age, when it was read and the chain of the identity
// that read it; neither prints the key unless --show is asked for.
func TestTokenAndDoctorShowTheSecretVersion(t *testing.T) {
	st := fakestores.Start(t)
	var cfg strings.Builder
	cfg.WriteString("providers:\n")
	versions := map[string]string{}
	for _, store := range fakestores.Names {
		st.Put(store, "model-key", canary+"-old")
		versions[store] = st.Put(store, "model-key", canary+"-"+store)
		fmt.Fprintf(&cfg, "  %s: {type: openai, base_url: https://api.example.com/v1, model: m, auth: {type: static, api_key_secret: %s}}\n",
			store, st.Block(store, "model-key", ""))
	}
	path := writeFile(t, "byokcred.yaml", cfg.String())
	references := map[string]string{
		fakestores.KeyVault:       st.KeyVault.SecretURL("model-key", ""),
		fakestores.SecretsManager: "model-key in us-east-1",
		fakestores.SecretManager:  "projects/" + fakestores.GoogleProject + "/secrets/model-key",
	}
	chains := map[string]string{
		fakestores.KeyVault:       "ManagedIdentityCredential answered",
		fakestores.SecretsManager: "container answered",
		fakestores.SecretManager:  "metadata server answered",
	}
	for _, store := range fakestores.Names {
		t.Run(store, func(t *testing.T) {
			r := runThrough(t, st.Client(), "-c", path, "token", store)
			if r.code != 0 {
				t.Fatalf("token: exit %d: %s", r.code, r.stderr)
			}
			for _, w := range []string{
				`(?m)^kind:\s+api_key$`,
				`(?m)^secret:\s+` + regexp.QuoteMeta(references[store]) + `$`,
				`(?m)^version:\s+` + regexp.QuoteMeta(versions[store]) + `$`,
			} {
				if !regexp.MustCompile(w).MatchString(r.stdout) {
					t.Errorf("token output lacks %s:\n%s", w, r.stdout)
				}
			}
			if strings.Contains(r.stdout+r.stderr, canary) {
				t.Errorf("token printed the key without --show:\n%s", r.stdout)
			}
			if r := runThrough(t, st.Client(), "-c", path, "token", store, "--show"); strings.TrimSpace(r.stdout) != canary+"-"+store {
				t.Errorf("token --show = %q, want the current version's value", r.stdout)
			}
			d := runThrough(t, st.Client(), "-c", path, "doctor", store)
			if d.code != 0 {
				t.Fatalf("doctor: exit %d: %s%s", d.code, d.stdout, d.stderr)
			}
			want := regexp.MustCompile(`secret: ` + regexp.QuoteMeta(references[store]) + `; version: ` + regexp.QuoteMeta(versions[store]) + `;( version created: \S+ \(\d+s ago\);)? read: \d+s ago`)
			if !want.MatchString(d.stdout) {
				t.Errorf("doctor output lacks %s:\n%s", want, d.stdout)
			}
			if !strings.Contains(d.stdout, chains[store]) {
				t.Errorf("doctor output lacks the store identity's chain (%q):\n%s", chains[store], d.stdout)
			}
			if strings.Contains(d.stdout+d.stderr, canary) {
				t.Errorf("doctor printed the key:\n%s", d.stdout)
			}
		})
	}
}

// runThrough runs the CLI with client carrying the credential kinds' and
// stores' requests (Env.HTTPClient), the process's environment otherwise
// hidden as run hides it.
func runThrough(t *testing.T, client *http.Client, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, Env{Stdout: &out, Stderr: &errb, HTTPClient: client, LookupEnv: func(string) (string, bool) { return "", false }})
	return result{code, out.String(), errb.String()}
}
