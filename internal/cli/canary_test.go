package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/kind"
)

// panicAuth is an auth type whose source panics with a secret in hand.
type panicAuth struct {
	Key credential.Secret `yaml:"key"`
}

func (a *panicAuth) Validate(*kind.Build) {}
func (a *panicAuth) Source(*kind.Build) (kind.Result, error) {
	panic(fmt.Sprintf("source exploded holding %v / %+v / %#v", a.Key, a, a.Key))
}

func init() { kind.Register("test-panic", func() kind.AuthConfig { return new(panicAuth) }) }

// TestCanaryNeverPrinted runs every command, at every log level and format,
// through success and error paths, with canary secrets in every place a
// secret can come from, and checks that no canary appears in stdout or
// stderr — except the raw value that `token --show` exists to print.
func TestCanaryNeverPrinted(t *testing.T) {
	const (
		literal = "CANARY-literal-7d1f0e2b9c"
		envKey  = "CANARY-envkey-3a8b6c4d2e"
		fileKey = "CANARY-filekey-5e7f9a1b3c"
		bearer  = "CANARY-bearer-0f2e4d6c8b"
	)
	idp, err := fakeidentity.Start(fakeidentity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	idp.Setenv(t)
	// The model endpoint refuses the literal key, to drive the error path,
	// and answers the rest (a refused turn takes the runtime seconds).
	refusing, err := fakemodel.Start(fakemodel.Options{Check: func(r *fakemodel.Request) int {
		if _, v := r.Credential(); v == literal {
			return http.StatusForbidden
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer refusing.Close()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(fileKey+"\n"), 0o600)
	looseFile := filepath.Join(dir, "loose")
	os.WriteFile(looseFile, []byte(fileKey), 0o644)
	os.Chmod(looseFile, 0o644)
	env := map[string]string{"ENV_KEY": envKey, "BEARER": bearer}
	t.Setenv("ENV_KEY", envKey)
	good := writeFile(t, "good.yaml", `default_provider: lit
providers:
  lit: {type: openai, base_url: `+refusing.URL+`, model: m, auth: {type: static, api_key: "`+literal+`"}}
  env: {type: anthropic, base_url: `+refusing.URL+`, model: m, auth: {type: static, api_key_env: ENV_KEY}}
  file: {type: azure, base_url: `+refusing.URL+`, model: m, auth: {type: static, api_key_file: `+keyFile+`}}
  bear: {type: azure, base_url: `+refusing.URL+`, model: m, auth: {type: static, bearer_token: "${BEARER}"}}
  entra: {type: azure, base_url: `+refusing.URL+`, model: m, auth: {type: entra, credential: managed_identity}}
models:
  - {id: x, provider: env}
`)
	bad := writeFile(t, "bad.yaml", `providers:
  a: {type: openai, base_url: "http://remote.example/`+literal+`", model: m, auth: {type: static, api_key: "`+literal+`", extra: "`+envKey+`"}}
  b: {type: openai, base_url: https://x.example, model: m, auth: {type: static, api_key_file: `+looseFile+`}}
  c: {type: openai, base_url: https://x.example, model: m, auth: {type: static, api_key: "`+literal+`", bearer_token: "${BEARER}"}}
`)
	panicky := writeFile(t, "panic.yaml", `providers:
  p: {type: openai, base_url: https://x.example, model: m, auth: {type: test-panic, key: "`+literal+`"}}
`)
	commands := [][]string{
		{"validate"}, {"providers"}, {"models"},
		{"token", "lit"}, {"token", "env"}, {"token", "file"}, {"token", "bear"}, {"token", "entra"},
		{"token", "lit", "--json"}, {"token", "entra", "--json"},
		{"chat", "-m", "lit", "hi"}, {"chat", "-m", "env", "hi"}, {"chat", "-m", "bear", "hi"}, {"chat", "-m", "entra", "hi"}, {"chat", "-m", "env/x", "hi"},
		{"-c", bad, "validate"}, {"-c", bad, "token", "a"}, {"-c", bad, "chat", "hi"},
		{"-c", panicky, "validate"}, {"-c", panicky, "token"},
		{"copilot-env", "--agent", "off", "lit"}, {"copilot-env", "--agent", "off", "env"}, {"copilot-env", "--agent", "off", "bear"}, {"copilot-env", "--agent", "off", "entra"},
		{"credential", "--agent", "off", "nope"}, {"-c", bad, "credential", "--agent", "off", "a"}, {"-c", bad, "copilot-env", "a"},
	}
	if testing.Short() {
		commands = commands[:10]
	}
	var minted []string
	for _, level := range []string{"debug", "error"} {
		for _, format := range []string{"text", "json"} {
			for _, c := range commands {
				// Chat turns start the runtime: once is enough.
				if c[0] == "chat" && (level == "error" || format == "json") {
					continue
				}
				args := append([]string{"-c", good, "--log-level", level, "--log-format", format}, c...)
				name := strings.Join(c, " ")
				var out, errb bytes.Buffer
				code := Run(context.Background(), args, Env{Stdout: &out, Stderr: &errb, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
				all := out.String() + errb.String()
				for _, is := range idp.Issued() {
					minted = append(minted, is.Token)
				}
				for _, secret := range append([]string{literal, envKey, fileKey, bearer}, minted...) {
					if strings.Contains(all, secret) {
						t.Errorf("%s (%s/%s, exit %d) printed a secret:\n%s", name, level, format, code, all)
					}
				}
				if name == "chat -m lit hi" && code == 0 {
					t.Errorf("%s succeeded against an endpoint that refuses its key", name)
				}
			}
		}
	}
	// The one exception, to prove the check can see a secret at all.
	var out bytes.Buffer
	Run(context.Background(), []string{"-c", good, "token", "lit", "--show"}, Env{Stdout: &out, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if strings.TrimSpace(out.String()) != literal {
		t.Errorf("token --show printed %q", out.String())
	}
}
