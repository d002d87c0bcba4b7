package cli

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// silentServer accepts connections and never answers: an identity
// endpoint that hangs. accepted is closed at the first connection.
type silentServer struct {
	ln       net.Listener
	accepted chan struct{}
	once     sync.Once
	mu       sync.Mutex
	conns    []net.Conn
}

func startSilentServer(t *testing.T) *silentServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &silentServer{ln: ln, accepted: make(chan struct{})}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.once.Do(func() { close(s.accepted) })
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, c := range s.conns {
			c.Close()
		}
	})
	return s
}

// TestCommandsStopOnSignal: the real binary, blocked on an identity
// endpoint that never answers, stops at the first SIGTERM or SIGINT with
// one line on stderr that says why. hangBound is a "does not hang"
// deadline, not a speed assertion.
func TestCommandsStopOnSignal(t *testing.T) {
	bin := byokcredBinary(t)
	tests := []struct {
		name   string
		args   []string
		env    func(addr, dir string) []string
		signal syscall.Signal
		cause  string
	}{
		{
			name: "token, AWS container credentials, SIGTERM",
			args: []string{"token", "bedrock"},
			env: func(addr, dir string) []string {
				return []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://" + addr + "/creds"}
			},
			signal: syscall.SIGTERM, cause: "terminated signal received",
		},
		{
			name: "doctor, AWS container credentials, SIGINT",
			args: []string{"doctor", "bedrock"},
			env: func(addr, dir string) []string {
				return []string{"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://" + addr + "/creds"}
			},
			signal: syscall.SIGINT, cause: "interrupt signal received",
		},
		{
			name:   "token, Google metadata server, SIGTERM",
			args:   []string{"token", "vertex"},
			env:    func(addr, dir string) []string { return []string{"GCE_METADATA_HOST=" + addr} },
			signal: syscall.SIGTERM, cause: "terminated signal received",
		},
		{
			name:   "doctor, Google metadata server, SIGTERM",
			args:   []string{"doctor", "vertex"},
			env:    func(addr, dir string) []string { return []string{"GCE_METADATA_HOST=" + addr} },
			signal: syscall.SIGTERM, cause: "terminated signal received",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSilentServer(t)
			dir := t.TempDir()
			cfg := writeFile(t, "byokcred.yaml", `providers:
  bedrock: {type: openai, base_url: https://llm.example/v1, model: m, auth: {type: aws, region: us-east-1}}
  vertex: {type: openai, base_url: https://llm.example/v1, model: m, auth: {type: gcp}}
`)
			empty := filepath.Join(dir, "empty")
			if err := os.WriteFile(empty, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, append([]string{"-c", cfg}, tc.args...)...)
			// Nothing of this machine's: only the silent endpoint answers.
			cmd.Env = append([]string{"HOME=" + dir, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + empty, "AWS_SHARED_CREDENTIALS_FILE=" + empty}, tc.env(srv.ln.Addr().String(), dir)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			t.Cleanup(func() { cmd.Process.Kill(); <-done })
			select {
			case <-srv.accepted:
			case <-done:
				t.Fatalf("exited before asking the endpoint: %s%s", stdout.String(), stderr.String())
			case <-time.After(hangBound):
				t.Fatalf("never asked the endpoint: %s%s", stdout.String(), stderr.String())
			}
			if err := cmd.Process.Signal(tc.signal); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(hangBound):
				t.Fatalf("still running %s after %v", hangBound, tc.signal)
			}
			type outcome struct {
				Code        int
				StderrLines int
				Says        bool
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			got := outcome{
				Code:        cmd.ProcessState.ExitCode(),
				StderrLines: len(lines),
				Says:        strings.HasPrefix(lines[0], "byokcred: stopped: "+tc.cause),
			}
			if diff := cmp.Diff(outcome{Code: ExitFailure, StderrLines: 1, Says: true}, got); diff != "" {
				t.Errorf("(-want +got):\n%s\nstderr:\n%s", diff, stderr.String())
			}
		})
	}
}
