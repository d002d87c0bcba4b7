package exec

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
)

// result is what a test compares of a token.
type result struct {
	Value  string
	Kind   credential.Kind
	Expiry time.Time
}

func configure(t *testing.T, config map[string]any) (credential.TokenSource, error) {
	t.Helper()
	return Plugin{}.Configure(context.Background(), "test", config)
}

// sh is a config that runs script with /bin/sh.
func sh(script string, extra ...any) map[string]any {
	c := map[string]any{"command": "/bin/sh", "args": []any{"-c", script}}
	for i := 0; i+1 < len(extra); i += 2 {
		c[extra[i].(string)] = extra[i+1]
	}
	return c
}

func TestFormats(t *testing.T) {
	// A zone far from UTC, so that reading Azure CLI's local time as UTC
	// would be noticed.
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.FixedZone("test", 5*3600+30*60)
	const canary = "CANARY-exec-0b5e2a-token"
	exp := "2030-01-02T03:04:05Z"
	expT := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		config  map[string]any
		want    result
		wantErr string
	}{
		{"raw first line", sh("echo tok-raw; echo second line"), result{Value: "tok-raw", Kind: credential.KindBearer}, ""},
		{"raw trimmed", sh(`printf '  tok-sp \r\n'`), result{Value: "tok-sp", Kind: credential.KindBearer}, ""},
		{"raw as api key", sh("echo key-1", "kind", "api_key"), result{Value: "key-1", Kind: credential.KindAPIKey}, ""},
		{"raw empty", sh("echo"), result{}, "exec: command /bin/sh printed no token on the first line of stdout"},
		{
			"exec credential v1",
			sh(`echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"k8s-tok","expirationTimestamp":"` + exp + `"}}'`),
			result{Value: "k8s-tok", Kind: credential.KindBearer, Expiry: expT}, "",
		},
		{
			"exec credential v1beta1 without expiry, format explicit",
			sh(`echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"k8s-tok"}}'`, "format", "exec_credential"),
			result{Value: "k8s-tok", Kind: credential.KindBearer}, "",
		},
		{
			"exec credential without token",
			sh(`echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"x"}}'`),
			result{}, "exec: output of /bin/sh: ExecCredential has no status.token (client certificates are not supported)",
		},
		{
			"exec credential of another api",
			sh(`echo '{"apiVersion":"v2","kind":"ExecCredential","status":{"token":"` + canary + `"}}'`),
			result{}, `exec: output of /bin/sh: ExecCredential apiVersion "v2" is not client.authentication.k8s.io/v1 or v1beta1`,
		},
		{
			"credential process access token",
			sh(`echo '{"Version":1,"AccessToken":"cp-tok","Expiration":"` + exp + `"}'`),
			result{Value: "cp-tok", Kind: credential.KindBearer, Expiry: expT}, "",
		},
		{
			"credential process token",
			sh(`echo '{"Version":1,"Token":"cp-tok2"}'`, "format", "credential_process"),
			result{Value: "cp-tok2", Kind: credential.KindBearer}, "",
		},
		{
			"credential process with both",
			sh(`echo '{"Version":1,"Token":"a","AccessToken":"b"}'`),
			result{}, "exec: output of /bin/sh: credential_process has both AccessToken and Token; set one",
		},
		{
			"credential process with an aws key pair",
			sh(`echo '{"Version":1,"AccessKeyId":"AKIA","SecretAccessKey":"` + canary + `"}'`),
			result{}, "exec: output of /bin/sh: credential_process has neither AccessToken nor Token (AWS key pairs are not supported)",
		},
		{
			"credential process version 2",
			sh(`echo '{"Version":2,"Token":"a"}'`),
			result{}, "exec: output of /bin/sh: credential_process Version must be 1",
		},
		{
			"credential process bad expiration",
			sh(`echo '{"Version":1,"Token":"a","Expiration":"tomorrow"}'`),
			result{}, "exec: output of /bin/sh: credential_process Expiration is not RFC 3339",
		},
		{
			"unrecognised json",
			sh(`echo '{"token":"` + canary + `"}'`),
			result{}, `exec: output of /bin/sh is JSON but none of the known documents: an ExecCredential ("kind": "ExecCredential"), a credential_process document ("Version": 1), Azure CLI's get-access-token ("accessToken") or gcloud's config-helper ("credential"); set format`,
		},
		{
			// What `az account get-access-token -o json` prints (2.54+):
			// expires_on wins over the zone-less local expiresOn, which
			// here names another time on purpose.
			"azure cli auto, expires_on preferred",
			sh(`printf '%s' '{"accessToken":"az-tok","expiresOn":"2031-05-06 07:08:09.000000","expires_on":` + strconv.FormatInt(expT.Unix(), 10) + `,"subscription":"00000000-0000-0000-0000-000000000000","tenant":"11111111-1111-1111-1111-111111111111","tokenType":"Bearer"}'`),
			result{Value: "az-tok", Kind: credential.KindBearer, Expiry: expT}, "",
		},
		{
			"azure cli expires_on as a string",
			sh(`echo '{"accessToken":"az-tok","expires_on":"`+strconv.FormatInt(expT.Unix(), 10)+`","tokenType":"Bearer"}'`, "format", "azure_cli"),
			result{Value: "az-tok", Kind: credential.KindBearer, Expiry: expT}, "",
		},
		{
			// Older Azure CLI: only the local time. TZ=UTC in the
			// command's env does not matter: the plugin reads the time in
			// its own local zone, which the test pins below.
			"azure cli expiresOn only, local time",
			sh(`echo '{"accessToken":"az-tok","expiresOn":"` + expT.In(time.Local).Format("2006-01-02 15:04:05.000000") + `","tokenType":"Bearer"}'`),
			result{Value: "az-tok", Kind: credential.KindBearer, Expiry: expT}, "",
		},
		{
			"azure cli bad expires_on",
			sh(`echo '{"accessToken":"` + canary + `","expires_on":"soon"}'`),
			result{}, "exec: output of /bin/sh: Azure CLI expires_on is not a number of seconds since 1970",
		},
		{
			"azure cli bad expiresOn",
			sh(`echo '{"accessToken":"` + canary + `","expiresOn":"tomorrow"}'`),
			result{}, `exec: output of /bin/sh: Azure CLI expiresOn is not a local time such as "2030-01-02 03:04:05.000000"`,
		},
		{
			"azure cli other token type",
			sh(`echo '{"accessToken":"` + canary + `","tokenType":"pop"}'`),
			result{}, `exec: output of /bin/sh: Azure CLI tokenType "pop" is not Bearer`,
		},
		{
			"azure cli format without a token",
			sh(`echo '{"Version":1}'`, "format", "azure_cli"),
			result{}, "exec: output of /bin/sh: Azure CLI output has no accessToken",
		},
		{
			// What `gcloud config config-helper --format=json` prints.
			"gcloud config-helper auto",
			sh(`echo '{"configuration":{"active_configuration":"default","properties":{"core":{"account":"me@example.com","project":"p"}}},"credential":{"access_token":"ya29.gc-tok","id_token":"x.y.z","token_expiry":"` + exp + `"},"sentinels":{"config_sentinel":"/home/me/.config/gcloud/config_sentinel"}}'`),
			result{Value: "ya29.gc-tok", Kind: credential.KindBearer, Expiry: expT}, "",
		},
		{
			"gcloud fractional expiry, format explicit",
			sh(`echo '{"credential":{"access_token":"ya29.gc-tok","token_expiry":"2030-01-02T03:04:05.000Z"}}'`, "format", "gcloud"),
			result{Value: "ya29.gc-tok", Kind: credential.KindBearer, Expiry: expT}, "",
		},
		{
			"gcloud without a token",
			sh(`echo '{"credential":{"token_expiry":"` + exp + `"}}'`),
			result{}, "exec: output of /bin/sh: gcloud config-helper output has no credential.access_token",
		},
		{
			"gcloud bad expiry",
			sh(`echo '{"credential":{"access_token":"` + canary + `","token_expiry":"2030-01-02 03:04"}}'`),
			result{}, "exec: output of /bin/sh: gcloud credential.token_expiry is not RFC 3339",
		},
		{
			"broken json never quoted",
			sh(`echo '{"kind":"ExecCredential","status":{"token":"` + canary + `"'`),
			result{}, "exec: output of /bin/sh is not valid JSON (syntax error at byte 69)",
		},
		{
			"wrong field type",
			sh(`echo '{"Version":"1","Token":"`+canary+`"}'`, "format", "credential_process"),
			result{}, "exec: output of /bin/sh is not valid credential_process (field Version must be int, not string)",
		},
		{
			"failing command: status and redacted stderr",
			sh("echo " + canary + "; echo \"renew failed for " + canary + " with Bearer abcdefgh12345\" >&2; exit 3"),
			result{}, `exec: command /bin/sh exited with status 3; stderr: "renew failed for [REDACTED] with Bearer [REDACTED]"`,
		},
		{
			"failing command quoting its env",
			sh(`echo "vault: permission denied for token $VAULT_TOKEN at $VAULT_ADDR" >&2; exit 2`, "env", map[string]any{"VAULT_TOKEN": canary, "VAULT_ADDR": "https://vault.internal:8200"}),
			result{}, `exec: command /bin/sh exited with status 2; stderr: "vault: permission denied for token [REDACTED] at [REDACTED]"`,
		},
		{
			// issue 23, finding 15: a secret no one named, copied to stderr.
			"failing command copying a secret file to stderr",
			sh(`echo Qm9vZ3Jhc3NAbmQtOTg3NjU0MzIxMGFiY2RlZg | cat >&2; echo "permission denied: /etc/x" >&2; exit 1`),
			result{}, `exec: command /bin/sh exited with status 1; stderr: "[REDACTED]\npermission denied: /etc/x"`,
		},
		{
			// issue 23, finding 4: several vendors' keys in one document.
			"raw json document refused",
			sh(`echo '{"anthropic":"sk-ant-CANARY-e1","openai":"`+canary+`"}'`, "format", "raw"),
			result{}, `exec: the first line of /bin/sh's stdout holds a JSON object with fields "anthropic", "openai", not a token: print the token alone, or set format to the document's`,
		},
		{
			"failing command without stderr",
			sh("exit 5"),
			result{}, "exec: command /bin/sh exited with status 5",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := configure(t, tc.config)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := src.Token(context.Background())
			if tc.wantErr != "" {
				got := ""
				if err != nil {
					got = err.Error()
				}
				if diff := cmp.Diff(tc.wantErr, got); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				if strings.Contains(got, canary) {
					t.Errorf("error leaks the canary")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := result{Value: tok.Value.Reveal(), Kind: tok.Kind, Expiry: tok.Expiry.UTC()}
			if tok.Expiry.IsZero() {
				got.Expiry = time.Time{}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("token (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTimeout: the command's whole process group dies at the timeout, and
// the host's shorter deadline wins over the configured timeout.
func TestTimeout(t *testing.T) {
	tests := []struct {
		name     string
		timeout  string
		deadline time.Duration
		marker   string
		want     string
	}{
		{"configured timeout", "300ms", 0, "7.771", "exec: command /bin/sh timed out after 300ms and was killed"},
		// 10% of the caller's 1s is kept back so that the plugin answers
		// before the host gives up on it.
		{"caller deadline", "10s", time.Second, "7.772", "exec: command /bin/sh timed out after "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A shell that forks sleep, so that killing the shell alone
			// would leave sleep running.
			src, err := configure(t, sh("sleep "+tc.marker+"; echo never", "timeout", tc.timeout))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			start := time.Now()
			_, err = src.Token(ctx)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want one starting %q", err, tc.want)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s", d)
			}
			if tc.deadline > 0 {
				// The plugin's own timeout is below the caller's deadline,
				// by the margin.
				d, _ := time.ParseDuration(strings.Fields(strings.TrimPrefix(err.Error(), tc.want))[0])
				if d <= tc.deadline/2 || d >= tc.deadline {
					t.Errorf("timed out after %s, want a little under the caller's %s", d, tc.deadline)
				}
			}
			waitNoProcess(t, tc.marker)
		})
	}
}

func TestCallerCancel(t *testing.T) {
	src, err := configure(t, sh("sleep 7.773"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = src.Token(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	waitNoProcess(t, "7.773")
}

// waitNoProcess fails if a process whose command line holds marker is still
// alive shortly after (a killed grandchild is reaped by init, not us).
func waitNoProcess(t *testing.T, marker string) {
	t.Helper()
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("no /proc")
	}
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		pids := processesWith(marker)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left running: %v", pids)
		}
	}
}

func processesWith(marker string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if bytes.Contains(b, []byte(marker)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestOutputBounds(t *testing.T) {
	t.Run("stderr is cut in the error", func(t *testing.T) {
		src, _ := configure(t, sh("head -c 20000 /dev/zero | tr '\\0' x >&2; exit 1"))
		_, err := src.Token(context.Background())
		if err == nil || len(err.Error()) > 700 || !strings.Contains(err.Error(), "…(truncated)") {
			t.Errorf("error of %d bytes: %.200v", len(err.Error()), err)
		}
	})
	t.Run("stdout over 1 MiB", func(t *testing.T) {
		src, _ := configure(t, sh("head -c 1100000 /dev/zero | tr '\\0' x"))
		_, err := src.Token(context.Background())
		want := "exec: command /bin/sh printed more than 1048576 bytes on stdout"
		if err == nil || err.Error() != want {
			t.Errorf("error %v, want %q", err, want)
		}
	})
}

func TestConfigure(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "mytool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho \"tok-$GREETING\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		config  map[string]any
		want    string // token, when no error
		wantErr string
	}{
		{"PATH from the config env", map[string]any{"command": "mytool", "env": map[string]any{"PATH": dir, "GREETING": "hi"}}, "tok-hi", ""},
		{"not in PATH", map[string]any{"command": "mytool", "env": map[string]any{"PATH": "/nonexistent"}}, "", `exec: command "mytool" not found in PATH`},
		{"empty PATH", map[string]any{"command": "mytool", "env": map[string]any{"PATH": ""}}, "", `exec: command "mytool" not found: PATH is empty; set PATH in the plugin's env or in the config's env, or give an absolute path`},
		{"missing path", map[string]any{"command": dir + "/nope"}, "", "exec: command " + dir + "/nope: stat " + dir + "/nope: no such file or directory"},
		{"missing command", map[string]any{}, "", `exec: config key "command" is required`},
		{"unknown key", map[string]any{"command": tool, "timout": "1s"}, "", `exec: unknown config key "timout" (known keys: args, command, env, format, kind, timeout)`},
		{"bad format", map[string]any{"command": tool, "format": "yaml"}, "", `exec: config key "format" must be one of auto, raw, exec_credential, credential_process, azure_cli, gcloud, not "yaml"`},
		{"bad timeout", map[string]any{"command": tool, "timeout": 5.0}, "", `exec: config key "timeout" must be a duration string such as "30s", not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := configure(t, tc.config)
			got := ""
			if err == nil {
				var tok *credential.Token
				tok, err = src.Token(context.Background())
				if err == nil {
					got = tok.Value.Reveal()
				}
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff([2]string{tc.want, tc.wantErr}, [2]string{got, gotErr}); diff != "" {
				t.Errorf("token, error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNothingOutlivesARun: whatever a command starts is killed when the
// command has exited, and a process left holding stdout gives a clear error
// at once instead of a wait for the pipe.
func TestNothingOutlivesARun(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		marker  string
		want    string // token, when no error
		wantErr string
	}{
		{"background process with its output redirected", "sleep 7.781 >/dev/null 2>&1 & echo tok-bg", "7.781", "tok-bg", ""},
		{"background process holding stderr", "sleep 7.782 >/dev/null & echo tok-err", "7.782", "tok-err", ""},
		{
			"background process holding stdout", "sleep 7.783 & echo tok-open", "7.783", "",
			"exec: command /bin/sh exited but left its stdout open: a process it started in the background still held it, and was killed; " +
				"redirect background processes' output (cmd >/dev/null 2>&1 &) or wait for them",
		},
		{"failing command leaving a process", "sleep 7.784 >/dev/null 2>&1 & exit 3", "7.784", "", "exec: command /bin/sh exited with status 3"},
		{"process in a subshell", "(sleep 7.785 >/dev/null 2>&1 &); echo tok-sub", "7.785", "tok-sub", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := configure(t, sh(tc.script))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			tok, err := src.Token(context.Background())
			took := time.Since(start)
			got, gotErr := "", ""
			if err != nil {
				gotErr = err.Error()
			} else {
				got = tok.Value.Reveal()
			}
			if diff := cmp.Diff([2]string{tc.want, tc.wantErr}, [2]string{got, gotErr}); diff != "" {
				t.Errorf("token, error (-want +got):\n%s", diff)
			}
			// Well under os/exec's WaitDelay, which a held pipe used to cost.
			if took > 900*time.Millisecond {
				t.Errorf("took %s", took)
			}
			waitNoProcess(t, tc.marker)
		})
	}
}
