//go:build linux

package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/agent"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
)

const agentKeyC = "CANARY-agent-key-C-5c3d9f20"

// TestHelperUntrustedSocket: a socket directory squatted by another uid
// (or a log path linked elsewhere) is never used: --agent auto works alone
// and says why on stderr, require and start fail in one line and start
// neither writes a log nor starts an agent there.
func TestHelperUntrustedSocket(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a directory owned by another uid")
	}
	bin := byokcredBinary(t)
	squatted := fmt.Sprintf("is owned by uid 65534, not by this user (uid %d)", os.Geteuid())
	tests := []struct {
		name       string
		setup      func(t *testing.T, run string) // run does not exist yet
		mode       string
		wantKey    bool
		wantStderr string
	}{
		{name: "squatted, auto: alone, with a warning", setup: squatWithSocket, mode: "auto", wantKey: true, wantStderr: squatted},
		{name: "squatted, require", setup: squatWithSocket, mode: "require", wantStderr: squatted},
		{name: "squatted, start", setup: squatWithSocket, mode: "start", wantStderr: squatted},
		{name: "squatted, empty, start", setup: squat, mode: "start", wantStderr: "starting the agent: agent: untrusted socket: socket directory"},
		{name: "log linked to a victim, start", setup: func(t *testing.T, run string) {
			if err := os.Mkdir(run, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(filepath.Dir(run), "victim"), filepath.Join(run, "agent.sock.log")); err != nil {
				t.Fatal(err)
			}
		}, mode: "start", wantStderr: "agent.sock.log is a symbolic link: remove it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "byokcred.yaml")
			if err := os.WriteFile(cfg, []byte(staticConfig(agentKeyA)), 0o600); err != nil {
				t.Fatal(err)
			}
			run := filepath.Join(dir, "run")
			tt.setup(t, run)
			socket := filepath.Join(run, "agent.sock")
			cmd := exec.Command(bin, "-c", cfg, "credential", "--socket", socket, "--agent", tt.mode, "gw")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
			r := runProc(t, cmd)
			if _, err := os.Stat(socket + ".log"); err == nil {
				stopStartedAgent(t, socket+".log") // the unfixed helper started one
			}
			if tt.wantKey {
				if r.code != 0 || r.stdout != agentKeyA+"\n" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, tt.wantStderr) {
					t.Errorf("exit %d, stdout %q, stderr %q; want the key, worked out alone, and one line saying %q", r.code, r.stdout, r.stderr, tt.wantStderr)
				}
			} else {
				helperFailed(t, tt.mode, r, tt.wantStderr)
			}
			for _, e := range entries(t, run) {
				if e != "agent.sock" && e != "agent.sock.log" { // the setup's
					t.Errorf("the helper created %s in %s", e, run)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "victim")); err == nil {
				t.Errorf("the log link's target was created")
			}
		})
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, _ := os.ReadDir(dir)
	var names []string
	for _, e := range des {
		names = append(names, e.Name())
	}
	return names
}

// squatWithSocket is squat with a socket of the other user's in run.
func squatWithSocket(t *testing.T, run string) {
	t.Helper()
	squat(t, run)
	socket := filepath.Join(run, "agent.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := os.Lchown(socket, 65534, 65534); err != nil {
		t.Fatal(err)
	}
}

// squat makes run as another user would in a shared temporary directory.
func squat(t *testing.T, run string) {
	t.Helper()
	if err := os.Mkdir(run, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(run, 65534, 65534); err != nil {
		t.Fatal(err)
	}
}

// TestAgentPerConfig: while the socket's agent serves another config,
// `--agent start` starts an agent of the helper's own config on the
// config's socket, and later helpers (any mode) use it; `byokcred agent`
// without --socket listens there too. The first agent keeps serving its
// config.
func TestAgentPerConfig(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	bin := byokcredBinary(t)
	dir := t.TempDir()
	cfgA := filepath.Join(dir, "a.yaml")
	cfgB := filepath.Join(dir, "b.yaml")
	cfgC := filepath.Join(dir, "c.yaml")
	for cfg, key := range map[string]string{cfgA: agentKeyA, cfgB: agentKeyB, cfgC: agentKeyC} {
		if err := os.WriteFile(cfg, []byte(staticConfig(key)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	socket := filepath.Join(dir, "run", "agent.sock")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, agent.SocketEnv + "=" + socket}
	startAgentProc(t, bin, env, socket, "-c", cfgA)
	helper := func(cfg, mode string) procResult {
		cmd := exec.Command(bin, "-c", cfg, "credential", "--agent", mode, "gw")
		cmd.Env = env
		return runProc(t, cmd)
	}

	if r := helper(cfgB, "start"); r.code != 0 || r.stdout != agentKeyB+"\n" || r.stderr != "" {
		t.Fatalf("--agent start for another config: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	own := agent.ConfigSocket(socket, cfgB)
	stopStartedAgent(t, own+".log")
	for _, mode := range []string{"require", "auto", "start"} {
		if r := helper(cfgB, mode); r.code != 0 || r.stdout != agentKeyB+"\n" || r.stderr != "" {
			t.Errorf("--agent %s for config B: exit %d, stdout %q, stderr %q; want B's agent's key", mode, r.code, r.stdout, r.stderr)
		}
	}
	if r := helper(cfgA, "require"); r.stdout != agentKeyA+"\n" {
		t.Errorf("config A: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// `byokcred agent` for a third config, the socket from the environment.
	ownC := agent.ConfigSocket(socket, cfgC)
	ap := &agentProc{log: &syncbuf.Buffer{}, done: make(chan struct{}), socket: ownC}
	ap.cmd = exec.Command(bin, "-c", cfgC, "agent")
	ap.cmd.Env, ap.cmd.Stdout, ap.cmd.Stderr = env, ap.log, ap.log
	if err := ap.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { ap.cmd.Wait(); close(ap.done) }()
	t.Cleanup(func() {
		ap.cmd.Process.Signal(syscall.SIGTERM)
		<-ap.done
	})
	waitForSocket(t, ownC, ap.done, ap.log)
	ap.waitForLog(t, "listening on "+ownC, 1)
	if r := helper(cfgC, "require"); r.code != 0 || r.stdout != agentKeyC+"\n" {
		t.Errorf("config C: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestConcurrentAgentStart: 20 helpers with --agent start and no agent
// running race to create the socket directory, the log and the agent; each
// prints the key, and one agent is left serving.
func TestConcurrentAgentStart(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	bin, _, cfg, socket, env := agentSetup(t)
	const helpers = 20
	results := make(chan procResult, helpers)
	for range helpers {
		go func() {
			cmd := exec.Command(bin, "-c", cfg, "credential", "--socket", socket, "--agent", "start", "gw")
			cmd.Env = env
			results <- runProc(t, cmd)
		}()
	}
	var failed []procResult
	for range helpers {
		if r := <-results; r.code != 0 || r.stdout != agentKeyA+"\n" {
			failed = append(failed, r)
		}
	}
	log := stopStartedAgent(t, socket+".log")
	if len(failed) > 0 {
		t.Errorf("%d of %d helpers failed, e.g. exit %d, stdout %q, stderr %q; log:\n%s", len(failed), helpers, failed[0].code, failed[0].stdout, failed[0].stderr, log)
	}
	if n := strings.Count(string(log), "listening on"); n != 1 {
		t.Errorf("%d agents listened, want 1:\n%s", n, log)
	}
}

// TestHelperStoppedAgent: with the agent stopped (SIGSTOP: the kernel still
// accepts connections for it), the helper gives up on it well before its
// 30 s bound here and works alone (auto) or fails in one line (require),
// instead of stalling every request of the Copilot CLI.
func TestHelperStoppedAgent(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	bin, _, cfg, socket, env := agentSetup(t)
	ap := startAgentProc(t, bin, env, socket, "-c", cfg)
	if err := ap.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Registered after startAgentProc's: runs first, so SIGTERM can land.
	t.Cleanup(func() { ap.cmd.Process.Signal(syscall.SIGCONT) })
	tests := []struct {
		mode    string
		wantErr string
	}{
		{mode: "auto"},
		{mode: "require", wantErr: "no answer (refused, or the agent stopped or is not responding)"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel() // each waits out the helper's timeout on the same stopped agent
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, "-c", cfg, "credential", "--socket", socket, "--agent", tt.mode, "gw")
			cmd.Env = env
			r := runProc(t, cmd)
			if ctx.Err() != nil {
				t.Fatalf("the helper was still waiting for the stopped agent after 30s")
			}
			if tt.wantErr != "" {
				helperFailed(t, tt.mode, r, tt.wantErr)
			} else if r.code != 0 || r.stdout != agentKeyA+"\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want the key, fetched alone", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestAgentOutOfFileDescriptors: an agent run with a low RLIMIT_NOFILE and
// flooded with connections gets EMFILE from accept; it backs off and keeps
// serving instead of exiting.
func TestAgentOutOfFileDescriptors(t *testing.T) {
	bin, _, cfg, socket, env := agentSetup(t)
	ap := &agentProc{log: &syncbuf.Buffer{}, done: make(chan struct{}), socket: socket}
	// ulimit -n sets the hard limit too, so the Go runtime cannot raise it.
	ap.cmd = exec.Command("/bin/sh", "-c", `ulimit -n 32 && exec "$0" -c "$1" agent --socket "$2"`, bin, cfg, socket)
	ap.cmd.Env, ap.cmd.Stdout, ap.cmd.Stderr = env, ap.log, ap.log
	if err := ap.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { ap.cmd.Wait(); close(ap.done) }()
	t.Cleanup(func() {
		ap.cmd.Process.Signal(syscall.SIGTERM)
		<-ap.done
	})
	waitForSocket(t, socket, ap.done, ap.log)

	// More idle connections than the agent has descriptors: it holds each
	// until its 5 s read timeout.
	var conns []net.Conn
	for range 64 {
		c, err := net.Dial("unix", socket)
		if err != nil {
			break // the backlog is full: the agent is out of descriptors
		}
		conns = append(conns, c)
	}
	ap.waitForLog(t, "too many open files", 1)
	for _, c := range conns {
		c.Close()
	}
	select {
	case <-ap.done:
		t.Fatalf("the agent exited:\n%s", ap.log)
	default:
	}
	cmd := exec.Command(bin, "-c", cfg, "credential", "--socket", socket, "--agent", "require", "gw")
	cmd.Env = env
	if r := runProc(t, cmd); r.code != 0 || r.stdout != agentKeyA+"\n" {
		t.Errorf("after EMFILE: exit %d, stdout %q, stderr %q; agent log:\n%s", r.code, r.stdout, r.stderr, ap.log)
	}
}
