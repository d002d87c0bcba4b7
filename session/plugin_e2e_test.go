package session_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/plugintest"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// tokenScript writes a script that prints an ExecCredential whose token
// counts up on each run and lives `life`, so tests see fetches and
// rotation through the plugin.
func tokenScript(t *testing.T, life time.Duration) (script, counter string) {
	t.Helper()
	dir := t.TempDir()
	counter = filepath.Join(dir, "n")
	script = filepath.Join(dir, "mint.sh")
	body := fmt.Sprintf(`#!/bin/sh
n=$(cat %[1]s 2>/dev/null || echo 0); n=$((n+1)); echo $n > %[1]s
exp=$(date -u -d "@$(( $(date +%%s) + %[2]d ))" +%%Y-%%m-%%dT%%H:%%M:%%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"plugin-tok-%%s","expirationTimestamp":"%%s"}}' "$n" "$exp"
`, counter, int(life.Seconds()))
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	return script, counter
}

func pluginConfig(t *testing.T, modelURL, script string) string {
	t.Helper()
	bin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	return writeConfig(t, fmt.Sprintf(`plugins:
  minter:
    command: %s
    env: {PATH: /usr/bin:/bin}
    call_timeout: 3s
providers:
  gateway:
    type: openai
    base_url: %s/v1
    model: llama
    auth:
      type: plugin
      plugin: minter
      config: {command: %s, timeout: 2s}
`, bin, modelURL, script))
}

// TestPluginSessionSurvivesAKilledPlugin authenticates a real session
// through the exec plugin, kills the plugin process with SIGKILL between
// turns, and checks the next turns succeed with tokens from the restarted
// plugin — and that no plugin process outlives the set.
func TestPluginSessionSurvivesAKilledPlugin(t *testing.T) {
	needRuntime(t)
	model, err := fakemodel.Start(fakemodel.Options{Reply: "via plugin"})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	script, _ := tokenScript(t, 4*time.Second)
	set, err := registry.Load(pluginConfig(t, model.URL, script), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := plugintest.Build("exec")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := openSession(t, ctx, set, "gateway")
	turn := func(i int) {
		t.Helper()
		if r, err := session.Reply(ctx, s, fmt.Sprintf("turn %d", i)); err != nil || r != "via plugin" {
			t.Fatalf("turn %d: %q, %v", i, r, err)
		}
	}
	turn(1)
	pids := plugintest.PIDs(bin)
	if len(pids) != 1 {
		t.Fatalf("plugin processes = %v, want exactly one", pids)
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
	// The token (4 s, less the script's rounding down to whole seconds)
	// enters its refresh window at half its life: 2 s at most.
	time.Sleep(2 * time.Second)
	turn(2)
	time.Sleep(2 * time.Second)
	turn(3)
	after := plugintest.PIDs(bin)
	if len(after) != 1 || after[0] == pids[0] {
		t.Errorf("plugin processes after the kill = %v (killed %d): want one restarted process", after, pids[0])
	}
	tokens := map[string]bool{}
	for _, r := range model.Requests() {
		_, v := r.Credential()
		if !strings.HasPrefix(v, "plugin-tok-") {
			t.Errorf("request carried %q", v)
		}
		tokens[v] = true
	}
	if len(tokens) < 2 {
		t.Errorf("tokens did not rotate through the restarted plugin: %v", tokens)
	}
	set.Close()
	if left := plugintest.PIDs(bin); len(left) != 0 {
		t.Errorf("plugin processes left after Close: %v", left)
	}
}

// TestPluginHangFailsWithOneClearError: a plugin whose command hangs past
// the call timeout makes session creation fail with an error naming the
// plugin and the provider, and leaves no process behind.
func TestPluginHangFailsWithOneClearError(t *testing.T) {
	needRuntime(t)
	dir := t.TempDir()
	hang := filepath.Join(dir, "hang.sh")
	os.WriteFile(hang, []byte("#!/bin/sh\nexec sleep 60\n"), 0o700)
	set, err := registry.Load(pluginConfig(t, "http://127.0.0.1:9", hang), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = session.NewFactory(set, session.Options{}).SessionConfig(ctx, "gateway", session.ToolFree())
	if err == nil {
		t.Fatal("want an error from a hanging plugin")
	}
	for _, want := range []string{"gateway", "minter"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the hang was noticed after %v; the bound is the call timeout (3s)", d)
	}
	set.Close()
	bin, _ := plugintest.Build("exec")
	if left := plugintest.PIDs(bin); len(left) != 0 {
		t.Errorf("plugin processes left: %v", left)
	}
	t.Logf("error: %v", err)
}
