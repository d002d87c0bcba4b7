package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
)

// builtBinary is bin/byokcred built once for the tests that need whole
// processes: the Copilot CLI runs the key command as a process, and the
// agent's socket, signals and peer checks are per process.
var builtBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

func byokcredBinary(t *testing.T) string {
	t.Helper()
	builtBinary.once.Do(func() {
		// Readable by every uid: one test runs the binary as nobody.
		dir, err := os.MkdirTemp("", "byokcred-bin-")
		if err != nil {
			builtBinary.err = err
			return
		}
		builtBinary.dir = dir
		if err := os.Chmod(dir, 0o755); err != nil {
			builtBinary.err = err
			return
		}
		path := filepath.Join(dir, "byokcred")
		if prebuilt := os.Getenv(prebuiltBinaryEnv); prebuilt != "" {
			// Copied, not used in place: the copy is in a directory
			// every uid can reach.
			if err := copyExecutable(path, prebuilt); err != nil {
				builtBinary.err = fmt.Errorf("$%s: %v", prebuiltBinaryEnv, err)
				return
			}
			builtBinary.path = path
			return
		}
		out, err := exec.Command("go", "build", "-o", path, "../../cmd/byokcred").CombinedOutput()
		if err != nil {
			builtBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		builtBinary.path = path
	})
	if builtBinary.err != nil {
		t.Fatal(builtBinary.err)
	}
	return builtBinary.path
}

// prebuiltBinaryEnv names a byokcred binary already built from this tree
// (make test builds bin/byokcred once for every package that runs it);
// unset, the tests build their own.
const prebuiltBinaryEnv = "BYOKCRED_TEST_BIN"

func copyExecutable(dst, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}

func removeBuiltBinary() {
	if builtBinary.dir != "" {
		os.RemoveAll(builtBinary.dir)
	}
}

// agentProc is `byokcred agent` running as a process of its own.
type agentProc struct {
	cmd    *exec.Cmd
	log    *syncbuf.Buffer
	done   chan struct{}
	socket string
}

func startAgentProc(t *testing.T, bin string, env []string, socket string, args ...string) *agentProc {
	t.Helper()
	ap := &agentProc{log: &syncbuf.Buffer{}, done: make(chan struct{}), socket: socket}
	ap.cmd = exec.Command(bin, append(args, "agent", "--socket", socket)...)
	ap.cmd.Env, ap.cmd.Stdout, ap.cmd.Stderr = env, ap.log, ap.log
	if err := ap.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { ap.cmd.Wait(); close(ap.done) }()
	t.Cleanup(func() {
		ap.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-ap.done:
		case <-time.After(10 * time.Second):
			ap.cmd.Process.Kill()
			t.Error("agent did not stop on SIGTERM within 10s")
		}
	})
	waitForSocket(t, socket, ap.done, ap.log)
	return ap
}

func waitForSocket(t *testing.T, socket string, exited chan struct{}, log *syncbuf.Buffer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("agent exited before listening:\n%s", log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not listening on %s after 15s:\n%s", socket, log)
		}
	}
}

// waitForLog waits until the agent's log contains want n times.
func (ap *agentProc) waitForLog(t *testing.T, want string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(ap.log.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("agent log lacks %q ×%d after 10s:\n%s", want, n, ap.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type procResult struct {
	stdout, stderr string
	code           int
}

func runProc(t *testing.T, cmd *exec.Cmd) procResult {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", cmd, err)
	}
	return procResult{out.String(), errb.String(), code}
}

// helperFailed checks the helper's failure contract: nothing on stdout,
// exactly one line on stderr, a non-zero exit.
func helperFailed(t *testing.T, what string, r procResult, wantErr string) {
	t.Helper()
	if r.code == 0 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, wantErr) {
		t.Errorf("%s: exit %d, stdout %q, stderr %q; want non-zero, nothing, one line containing %q", what, r.code, r.stdout, r.stderr, wantErr)
	}
}

const (
	agentKeyA = "CANARY-agent-key-A-7d1f0c9e"
	agentKeyB = "CANARY-agent-key-B-2b8e4a61"
)

func staticConfig(key string) string {
	return `providers:
  gw:
    type: openai
    base_url: http://127.0.0.1:9/v1
    model: m
    auth:
      type: static
      api_key: ` + key + `
`
}

// TestAgentAndHelper runs the agent and the helper as the Copilot CLI does:
// separate processes. The socket's modes, the helper's output contract,
// SIGHUP reaching the next helper call, a peer of another uid refused, the
// agent killed (the helper works alone, or starts a new agent), and no
// credential in the agent's debug log.
func TestAgentAndHelper(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	bin, dir, cfg, socket, env := agentSetup(t)
	helper := func(args ...string) procResult {
		cmd := exec.Command(bin, append([]string{"-c", cfg, "credential", "--socket", socket}, args...)...)
		cmd.Env = env
		return runProc(t, cmd)
	}
	ap := startAgentProc(t, bin, env, socket, "-c", cfg, "--log-level", "debug")

	for path, want := range map[string]os.FileMode{socket: 0o600, filepath.Dir(socket): 0o700} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}

	if r := helper("--agent", "require", "gw"); r.code != 0 || r.stdout != agentKeyA+"\n" || r.stderr != "" {
		t.Fatalf("helper through the agent: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	helperFailed(t, "unknown provider", helper("--agent", "require", "nope"), `unknown provider "nope"`)

	// SIGHUP: the next helper call gets the new key.
	if err := os.WriteFile(cfg, []byte(staticConfig(agentKeyB)), 0o600); err != nil {
		t.Fatal(err)
	}
	ap.cmd.Process.Signal(syscall.SIGHUP)
	ap.waitForLog(t, "config reloaded", 1)
	if r := helper("--agent", "require", "gw"); r.stdout != agentKeyB+"\n" {
		t.Errorf("after SIGHUP: exit %d, stdout %q, stderr %q; want the new key", r.code, r.stdout, r.stderr)
	}

	t.Run("a peer of another uid is refused", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("needs root to run a process as another uid; TestAsk covers the protocol")
		}
		// Open the file modes so that only SO_PEERCRED stands in the way.
		os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent
		os.Chmod(dir, 0o755)
		os.Chmod(filepath.Dir(socket), 0o755)
		os.Chmod(socket, 0o666)
		defer os.Chmod(socket, 0o600)
		defer os.Chmod(filepath.Dir(socket), 0o700)
		cmd := exec.Command(bin, "-c", cfg, "credential", "--socket", socket, "--agent", "require", "gw")
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		r := runProc(t, cmd)
		// The helper of another uid refuses root's socket before it dials;
		// the agent's own SO_PEERCRED refusal of a raw client of another
		// uid is internal/agent's TestPeerOfAnotherUIDRefused.
		helperFailed(t, "uid 65534", r, "is owned by uid 0, not by this user (uid 65534)")
	})

	// Killed: the socket file stays behind, nobody answers on it.
	ap.cmd.Process.Kill()
	<-ap.done
	if _, err := os.Stat(socket); err != nil {
		t.Fatalf("a killed agent's socket should remain (the stale case): %v", err)
	}
	if r := helper("gw"); r.code != 0 || r.stdout != agentKeyB+"\n" {
		t.Errorf("agent killed, --agent auto: exit %d, stdout %q, stderr %q; want the key, fetched alone", r.code, r.stdout, r.stderr)
	}
	helperFailed(t, "agent killed, --agent require", helper("--agent", "require", "gw"), "no agent running")

	// --agent start replaces the stale socket with a new agent.
	if r := helper("--agent", "start", "gw"); r.code != 0 || r.stdout != agentKeyB+"\n" {
		t.Fatalf("--agent start: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	started := stopStartedAgent(t, socket+".log")
	if r := helper("--agent", "require", "gw"); r.stdout != agentKeyB+"\n" {
		t.Errorf("the started agent does not answer: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	for name, log := range map[string]string{"agent": ap.log.String(), "started agent": string(started)} {
		if strings.Contains(log, agentKeyA) || strings.Contains(log, agentKeyB) {
			t.Errorf("a key reached the %s's debug log:\n%s", name, log)
		}
	}
	if !strings.Contains(ap.log.String(), "agent: served") {
		t.Errorf("the debug log has no served lines; the canary check proves nothing:\n%s", ap.log)
	}
}

// stopStartedAgent reads the log of the agent a helper started and stops
// that agent when the test ends. It returns the log as read.
func stopStartedAgent(t *testing.T, logPath string) []byte {
	t.Helper()
	started, _ := os.ReadFile(logPath)
	m := regexp.MustCompile(`pid (\d+)\)`).FindSubmatch(started)
	if m == nil {
		t.Fatalf("the started agent's log names no pid:\n%s", started)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	t.Cleanup(func() {
		// Not our child (the helper started it): wait for it to go before
		// its directory is removed.
		syscall.Kill(pid, syscall.SIGTERM)
		for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("the started agent (pid %d) did not stop on SIGTERM", pid)
				syscall.Kill(pid, syscall.SIGKILL)
				return
			}
		}
	})
	return started
}

// TestHelperWithoutAgentConfig: a helper naming another config file than
// the agent's works alone instead of taking the agent's credential.
func TestHelperNamesItsConfig(t *testing.T) {
	bin := byokcredBinary(t)
	dir := t.TempDir()
	cfgA := filepath.Join(dir, "a.yaml")
	cfgB := filepath.Join(dir, "b.yaml")
	os.WriteFile(cfgA, []byte(staticConfig(agentKeyA)), 0o600)
	os.WriteFile(cfgB, []byte(staticConfig(agentKeyB)), 0o600)
	socket := filepath.Join(dir, "run", "agent.sock")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	startAgentProc(t, bin, env, socket, "-c", cfgA)
	tests := []struct {
		name, cfg, mode string
		want            string
		wantErr         string
	}{
		{name: "the agent's config", cfg: cfgA, mode: "require", want: agentKeyA + "\n"},
		{name: "another config, auto: alone", cfg: cfgB, mode: "auto", want: agentKeyB + "\n"},
		{name: "another config, require: refused", cfg: cfgB, mode: "require", wantErr: "the agent serves " + cfgA + ", not " + cfgB},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.CommandContext(context.Background(), bin, "-c", tt.cfg, "credential", "--socket", socket, "--agent", tt.mode, "gw")
			cmd.Env = env
			r := runProc(t, cmd)
			if tt.wantErr != "" {
				helperFailed(t, tt.name, r, tt.wantErr)
				return
			}
			if r.code != 0 || r.stdout != tt.want {
				t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// agentSetup is the world of an agent test: the byokcred binary, a
// temporary directory that is also $HOME, a static config (agentKeyA) in
// it, the socket path in a directory not yet made, and the environment the
// processes run with.
func agentSetup(t *testing.T) (bin, dir, cfg, socket string, env []string) {
	t.Helper()
	bin = byokcredBinary(t)
	dir = t.TempDir()
	cfg = filepath.Join(dir, "byokcred.yaml")
	if err := os.WriteFile(cfg, []byte(staticConfig(agentKeyA)), 0o600); err != nil {
		t.Fatal(err)
	}
	socket = filepath.Join(dir, "run", "agent.sock")
	env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	return bin, dir, cfg, socket, env
}
