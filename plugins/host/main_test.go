package host

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
)

// Binaries built once per test binary (one `go build` for both, so the
// shared dependencies are linked once).
var (
	binDir     string
	testPlugin string // testdata/testplugin: the misbehaving plugin
	execPlugin string // the shipped exec plugin
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperHost())
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse() // for testing.Verbose
	dir, err := os.MkdirTemp("", "byokcred-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./testdata/testplugin", "../exec/cmd/byokcred-plugin-exec")
	cmd := exec.Command(goTool(), args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building test plugins:", err)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "built test plugins in %s\n", time.Since(start).Round(time.Millisecond))
	}
	testPlugin = filepath.Join(dir, "testplugin")
	execPlugin = filepath.Join(dir, "byokcred-plugin-exec")
	return m.Run()
}

// goTool is the go command that builds the test plugins: go test puts its
// own toolchain's bin first in PATH.
func goTool() string {
	return "go"
}

// newManager builds a Manager logging at debug into a buffer, and registers
// its Close and the orphan check as cleanups.
func newManager(t *testing.T, opts ManagerOptions) (*Manager, *syncbuf.Buffer) {
	t.Helper()
	buf := &syncbuf.Buffer{}
	opts.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := NewManager(opts)
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertNoPluginProcesses(t)
		if t.Failed() {
			t.Logf("host log:\n%s", buf.String())
		}
	})
	return m, buf
}

// testPluginConfig is an entry for the misbehaving plugin. Timeouts are
// generous for a race-instrumented binary on a loaded machine; tests that
// exercise a timeout set their own.
func testPluginConfig(env map[string]string) PluginConfig {
	return PluginConfig{Command: testPlugin, Env: raceEnv(env), StartTimeout: 10 * time.Second, CallTimeout: 10 * time.Second}
}

// raceEnv adds, for plugins built with -race, the setting that stops the
// race runtime from sleeping a second before every exit (which would make
// each Close take a second).
func raceEnv(env map[string]string) map[string]string {
	if !raceEnabled {
		return env
	}
	out := map[string]string{"GORACE": "atexit_sleep_ms=0"}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// pluginProcesses lists live processes whose binary is one of the test's
// plugins, or whose command line holds marker (for what a plugin started).
func pluginProcesses(t *testing.T, marker string) []int {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return processes(func(exe string, cmdline []byte) bool {
		return strings.HasPrefix(exe, binDir+string(filepath.Separator)) ||
			marker != "" && bytes.Contains(cmdline, []byte(marker))
	})
}

// markerProcesses lists live processes whose command line holds marker.
func markerProcesses(marker string) []int {
	return processes(func(_ string, cmdline []byte) bool { return bytes.Contains(cmdline, []byte(marker)) })
}

// processes lists the processes (other than this one) that match.
func processes(match func(exe string, cmdline []byte) bool) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if match(exe, cmdline) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// assertNoPluginProcesses fails if a plugin process outlived its Manager.
// Close waits for the processes, so there is no grace period.
func assertNoPluginProcesses(t *testing.T) {
	t.Helper()
	if pids := pluginProcesses(t, ""); len(pids) > 0 {
		t.Errorf("plugin processes left behind: %v", pids)
	}
}

// pidOf reads the pid that the test plugin puts in its tokens
// ("tok-<provider>-<pid>-<n>").
func pidOf(t *testing.T, token string) int {
	t.Helper()
	parts := strings.Split(token, "-")
	if len(parts) < 4 {
		t.Fatalf("token %q is not tok-<provider>-<pid>-<n>", token)
	}
	pid, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil {
		t.Fatalf("token %q: %v", token, err)
	}
	return pid
}

// alive reports whether pid exists (go-plugin reaps its children, so a
// dead plugin is not left as a zombie).
func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }
