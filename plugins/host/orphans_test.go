package host

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The helper host: this test binary, run again with helperEnv set, starts
// the exec plugin through a Manager and asks it for a token whose command
// hangs, so that a test can SIGKILL a host in the middle of a call.
const (
	helperEnv       = "BYOKCRED_TEST_HELPER_HOST"
	helperPluginEnv = "BYOKCRED_TEST_HELPER_PLUGIN"
	helperScriptEnv = "BYOKCRED_TEST_HELPER_SCRIPT"
	helperTmpEnv    = "BYOKCRED_TEST_HELPER_PLUGIN_TMPDIR"
)

func helperHost() int {
	m := NewManager(ManagerOptions{Plugins: map[string]PluginConfig{"exec": {
		Command: os.Getenv(helperPluginEnv),
		Env: raceEnv(map[string]string{
			"PATH": "/usr/bin:/bin",
			// Where go-plugin would put the plugin's socket if the host
			// did not choose.
			"TMPDIR": os.Getenv(helperTmpEnv),
		}),
		StartTimeout: 20 * time.Second,
		CallTimeout:  time.Minute,
	}}})
	src, err := m.Source("exec", "helper", map[string]any{
		"command": "/bin/sh", "args": []any{"-c", os.Getenv(helperScriptEnv)}, "timeout": "50s",
	})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("calling")
	_, err = src.Token(context.Background())
	fmt.Println("returned:", err) // never reached: the test kills this process
	return 0
}

// startHelperHost runs the helper host with script and waits until a
// process whose command line holds marker (started by script) runs.
func startHelperHost(t *testing.T, script, marker, tmp string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", helperPluginEnv+"="+execPlugin, helperScriptEnv+"="+script, helperTmpEnv+"="+tmp, "TMPDIR="+tmp)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "calling\n" {
		t.Fatalf("helper host: %q", line)
	}
	for deadline := time.Now().Add(20 * time.Second); len(markerProcesses(marker)) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the command of the helper host's plugin did not start")
		}
	}
	return cmd
}

// waitMarkerGone fails unless every process whose command line holds marker is
// gone within a few seconds (the kernel delivers the kills, the reaper reaps).
func waitMarkerGone(t *testing.T, marker string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		pids := markerProcesses(marker)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left running: %v", pids)
		}
	}
}

// TestHostKilledMidCallLeavesNothing: a host SIGKILLed while the exec
// plugin runs a command leaves no process behind — not the plugin, not the
// command, and not a grandchild that ignores SIGTERM.
func TestHostKilledMidCallLeavesNothing(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	const marker = "7.993"
	// The marker is computed by the shell, so that only the grandchild's
	// command line holds it and the kill comes after it runs.
	host := startHelperHost(t, `(trap "" TERM; exec sleep 7.99$((1+2))) & wait`, marker, t.TempDir())
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	waitMarkerGone(t, marker)
	for deadline := time.Now().Add(5 * time.Second); len(pluginProcesses(t, "")) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin processes left running: %v", pluginProcesses(t, ""))
		}
	}
}

// TestExecCommandLeftoversKilled: the real exec plugin kills what a
// command leaves behind after every run, including a process that left the
// command's process group and session (setsid), and stops everything its
// commands started when the host closes it.
func TestExecCommandLeftoversKilled(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	m, _ := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"exec": {
		Command: execPlugin, Env: raceEnv(map[string]string{"PATH": "/usr/bin:/bin"}),
		StartTimeout: 10 * time.Second, CallTimeout: 10 * time.Second,
	}}})
	tests := []struct {
		name, script, marker string
	}{
		{"new session", "setsid sleep 7.994 >/dev/null 2>&1 </dev/null & echo tok", "7.994"},
		{"new session of a subshell's child", "(setsid sleep 7.995 >/dev/null 2>&1 </dev/null &) ; echo tok", "7.995"},
		{"process group of its own", "setsid sh -c 'sleep 7.996 & wait' >/dev/null 2>&1 </dev/null & echo tok", "7.996"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := m.Source("exec", "p", map[string]any{"command": "sh", "args": []any{"-c", tc.script}})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := src.Token(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Value.Reveal(); got != "tok" {
				t.Errorf("token %q", got)
			}
			waitMarkerGone(t, tc.marker)
		})
	}
}

// TestStaleSocketsOfAKilledHostRemoved: a host killed with SIGKILL cannot
// remove its plugins' sockets; the next host removes them when it starts a
// plugin, and leaves nothing in the temp dir once it is closed.
func TestStaleSocketsOfAKilledHostRemoved(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	tmp := t.TempDir()
	host := startHelperHost(t, "exec sleep 7.99$((4+3))", "7.997", tmp)
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	for deadline := time.Now().Add(5 * time.Second); len(pluginProcesses(t, "7.997")) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("plugin processes left running: %v", pluginProcesses(t, "7.997"))
		}
	}
	if len(tempFiles(t, tmp)) == 0 {
		t.Fatal("the killed host left no socket: the test no longer reproduces the problem")
	}

	t.Setenv("TMPDIR", tmp)
	m, _ := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"exec": {
		Command: execPlugin,
		Env:     raceEnv(map[string]string{"PATH": "/usr/bin:/bin", "TMPDIR": tmp}),
	}}})
	if err := m.Start(context.Background(), "exec"); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string(nil), tempFiles(t, tmp)); diff != "" {
		t.Errorf("left in the temp dir (-want +got):\n%s", diff)
	}
}

// tempFiles lists everything under dir, relative to it.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
