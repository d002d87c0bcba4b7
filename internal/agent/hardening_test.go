//go:build linux

package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
)

// otherUID owns the files "another user" plants; the tests that chown run
// as root.
const otherUID = 65534

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create files owned by another uid")
	}
}

// listing names what dir holds, for "nothing was created" checks.
func listing(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestSocketDirectoryRefused: a socket directory another user could write
// into, or one that is not a plain directory of ours, is refused by the
// agent (nothing is created in it) and, with a socket in it, by the client
// (nothing is dialed).
func TestSocketDirectoryRefused(t *testing.T) {
	tests := []struct {
		name    string
		root    bool
		setup   func(t *testing.T, dir string) // dir does not exist yet
		wantErr string
	}{
		{name: "owned by another uid, mode 0700", root: true, setup: func(t *testing.T, dir string) {
			mustMkdir(t, dir, 0o700)
			if err := os.Chown(dir, otherUID, otherUID); err != nil {
				t.Fatal(err)
			}
		}, wantErr: fmt.Sprintf("is owned by uid %d, not by this user (uid %d)", otherUID, os.Geteuid())},
		{name: "ours, mode 0755", setup: func(t *testing.T, dir string) { mustMkdir(t, dir, 0o755) },
			wantErr: "has mode 0755: group and others must have no access (0700); another user could replace the agent's socket: run chmod 700 on it"},
		{name: "ours, mode 1777", setup: func(t *testing.T, dir string) { mustMkdir(t, dir, 0o777|fs.ModeSticky) },
			wantErr: "has mode 0777"},
		{name: "a symbolic link to a private directory of ours", setup: func(t *testing.T, dir string) {
			if err := os.Symlink(privateDir(t), dir); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "is a symbolic link"},
		{name: "a regular file", setup: func(t *testing.T, dir string) {
			if err := os.WriteFile(dir, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				needRoot(t)
			}
			dir := filepath.Join(privateDir(t), "run")
			tt.setup(t, dir)
			socket := filepath.Join(dir, "agent.sock")

			ln, err := Listen(socket)
			if err == nil {
				ln.Close()
			}
			if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "--socket") {
				t.Errorf("Listen: %v; want ErrUntrusted saying %q and what to do", err, tt.wantErr)
			}
			if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
				if got := listing(t, dir); len(got) != 0 {
					t.Errorf("Listen created %v in the refused directory", got)
				}
			}

			// A socket in it, as the other user would leave one: the client
			// refuses it for the directory it is in.
			if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
				staleSocket(t, socket)
			}
			_, err = Ask(context.Background(), socket, Request{Op: OpToken})
			if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Ask: %v; want ErrUntrusted saying %q", err, tt.wantErr)
			}
		})
	}
}

func mustMkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

// TestSocketNotOurs: in a directory of ours, a socket owned by another uid
// is neither trusted by the client nor removed by the agent.
func TestSocketNotOurs(t *testing.T) {
	needRoot(t)
	socket := filepath.Join(privateDir(t), "agent.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Lchown(socket, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- struct{}{}
			c.Close()
		}
	}()
	_, err = Ask(context.Background(), socket, Request{Op: OpToken})
	if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), "is not owned by this user") {
		t.Errorf("Ask: %v; want ErrUntrusted", err)
	}
	select {
	case <-accepted:
		t.Error("Ask dialed a socket owned by another uid")
	default:
	}
}

// TestListenLeavesNonSockets: whatever is at the socket path and is not a
// stale socket of ours stays where it is, and the error says why.
func TestListenLeavesNonSockets(t *testing.T) {
	const content = "providers: {}\n"
	tests := []struct {
		name    string
		root    bool
		setup   func(t *testing.T, path string)
		check   func(t *testing.T, path string)
		wantErr string
	}{
		{name: "a regular file (the config)", setup: func(t *testing.T, path string) {
			os.WriteFile(path, []byte(content), 0o600)
		}, check: func(t *testing.T, path string) {
			if b, err := os.ReadFile(path); err != nil || string(b) != content {
				t.Errorf("the file is gone or changed: %q, %v", b, err)
			}
		}, wantErr: "is a regular file, not a socket: it is left alone; choose another --socket or $" + SocketEnv},
		{name: "an empty directory", setup: func(t *testing.T, path string) {
			os.Mkdir(path, 0o700)
		}, check: func(t *testing.T, path string) {
			if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
				t.Errorf("the directory is gone: %v", err)
			}
		}, wantErr: "is a directory, not a socket"},
		{name: "a symbolic link to a file", setup: func(t *testing.T, path string) {
			victim := filepath.Join(filepath.Dir(path), "victim")
			os.WriteFile(victim, []byte(content), 0o600)
			os.Symlink(victim, path)
		}, check: func(t *testing.T, path string) {
			if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("the link is gone: %v", err)
			}
		}, wantErr: "is a symbolic link, not a socket"},
		{name: "a stale socket of another uid", root: true, setup: func(t *testing.T, path string) {
			staleSocket(t, path)
			os.Lchown(path, otherUID, otherUID)
		}, check: func(t *testing.T, path string) {
			if fi, err := os.Lstat(path); err != nil || fi.Mode().Type() != fs.ModeSocket {
				t.Errorf("the socket is gone: %v", err)
			}
		}, wantErr: "is a socket not owned by this user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.root {
				needRoot(t)
			}
			path := filepath.Join(privateDir(t), "important.txt")
			tt.setup(t, path)
			ln, err := Listen(path)
			if err == nil {
				ln.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Listen: %v; want an error saying %q", err, tt.wantErr)
			}
			tt.check(t, path)
		})
	}
}

// staleSocket leaves what a killed agent leaves: a socket nobody listens on.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
}

// TestNoFollow: a symbolic link planted at the lock path never makes the
// agent create, lock or write another file; a FIFO there does not block it.
func TestNoFollow(t *testing.T) {
	tests := []struct {
		name    string
		victim  bool // the link's target exists
		fifo    bool
		wantErr string
	}{
		{name: "link to a missing file", wantErr: "is a symbolic link"},
		{name: "link to an existing file", victim: true, wantErr: "is a symbolic link"},
		{name: "a FIFO", fifo: true, wantErr: "is not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := privateDir(t)
			socket := filepath.Join(dir, "agent.sock")
			victim := filepath.Join(t.TempDir(), "victim")
			if tt.victim {
				os.WriteFile(victim, []byte("keep"), 0o644)
			}
			if tt.fifo {
				if err := syscall.Mkfifo(socket+".lock", 0o600); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Symlink(victim, socket+".lock"); err != nil {
				t.Fatal(err)
			}
			ln, err := Listen(socket)
			if err == nil {
				ln.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Listen: %v; want an error saying %q", err, tt.wantErr)
			}
			fi, err := os.Stat(victim)
			switch {
			case !tt.victim && err == nil:
				t.Errorf("the link's target was created")
			case tt.victim && (err != nil || fi.Mode().Perm() != 0o644 || fi.Size() != 4):
				t.Errorf("the link's target changed: %v %v", fi, err)
			}
			if _, err := os.Lstat(socket); err == nil {
				t.Errorf("a socket was created without the lock")
			}
		})
	}
}

// emfileListener fails its first Accepts with EMFILE, as accept4 does when
// the process is out of file descriptors, then accepts for real.
type emfileListener struct {
	net.Listener
	failures atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestServeSurvivesEMFILE: the agent backs off and keeps serving when it
// runs out of file descriptors, instead of exiting.
func TestServeSurvivesEMFILE(t *testing.T) {
	socket := filepath.Join(privateDir(t), "agent.sock")
	ln, err := Listen(socket)
	if err != nil {
		t.Fatal(err)
	}
	el := &emfileListener{Listener: ln}
	el.failures.Store(4)
	srv := &Server{Config: "/etc/byokcred.yaml", Token: fixedToken}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, el) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	resp, err := Ask(context.Background(), socket, Request{Op: OpToken})
	if err != nil {
		t.Fatalf("Ask after 4 EMFILEs: %v", err)
	}
	if resp.Token != canary {
		t.Errorf("token %q", resp.Token)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned: %v", err)
	default:
	}
}

// fakeAgent answers every connection on a socket of ours with answer, after
// reading the request line; answer nil never answers (a stopped agent).
func fakeAgent(t *testing.T, answer func() []byte) string {
	t.Helper()
	socket := filepath.Join(privateDir(t), "agent.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				bufio.NewReader(c).ReadString('\n')
				if answer == nil {
					<-stop
					return
				}
				c.Write(answer())
			}()
		}
	}()
	return socket
}

// TestAskRefusesAnswers: the client uses no answer it cannot print safely
// and reads no more than an answer can hold.
func TestAskRefusesAnswers(t *testing.T) {
	tests := []struct {
		name    string
		answer  func() []byte
		wantErr string
		wantMsg string // for *Error answers: the message as returned
	}{
		{name: "an escape sequence and a newline", answer: func() []byte {
			return []byte(`{"v":1,"kind":"bearer","token":"sk-\u001b[31mred\nX-Injected: 1"}` + "\n")
		}, wantErr: "the credential in the answer cannot be sent: byte 3 of 25 is a control character (0x1b), which an HTTP header cannot carry"},
		{name: "a space in a bearer token", answer: func() []byte {
			return []byte(`{"v":1,"kind":"bearer","token":"a b"}` + "\n")
		}, wantErr: "cannot be sent: byte 1 of 3 is a space"},
		{name: "a 300 KiB token", answer: func() []byte {
			return []byte(`{"v":1,"kind":"bearer","token":"` + strings.Repeat("A", 300<<10) + `"}` + "\n")
		}, wantErr: fmt.Sprintf("the answer is larger than %d bytes", maxResponse)},
		{name: "a token just over the cap", answer: func() []byte {
			return []byte(`{"v":1,"kind":"bearer","token":"` + strings.Repeat("A", maxToken+1) + `"}` + "\n")
		}, wantErr: fmt.Sprintf("is %d bytes, more than %d", maxToken+1, maxToken)},
		{name: "an error message with an escape sequence", answer: func() []byte {
			return []byte(`{"v":1,"code":"token","error":"boom\u001b]0;pwned\u0007\nsecond line"}` + "\n")
		}, wantMsg: "boom?]0;pwned??second line"},
		{name: "an endless line", answer: func() []byte {
			return []byte(`{"v":1,"error":"` + strings.Repeat("x", 1<<20))
		}, wantErr: "the answer is larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			socket := fakeAgent(t, tt.answer)
			resp, err := Ask(context.Background(), socket, Request{Op: OpToken})
			if resp != nil {
				t.Errorf("Ask returned an answer: kind %q, %d bytes", resp.Kind, len(resp.Token))
			}
			if tt.wantMsg != "" {
				var ae *Error
				if !errors.As(err, &ae) {
					t.Fatalf("err = %v, want *Error", err)
				}
				if diff := cmp.Diff(tt.wantMsg, ae.Msg); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Ask: %v; want %q", err, tt.wantErr)
			}
		})
	}
}

// TestAskStoppedAgent: an agent that accepts (the kernel does, for a
// stopped process) but never answers is given up on well before the
// caller's deadline, so a helper can work alone instead of stalling.
func TestAskStoppedAgent(t *testing.T) {
	socket := fakeAgent(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Ask(ctx, socket, Request{Op: OpToken})
	if err == nil || errors.Is(err, ErrNoAgent) {
		t.Fatalf("Ask: %v; want a no-answer error (not ErrNoAgent: it is not safe to start another)", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Ask waited for the caller's deadline: %v", err)
	}
}

// TestServerCapsAnswers: the agent never sends what the client must
// refuse, whatever its token source returns.
func TestServerCapsAnswers(t *testing.T) {
	const secretTail = "CANARY-tail-9a8b"
	tests := []struct {
		name    string
		token   string
		kind    credential.Kind
		wantErr *Error
	}{
		{name: "over 64 KiB", token: strings.Repeat("A", maxToken) + secretTail, kind: credential.KindBearer,
			wantErr: &Error{Code: CodeToken, Msg: fmt.Sprintf("provider foundry returned a credential of %d bytes; an agent answer carries at most %d", maxToken+len(secretTail), maxToken)}},
		{name: "a newline", token: "sk-" + secretTail + "\n", kind: credential.KindAPIKey,
			wantErr: &Error{Code: CodeToken, Msg: "provider foundry returned a credential that cannot be sent: byte 19 of 20 is a line feed (0x0a), which an HTTP header cannot carry (trailing whitespace or an extra newline: remove it where the credential is written)"}},
		{name: "64 KiB of quotes is answered", token: strings.Repeat(`"`, maxToken), kind: credential.KindAPIKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			socket, _ := serve(t, func(context.Context, string) (*credential.Token, string, error) {
				return &credential.Token{Value: credential.NewSecret(tt.token), Kind: tt.kind}, "foundry", nil
			})
			resp, err := Ask(context.Background(), socket, Request{Op: OpToken})
			if tt.wantErr == nil {
				if err != nil || resp.Token != tt.token {
					t.Fatalf("Ask: %v", err)
				}
				return
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if diff := cmp.Diff(tt.wantErr, ae); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigSocket(t *testing.T) {
	a := ConfigSocket("/run/user/7/byokcred/agent.sock", "/home/u/a.yaml")
	b := ConfigSocket("/run/user/7/byokcred/agent.sock", "/home/u/b.yaml")
	if a == b || filepath.Dir(a) != "/run/user/7/byokcred" || !strings.HasPrefix(filepath.Base(a), "agent-") || !strings.HasSuffix(a, ".sock") {
		t.Errorf("ConfigSocket: %s, %s", a, b)
	}
	if again := ConfigSocket("/run/user/7/byokcred/agent.sock", "/home/u/a.yaml"); again != a {
		t.Errorf("not stable: %s, %s", a, again)
	}
}
