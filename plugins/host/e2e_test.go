package host

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
)

// TestExecPluginEndToEnd runs the shipped exec plugin as a real process,
// pinned by checksum, through the Manager: several providers share the one
// process, each with its own command.
func TestExecPluginEndToEnd(t *testing.T) {
	const canary = "CANARY-e2e-5d1c7a90-token"
	const marker = "31.337" // in the command line of the command that hangs
	m, logs := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"exec": {
		Command: execPlugin,
		SHA256:  mustSHA256(t, execPlugin),
		// The plugin gets no PATH unless its entry names one.
		Env:          raceEnv(map[string]string{"PATH": "/usr/bin:/bin"}),
		StartTimeout: 10 * time.Second,
		CallTimeout:  10 * time.Second,
	}}})
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)

	type result struct {
		Value  string
		Kind   credential.Kind
		Expiry time.Time
	}
	tests := []struct {
		name    string
		config  map[string]any
		want    result
		wantErr []string // phrases; the error must also be a plugin error
	}{
		{
			name:   "raw token",
			config: map[string]any{"command": "sh", "args": []string{"-c", "echo e2e-raw-token"}, "kind": "api_key"},
			want:   result{Value: "e2e-raw-token", Kind: credential.KindAPIKey},
		},
		{
			name: "exec credential",
			config: map[string]any{
				"command": "sh",
				"args":    []string{"-c", `printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"e2e-k8s-token","expirationTimestamp":"%s"}}' "$EXP"`},
				"env":     map[string]string{"EXP": exp.Format(time.RFC3339)},
			},
			want: result{Value: "e2e-k8s-token", Kind: credential.KindBearer, Expiry: exp},
		},
		{
			name: "failing command never shows its token",
			config: map[string]any{
				"command": "sh",
				"args":    []string{"-c", "echo " + canary + "; echo \"cannot renew " + canary + "\" >&2; exit 4"},
			},
			wantErr: []string{`plugins: plugin "exec", provider "failing command never shows its token": plugin reported an error: get token: exec: command sh exited with status 4; stderr: "cannot renew [REDACTED]"`},
		},
		{
			name:    "command timeout",
			config:  map[string]any{"command": "sh", "args": []string{"-c", "sleep " + marker}, "timeout": "300ms"},
			wantErr: []string{"exec: command sh timed out after 300ms and was killed"},
		},
		{
			name:    "unknown config key",
			config:  map[string]any{"command": "sh", "comand": "typo"},
			wantErr: []string{`configure: exec: unknown config key "comand" (known keys: args, command, env, format, kind, timeout)`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := m.Source("exec", tc.name, tc.config)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := src.Token(context.Background())
			if tc.wantErr != nil {
				checkErr(t, err, ErrPlugin, tc.wantErr, []string{canary})
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := result{Value: tok.Value.Reveal(), Kind: tok.Kind, Expiry: tok.Expiry.UTC()}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("token (-want +got):\n%s", diff)
			}
		})
	}
	// The timed-out command's process group was killed with it: only the
	// plugin itself (matched by its binary) is left.
	var left []int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if left = pluginProcesses(t, marker); len(left) == 1 {
			break
		}
	}
	if len(left) != 1 {
		t.Errorf("processes: %v, want only the plugin's", left)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), canary) {
		t.Errorf("host log holds the canary")
	}
}
