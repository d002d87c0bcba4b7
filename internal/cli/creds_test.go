package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/plugintest"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
)

// runWithin runs byokcred in process and fails the test if it has not
// returned within limit (a hang).
func runWithin(t *testing.T, ctx context.Context, limit time.Duration, env Env, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env.Stdout, env.Stderr = &out, &errb
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, env) }()
	select {
	case code := <-done:
		return result{code, out.String(), errb.String()}
	case <-time.After(limit):
		t.Fatalf("byokcred %s did not return within %s", strings.Join(args, " "), limit)
	}
	return result{}
}

func noEnv(string) (string, bool) { return "", false }

// A config path that is a FIFO used to block every command in open(2), deaf
// to SIGINT (issue 19.10).
func TestConfigThatIsNotARegularFileIsRefusedAtOnce(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "byokcred.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"validate"}, {"providers"}, {"models"}, {"token"}, {"doctor"}, {"chat", "hi"}, {"proxy"}} {
		t.Run(args[0], func(t *testing.T) {
			r := runWithin(t, context.Background(), 10*time.Second, Env{LookupEnv: noEnv}, append([]string{"-c", fifo}, args...)...)
			want := "byokcred: config: " + fifo + " is not a regular file (p---------); pass the path of a YAML file\n"
			if diff := cmp.Diff(result{code: ExitUsage, stderr: want}, r, cmp.AllowUnexported(result{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCredentialThatCannotBeAHeaderIsNeverPrinted(t *testing.T) {
	model, err := fakemodel.Start(fakemodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	keyFile := writeFile(t, "key", canary+"\n\n")
	cfg := writeFile(t, "byokcred.yaml", `providers:
  claude: {type: anthropic, base_url: `+model.URL+`, model: c1, auth: {type: static, api_key_file: `+keyFile+`}}
  gw: {type: openai, base_url: `+model.URL+`, model: g1, auth: {type: static, bearer_token_env: GW_TOKEN}}
`)
	want := "static: secret file " + keyFile + ": byte 31 of 32 is a line feed (0x0a), which an HTTP header cannot carry (trailing whitespace or an extra newline"
	commands := [][]string{{"validate"}, {"token", "claude"}, {"doctor"}, {"chat", "-m", "claude", "hi"}}
	if testing.Short() {
		commands = commands[:3]
	}
	env := Env{LookupEnv: func(k string) (string, bool) {
		if k == "GW_TOKEN" {
			return "gw-" + canary + "\x01", true
		}
		return "", false
	}}
	for _, args := range commands {
		t.Run(args[0], func(t *testing.T) {
			r := runWithin(t, context.Background(), 2*time.Minute, env, append([]string{"-c", cfg}, args...)...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "environment variable GW_TOKEN: byte 34 of 35 is a control character (0x01)") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", r.code, r.stderr, ExitUsage, want)
			}
			if strings.Contains(r.stdout+r.stderr, canary) {
				t.Errorf("output reveals the credential:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
	if n := len(model.Requests()); n != 0 {
		t.Errorf("%d requests reached the model", n)
	}
}

// A header value the Copilot runtime would refuse (and quote in full in its
// error) is refused when the config is loaded, naming the header and the
// variable, never the value: it never reaches the runtime. (Before issue
// 23's finding 14 the runtime refused it; internal/scrub's tests cover
// scrubbing its error text.)
func TestChatRefusesBadHeaderValueAtLoad(t *testing.T) {
	model, err := fakemodel.Start(fakemodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  gw: {type: openai, base_url: `+model.URL+`, model: g1, headers: {X-Tenant: "${TENANT}"}, auth: {type: static, api_key: "${KEY}"}}
`)
	env := Env{LookupEnv: func(k string) (string, bool) {
		switch k {
		case "TENANT":
			return "tenant-" + canary + "\x01", true
		case "KEY":
			return "key-" + canary, true
		}
		return "", false
	}}
	r := runWithin(t, context.Background(), 2*time.Minute, env, "-c", cfg, "chat", "--timeout", "60s", "hi")
	if want := "providers.gw.headers.X-Tenant: value of header X-Tenant (from ${TENANT}): byte "; r.code != ExitUsage || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", r.code, r.stderr, ExitUsage, want)
	}
	if strings.Contains(r.stdout+r.stderr, canary) {
		t.Errorf("output reveals a credential:\n%s%s", r.stdout, r.stderr)
	}
	if n := len(model.Requests()); n != 0 {
		t.Errorf("%d requests reached the model", n)
	}
}

// `chat -i` waiting for a line on a terminal ends on SIGINT/SIGTERM (the
// cancelled context) instead of waiting for input that never comes.
func TestInteractiveChatEndsWhenInterrupted(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	model, err := fakemodel.Start(fakemodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  a: {type: openai, base_url: `+model.URL+`, model: m1, auth: {type: static, api_key: key-a-123}}
`)
	stdin, w := io.Pipe() // nothing is ever typed
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var errb syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"-c", cfg, "chat", "-i"}, Env{Stdin: stdin, Stdout: io.Discard, Stderr: &errb, LookupEnv: noEnv})
	}()
	for deadline := time.Now().Add(90 * time.Second); !strings.Contains(errb.String(), "a/m1> "); {
		if time.Now().After(deadline) {
			t.Fatalf("no prompt; stderr:\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitFailure || !strings.Contains(errb.String(), "context canceled") {
			t.Errorf("exit %d, stderr:\n%s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("chat -i kept waiting for input after its context was cancelled")
	}
}

func TestExpiresIn(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		exp      time.Time
		want     string
		wantJSON string
	}{
		{"an hour", now.Add(time.Hour + 1500*time.Millisecond), "in 1h0m2s", "1h0m2s"},
		{"under two days", now.Add(47 * time.Hour), "in 47h0m0s", "47h0m0s"},
		{"days", now.Add(400 * 24 * time.Hour), "in 400 days", "9600h0m0s"},
		{"years", time.Date(2040, 12, 1, 0, 0, 0, 0, time.UTC), "in 13 years", "122703h0m0s"},
		{"past a time.Duration", time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC), "in 473 years", ""},
		{"year 9999", time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "in 7973 years", ""},
		{"expired", now.Add(-90 * time.Second), "expired 1m30s ago", "-1m30s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := []string{expiresIn(tc.exp, now), expiresInDuration(tc.exp, now)}
			if diff := cmp.Diff([]string{tc.want, tc.wantJSON}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// testJWT is an unsigned JWT with exp (byokcred reads claims, never
// verifies them).
func testJWT(exp int64) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(fmt.Sprintf(`{"exp":%d,"aud":"api://gw"}`, exp))) + ".sig"
}

// Static bearer_token* JWTs carry their exp into `token` and `doctor`
// (issue 12.5); a far-away exp prints as years, not as a saturated duration
// (issue 19.12); an expired one is refused naming provider and source.
func TestStaticBearerJWTExpiryInCommands(t *testing.T) {
	far := time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  far: {type: openai, base_url: https://gw.example.com/v1, model: m, auth: {type: static, bearer_token_env: FAR}}
  beyond: {type: openai, base_url: https://gw.example.com/v1, model: m, auth: {type: static, bearer_token_env: BEYOND}}
  old: {type: openai, base_url: https://gw.example.com/v1, model: m, auth: {type: static, bearer_token_env: OLD}}
`)
	env := map[string]string{"FAR": testJWT(far), "BEYOND": testJWT(1e13), "OLD": testJWT(time.Now().Add(-time.Hour).Unix())}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"far exp in token", []string{"token", "far"}, ExitOK, "2500-01-01T00:00:00Z (in 473 years)", ""},
		{"far exp in token JSON", []string{"token", "far", "--json"}, ExitOK, `"expires_at": "2500-01-01T00:00:00Z"`, ""},
		{"far exp in doctor", []string{"doctor", "far"}, ExitOK, "expires in 473 years", ""},
		{"exp past year 9999 is never", []string{"token", "beyond", "--json"}, ExitOK, `"masked": true`, ""},
		{"expired", []string{"token", "old"}, ExitFailure, "", "session: provider old: static: the JWT in environment variable OLD expired at "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, env, append([]string{"-c", cfg}, tc.args...)...)
			if r.code != tc.wantCode || !strings.Contains(r.stdout, tc.wantStdout) || !strings.Contains(r.stderr, tc.wantStderr) {
				t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
			if strings.Contains(r.stdout+r.stderr, "2562047h") {
				t.Errorf("saturated duration printed:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
}

// A plugin's token with a control character is refused by the token cache,
// naming the provider and the byte, never the value (issue 19.1): the check
// covers every fetched token, whatever its source.
func TestPluginTokenThatCannotBeAHeaderIsRefused(t *testing.T) {
	execPlugin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	script := writeFile(t, "mint.sh", `#!/bin/sh
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"tok-`+canary+`\u0001x"}}'
`)
	if err := os.Chmod(script, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "byokcred.yaml", `plugins:
  minter: {command: `+execPlugin+`, env: {PATH: /usr/bin:/bin}}
providers:
  gateway:
    type: openai
    base_url: https://gw.example.com/v1
    model: m
    auth: {type: plugin, plugin: minter, config: {command: `+script+`, format: exec_credential}}
`)
	for _, args := range [][]string{{"token", "gateway"}, {"doctor", "gateway"}} {
		t.Run(args[0], func(t *testing.T) {
			r := runWithin(t, context.Background(), time.Minute, Env{LookupEnv: noEnv}, append([]string{"-c", cfg}, args...)...)
			want := "gateway: no token: source returned a token that cannot be sent: byte 35 of 37 is a control character (0x01)"
			if r.code != ExitFailure || !strings.Contains(r.stdout+r.stderr, want) {
				t.Errorf("exit %d\nstdout: %s\nstderr: %s\nwant exit 1 and %q", r.code, r.stdout, r.stderr, want)
			}
			if strings.Contains(r.stdout+r.stderr, canary) {
				t.Errorf("output reveals the token:\n%s%s", r.stdout, r.stderr)
			}
		})
	}
}

// TestValidateChecksPluginConfigs: a typo inside a plugin's `config:` block
// is found by validate — the plugin checks it in Configure, no token is
// fetched — and reported at the provider's auth block, not at the first
// model request (issue 18.2).
func TestValidateChecksPluginConfigs(t *testing.T) {
	execPlugin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	cfg := writeFile(t, "byokcred.yaml", `plugins:
  printer: {command: `+execPlugin+`, env: {PATH: /usr/bin:/bin}}
providers:
  good:
    type: openai
    base_url: https://gw.example/v1
    model: m
    auth: {type: plugin, plugin: printer, config: {command: /bin/sh, args: [-c, "touch `+marker+`; echo tok"], format: raw}}
  typo:
    type: openai
    base_url: https://gw.example/v1
    model: m
    auth: {type: plugin, plugin: printer, config: {comand: /bin/echo, format: raw}}
`)
	r := run(t, nil, "-c", cfg, "validate")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	want := cfg + `:13:5: providers.typo.auth: plugins: plugin "printer", provider "typo"`
	if !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "comand") || strings.Contains(r.stderr, "providers.good") {
		t.Errorf("stderr = %s\nwant the typo at its auth block (%s) and nothing about the good provider", r.stderr, want)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("validate ran a token command: it must only configure")
	}
}

// TestValidateReportsPluginConfigsWithOtherProblems: a plugin's `config:`
// problem is listed beside the file's other problems, in file order, not
// only once they are fixed (README: every problem in the file is reported
// at once).
func TestValidateReportsPluginConfigsWithOtherProblems(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	execPlugin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "byokcred.yaml", `plugins:
  printer: {command: `+execPlugin+`, env: {PATH: /usr/bin:/bin}}
providers:
  keyed:
    type: openai
    base_url: https://api.example/v1
    model: m
    auth: {type: static, api_kye: k}
  typo:
    type: openai
    base_url: https://gw.example/v1
    model: m
    auth: {type: plugin, plugin: printer, config: {comand: /bin/echo, format: raw}}
`)
	r := run(t, nil, "-c", cfg, "validate")
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	for i, l := range lines {
		l = strings.TrimSpace(strings.TrimPrefix(l, "byokcred: "))
		lines[i], _, _ = strings.Cut(l, ": ") // FILE:LINE:COL: problem
	}
	want := []string{cfg + ":8:26", cfg + ":13:5"}
	if diff := cmp.Diff(want, lines); diff != "" || r.code != ExitUsage {
		t.Errorf("exit %d, want 2; problem positions (-want +got):\n%s\nstderr: %s", r.code, diff, r.stderr)
	}
	if !strings.Contains(r.stderr, "api_kye") || !strings.Contains(r.stderr, "comand") {
		t.Errorf("stderr = %s\nwant the static key's typo and the plugin config's", r.stderr)
	}
}
