package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestFaults covers the faults that end one call with a clear error and
// leave no process behind; each case gets a fresh Manager.
func TestFaults(t *testing.T) {
	const canary = "CANARY-7f3a9c1e5b-token"
	prefix := `plugins: plugin "p", provider "prov": `
	tests := []struct {
		name   string
		plugin func(*PluginConfig)
		config map[string]any
		wantIs error
		wantIn []string
		// wantLog is a phrase the host log must hold (the plugin's own
		// diagnostics reach it).
		wantLog string
	}{
		{
			name:   "missing binary",
			plugin: func(c *PluginConfig) { c.Command = binDir + "/no-such-plugin" },
			wantIs: ErrBinaryNotFound,
			wantIn: []string{prefix, "no-such-plugin does not exist"},
		},
		{
			name: "binary not executable",
			plugin: func(c *PluginConfig) {
				c.Command = binDir + "/not-executable"
			},
			wantIs: ErrBinaryNotFound,
			wantIn: []string{prefix, "not an executable file"},
		},
		{
			name:   "checksum mismatch",
			plugin: func(c *PluginConfig) { c.SHA256 = strings.Repeat("ab", 32) },
			wantIs: ErrChecksumMismatch,
			// Expected and actual digests both appear.
			wantIn: []string{prefix, "expected " + strings.Repeat("ab", 32), "has sha256 " + mustSHA256(t, testPlugin)},
		},
		{
			name:   "malformed checksum",
			plugin: func(c *PluginConfig) { c.SHA256 = "abc" },
			wantIs: ErrInvalidConfig,
			wantIn: []string{prefix, "64 hex digits"},
		},
		{
			name: "hang before handshake",
			plugin: func(c *PluginConfig) {
				c.Env = raceEnv(map[string]string{"TESTPLUGIN_MODE": "hang-start"})
				c.StartTimeout = 300 * time.Millisecond
			},
			wantIs: ErrStartTimeout,
			wantIn: []string{prefix, "no handshake within 300ms", "killed"},
		},
		{
			name: "exits before handshake",
			plugin: func(c *PluginConfig) {
				c.Env = raceEnv(map[string]string{"TESTPLUGIN_MODE": "exit-start"})
			},
			wantIs:  ErrHandshake,
			wantIn:  []string{prefix, "exited before completing the handshake"},
			wantLog: "testplugin: failing on purpose",
		},
		{
			name: "garbage instead of handshake on stdout",
			plugin: func(c *PluginConfig) {
				c.Env = raceEnv(map[string]string{"TESTPLUGIN_MODE": "stdout-garbage", "TESTPLUGIN_CANARY": canary})
			},
			wantIs: ErrHandshake,
			wantIn: []string{prefix, "not shown"},
		},
		{
			name:   "empty token",
			config: map[string]any{"behavior": "empty"},
			wantIs: ErrInvalidToken,
			wantIn: []string{prefix, "value is empty"},
		},
		{
			name:   "unknown kind",
			config: map[string]any{"behavior": "badkind"},
			wantIs: ErrInvalidToken,
			wantIn: []string{prefix, "unknown kind 0"},
		},
		{
			name:   "expired token",
			config: map[string]any{"behavior": "expired"},
			wantIs: ErrExpiredToken,
			wantIn: []string{prefix, "expired at"},
		},
		{
			name:   "plugin error is redacted",
			config: map[string]any{"behavior": "error", "message": "idp said no to Bearer abcdefghijklmnop"},
			wantIs: ErrPlugin,
			wantIn: []string{prefix, "get token: idp said no to Bearer [REDACTED]"},
		},
		{
			name:   "invalid config",
			config: map[string]any{"behavior": "ok", "bogus": 1},
			wantIs: ErrPlugin,
			wantIn: []string{prefix, `configure: testplugin: unknown config key "bogus"`},
		},
	}
	// A file that exists but cannot be executed.
	if err := writeFile(binDir+"/not-executable", "#!/bin/sh\n", 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testPluginConfig(nil)
			if tc.plugin != nil {
				tc.plugin(&cfg)
			}
			m, logs := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"p": cfg}})
			config := tc.config
			if config == nil {
				config = map[string]any{"behavior": "ok"}
			}
			var err error
			src, err := m.Source("p", "prov", config)
			if err == nil {
				_, err = src.Token(context.Background())
			}
			checkErr(t, err, tc.wantIs, tc.wantIn, []string{canary})
			if tc.wantLog != "" {
				// The plugin's stderr reaches the host on go-plugin's
				// goroutines, which Close does not wait for: a line
				// still in flight when the plugin is killed is lost.
				logged(t, logs, tc.wantLog)
			}
			// Close drains the relay before the log is read.
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(logs.String(), canary) {
				t.Errorf("the host log holds the canary")
			}
			if tc.wantLog != "" && !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("the host log lacks %q", tc.wantLog)
			}
		})
	}
}

// TestHangInCall: a call that outlives CallTimeout fails with
// ErrCallTimeout, the hung process is killed, and the next call (of any
// provider) runs in a new process configured afresh.
func TestHangInCall(t *testing.T) {
	cfg := testPluginConfig(nil)
	cfg.CallTimeout = 500 * time.Millisecond
	m, _ := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"p": cfg}})
	ok, _ := m.Source("p", "ok", map[string]any{"behavior": "ok"})
	hang, _ := m.Source("p", "hang", map[string]any{"behavior": "hang"})

	tok, err := ok.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pid1 := pidOf(t, tok.Value.Reveal())

	start := time.Now()
	_, err = hang.Token(context.Background())
	checkErr(t, err, ErrCallTimeout, []string{`plugins: plugin "p", provider "hang": `, "get token did not return within 500ms", "killed"}, nil)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the hung call took %s, want about CallTimeout", d)
	}
	if alive(pid1) {
		t.Errorf("hung process %d is still alive", pid1)
	}

	tok, err = ok.Token(context.Background())
	if err != nil {
		t.Fatalf("after the hang: %v", err)
	}
	if pid2 := pidOf(t, tok.Value.Reveal()); pid2 == pid1 {
		t.Errorf("token still from the killed process %d", pid1)
	}
}

// TestCrashMidSession: a process that dies between calls is replaced on the
// next call, which re-sends the config; one that dies during a call fails
// that call with ErrCrashed and is replaced on the next.
func TestCrashMidSession(t *testing.T) {
	m, _ := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"p": testPluginConfig(nil)}})
	ok, _ := m.Source("p", "ok", map[string]any{"behavior": "ok"})
	crash, _ := m.Source("p", "crash", map[string]any{"behavior": "crash"})

	tok, err := ok.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pid1 := pidOf(t, tok.Value.Reveal())
	// Crash between calls: kill it from outside.
	if err := syscall.Kill(pid1, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid1)
	tok, err = ok.Token(context.Background())
	if err != nil {
		t.Fatalf("after an external kill: %v", err)
	}
	pid2 := pidOf(t, tok.Value.Reveal())
	if pid2 == pid1 {
		t.Fatalf("token from the killed process")
	}
	// The new process counts from 1 again: Configure was sent anew.
	if diff := cmp.Diff(fmt.Sprintf("tok-ok-%d-1", pid2), tok.Value.Reveal()); diff != "" {
		t.Errorf("token (-want +got):\n%s", diff)
	}

	// Crash during a call.
	_, err = crash.Token(context.Background())
	checkErr(t, err, ErrCrashed, []string{`plugins: plugin "p", provider "crash": `, "exited during get token", "restarted on the next call"}, nil)
	if alive(pid2) {
		t.Errorf("crashed process %d still alive", pid2)
	}
	tok, err = ok.Token(context.Background())
	if err != nil {
		t.Fatalf("after a crash in a call: %v", err)
	}
	if pidOf(t, tok.Value.Reveal()) == pid2 {
		t.Errorf("token from the crashed process")
	}
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !alive(pid) {
			return
		}
	}
	t.Fatalf("process %d did not exit", pid)
}

// TestCrashLoop: a plugin that crashes on every call is restarted at most
// MaxRestarts times within the window, then refused with a clear error that
// says why it kept failing.
func TestCrashLoop(t *testing.T) {
	m, _ := newManager(t, ManagerOptions{
		Plugins:       map[string]PluginConfig{"p": testPluginConfig(nil)},
		MaxRestarts:   2,
		RestartWindow: time.Minute,
	})
	crash, _ := m.Source("p", "crash", map[string]any{"behavior": "crash"})
	var got []string
	for range 5 {
		_, err := crash.Token(context.Background())
		switch {
		case errors.Is(err, ErrCrashed):
			got = append(got, "crashed")
		case errors.Is(err, ErrRestartLimit):
			got = append(got, "limit")
			checkErr(t, err, ErrRestartLimit, []string{`plugins: plugin "p", provider "crash": `, "started 3 times within 1m0s", "last failure: the process exited during get token", "not starting it again before"}, nil)
		default:
			got = append(got, fmt.Sprint(err))
		}
	}
	// One start and two restarts, then the limit holds.
	if diff := cmp.Diff([]string{"crashed", "crashed", "crashed", "limit", "limit"}, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
}

// TestCallClassification covers outcomes a real plugin produces only by
// timing: gRPC hands the plugin the caller's remaining time, so the plugin's
// DeadlineExceeded can arrive before the caller's own context has noticed
// its deadline. That is the caller giving up, not a hung plugin.
func TestCallClassification(t *testing.T) {
	i := &instance{name: "p", cfg: PluginConfig{CallTimeout: 10 * time.Second}, log: slog.New(slog.DiscardHandler), relay: newRelay(slog.New(slog.DiscardHandler))}
	p := &process{client: &plugin.Client{}} // never started: Exited is false
	tests := []struct {
		name           string
		callerDeadline bool // one earlier than CallTimeout's
		rpcErr         error
		wantIs         error
		wantMsg        string
	}{
		{
			name:           "plugin saw the caller's deadline first",
			callerDeadline: true,
			rpcErr:         status.Error(codes.DeadlineExceeded, "context deadline exceeded"),
			wantIs:         context.DeadlineExceeded,
			wantMsg:        "get token: context deadline exceeded",
		},
		{
			name:    "plugin's own error",
			rpcErr:  status.Error(codes.Unknown, "vault said no"),
			wantIs:  ErrPlugin,
			wantMsg: "plugin reported an error: get token: vault said no",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.callerDeadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, time.Now().Add(5*time.Second))
				defer cancel()
			}
			err := i.call(ctx, p, "get token", func(context.Context) error { return tc.rpcErr })
			if !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tc.wantIs)
			}
			if err == nil || err.Error() != tc.wantMsg {
				t.Errorf("error = %v, want %q", err, tc.wantMsg)
			}
			if i.cur != nil || i.lastFailure != "" {
				t.Errorf("the process was discarded (%q); want it left running", i.lastFailure)
			}
		})
	}
}
