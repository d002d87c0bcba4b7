package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/plugins/shared"
)

// checkErr compares what matters in an error: the fault it wraps, the
// "plugins: plugin …, provider …:" prefix, the phrases that must be there
// and the secrets that must not.
func checkErr(t *testing.T, err error, wantIs error, wantIn []string, notIn []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one wrapping %v", wantIs)
	}
	if !errors.Is(err, wantIs) {
		t.Errorf("error %q does not wrap %q", err, wantIs)
	}
	var missing, leaked []string
	for _, s := range wantIn {
		if !strings.Contains(err.Error(), s) {
			missing = append(missing, s)
		}
	}
	for _, s := range notIn {
		if strings.Contains(err.Error(), s) {
			leaked = append(leaked, s)
		}
	}
	if diff := cmp.Diff([]string(nil), missing); diff != "" {
		t.Errorf("error %q lacks phrases (-want +got):\n%s", err, diff)
	}
	if diff := cmp.Diff([]string(nil), leaked); diff != "" {
		t.Errorf("error %q leaks (-want +got):\n%s", err, diff)
	}
}

// TestChecksumMatch: a correct pin starts the plugin, in either spelling.
func TestChecksumMatch(t *testing.T) {
	sum := mustSHA256(t, testPlugin)
	for name, pin := range map[string]string{"plain": sum, "prefixed upper case": "sha256:" + strings.ToUpper(sum)} {
		t.Run(name, func(t *testing.T) {
			cfg := testPluginConfig(nil)
			cfg.SHA256 = pin
			m, _ := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"p": cfg}})
			src, err := m.Source("p", "prov", map[string]any{"behavior": "ok"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := src.Token(context.Background()); err != nil {
				t.Errorf("pin %q: %v", pin, err)
			}
		})
	}
}

// TestUnknownPlugin: a provider naming no plugin entry is refused by Source.
func TestUnknownPlugin(t *testing.T) {
	m, _ := newManager(t, ManagerOptions{})
	_, err := m.Source("vault", "gateway", nil)
	checkErr(t, err, ErrUnknownPlugin, []string{`plugins: plugin "vault", provider "gateway": no such plugin`}, nil)
}

// TestSharedProcess: providers using one plugin share one process, each
// with its own config, and the process starts lazily.
func TestSharedProcess(t *testing.T) {
	m, _ := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"p": testPluginConfig(nil)}})
	a, err := m.Source("p", "a", map[string]any{"behavior": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Source("p", "b", map[string]any{"behavior": "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if pids := pluginProcesses(t, ""); len(pids) != 0 {
		t.Fatalf("processes before the first Token call: %v; want lazy start", pids)
	}
	ta, err := a.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tb, err := b.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pid := pidOf(t, ta.Value.Reveal())
	want := []string{fmt.Sprintf("tok-a-%d-1", pid), fmt.Sprintf("tok-b-%d-1", pid)}
	if diff := cmp.Diff(want, []string{ta.Value.Reveal(), tb.Value.Reveal()}); diff != "" {
		t.Errorf("tokens (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{pid}, pluginProcesses(t, "")); diff != "" {
		t.Errorf("plugin processes (-want +got):\n%s", diff)
	}
}

// TestEagerStart: Start runs the process before any Token call, and reports
// a broken entry at once.
func TestEagerStart(t *testing.T) {
	broken := testPluginConfig(nil)
	broken.Command = binDir + "/missing"
	m, _ := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"p": testPluginConfig(nil), "broken": broken}})
	if err := m.Start(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if n := len(pluginProcesses(t, "")); n != 1 {
		t.Errorf("%d plugin processes after Start, want 1", n)
	}
	err := m.Start(context.Background(), "broken")
	checkErr(t, err, ErrBinaryNotFound, []string{`plugins: plugin "broken": `}, nil)
}

// TestEnvIsolation: the plugin sees exactly its configured env plus
// go-plugin's handshake variables, and none of the host's.
func TestEnvIsolation(t *testing.T) {
	t.Setenv("BYOKCRED_TEST_HOST_SECRET", "host-only-value")
	m, _ := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{
		"p": testPluginConfig(map[string]string{"VAULT_ADDR": "https://vault.example"}),
	}})
	src, _ := m.Source("p", "prov", map[string]any{"behavior": "env"})
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		shared.Handshake.MagicCookieKey,
		"GORACE",             // only with -race, from testPluginConfig
		"PLUGIN_CLIENT_CERT", // AutoMTLS: the host's certificate
		"PLUGIN_MAX_PORT",
		"PLUGIN_MIN_PORT",
		"PLUGIN_PROTOCOL_VERSIONS",
		"PLUGIN_UNIX_SOCKET_DIR", // the host's private socket directory
		"VAULT_ADDR",
	}
	if !raceEnabled {
		want = slices.DeleteFunc(want, func(s string) bool { return s == "GORACE" })
	}
	got := strings.Split(tok.Value.Reveal(), ",")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plugin env names (-want +got):\n%s", diff)
	}
}

// TestClose: Close kills the processes (the cleanup checks) and later calls
// fail with ErrClosed.
func TestClose(t *testing.T) {
	m, _ := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"p": testPluginConfig(nil)}})
	src, _ := m.Source("p", "prov", map[string]any{"behavior": "ok"})
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if pid := pidOf(t, tok.Value.Reveal()); alive(pid) {
		t.Errorf("process %d alive after Close", pid)
	}
	_, err = src.Token(context.Background())
	checkErr(t, err, ErrClosed, []string{`plugins: plugin "p", provider "prov": plugin manager is closed`}, nil)
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
