//go:build linux

package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
)

// roleEnv makes the test binary, run again as another uid, play a role in
// TestPeerOfAnotherUIDRefused or TestAskRefusesAnotherUIDsAgent instead of
// running tests: "dial SOCKET" (a client) or "impostor SOCKET" (a server that
// answers everyone with impostorToken).
const roleEnv = "BYOKCRED_AGENT_TEST_ROLE"

const impostorToken = "CANARY-impostor-token-31c7"

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(playRole(role))
	}
	os.Exit(m.Run())
}

func playRole(role string) int {
	what, socket, _ := strings.Cut(role, " ")
	switch what {
	case "dial":
		c, err := net.Dial("unix", socket)
		if err != nil {
			fmt.Println("dial:", err)
			return 1
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, `{"v":%d,"op":"token"}`+"\n", Version)
		// Refused: closed unanswered, with an error (a reset) or without.
		b, _ := io.ReadAll(c)
		fmt.Printf("answer %q\n", b)
		return 0
	case "replace":
		// What another user would do to a live agent's socket: delete it
		// and listen in its place.
		if err := os.Remove(socket); err != nil {
			fmt.Println("remove:", errors.Is(err, fs.ErrPermission))
			return 1
		}
		if _, err := net.Listen("unix", socket); err != nil {
			fmt.Println("listen:", err)
			return 1
		}
		fmt.Println("replaced")
		return 0
	case "impostor":
		ln, err := net.Listen("unix", socket)
		if err != nil {
			fmt.Println("listen:", err)
			return 1
		}
		fmt.Println("listening")
		for {
			c, err := ln.Accept()
			if err != nil {
				return 1
			}
			go func() {
				defer c.Close()
				c.Write([]byte(" "))
				line, _ := bufio.NewReader(c).ReadString('\n')
				fmt.Printf("request %q\n", line)
				fmt.Fprintf(c, `{"v":%d,"kind":"bearer","token":%q}`+"\n", Version, impostorToken)
			}()
		}
	}
	fmt.Println("unknown role", role)
	return 2
}

// asOtherUID runs the test binary as otherUID in role; the binary is copied
// where that uid can run it.
func asOtherUID(t *testing.T, role string, stdout io.Writer) *exec.Cmd {
	t.Helper()
	needRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "byokcred-agent-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "agent.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, bin} {
		os.Chmod(p, 0o755)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{roleEnv + "=" + role}
	cmd.Stdout, cmd.Stderr = stdout, stdout
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: otherUID, Gid: otherUID}}
	return cmd
}

// openToOthers makes the directories from t.TempDir's parent down to dir
// traversable by others; dir must be in tmp, a t.TempDir. Nothing above the
// test's own directories is touched.
func openToOthers(t *testing.T, tmp, dir string) {
	t.Helper()
	rel, err := filepath.Rel(tmp, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("%s is not in %s", dir, tmp)
	}
	paths := []string{filepath.Dir(tmp), tmp}
	for p := dir; p != tmp; p = filepath.Dir(p) {
		paths = append(paths, p)
	}
	for _, p := range paths {
		if p == filepath.Clean(os.TempDir()) || p == "/" {
			t.Fatalf("refusing to chmod %s", p)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPeerOfAnotherUIDRefused: with the file modes opened so that only
// SO_PEERCRED stands in the way, a client of another uid gets nothing.
func TestPeerOfAnotherUIDRefused(t *testing.T) {
	needRoot(t)
	socket, srv, log := serveLogged(t, fixedToken)
	// serveLogged's socket is in t.TempDir()/run.
	openToOthers(t, filepath.Dir(filepath.Dir(socket)), filepath.Dir(socket))
	os.Chmod(socket, 0o666)
	out := &syncbuf.Buffer{}
	if err := asOtherUID(t, "dial "+socket, out).Run(); err != nil {
		t.Fatalf("client as uid %d: %v\n%s", otherUID, err, out)
	}
	if got, want := out.String(), `answer ""`+"\n"; got != want {
		t.Errorf("client of another uid got %q, want %q", got, want)
	}
	if srv.Served() != 0 || !strings.Contains(log.String(), fmt.Sprintf("refused a peer of another uid\" peer_uid=%d", otherUID)) {
		t.Errorf("served %d; log:\n%s", srv.Served(), log)
	}
}

// TestAskRefusesAnotherUIDsAgent: a server of another uid listening on a
// socket whose file and directory look like ours (the owner changed after
// it listened) is refused by SO_PEERCRED before anything is written.
func TestAskRefusesAnotherUIDsAgent(t *testing.T) {
	needRoot(t)
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "run")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	openToOthers(t, tmp, tmp)
	if err := os.Chown(dir, otherUID, otherUID); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o700)
	socket := filepath.Join(dir, "agent.sock")
	out := &syncbuf.Buffer{}
	imp := asOtherUID(t, "impostor "+socket, out)
	if err := imp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { imp.Process.Kill(); imp.Wait() })
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(out.String(), "listening"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("impostor not listening after 15s:\n%s", out)
		}
	}
	for _, p := range []string{dir, socket} {
		if err := os.Lchown(p, os.Geteuid(), os.Getegid()); err != nil {
			t.Fatal(err)
		}
	}
	const configCanary = "/CANARY-config-path-4e2a.yaml"
	resp, err := Ask(context.Background(), socket, Request{Op: OpToken, Config: configCanary})
	if resp != nil {
		t.Errorf("Ask used the impostor's answer (%d bytes)", len(resp.Token))
	}
	want := fmt.Sprintf("the process listening on %s runs as uid %d, not as this user (uid %d)", socket, otherUID, os.Geteuid())
	if !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), want) {
		t.Errorf("Ask: %v; want ErrUntrusted saying %q", err, want)
	}
	// The impostor logs what it reads: the request must not have reached it.
	imp.Process.Kill()
	imp.Wait()
	if strings.Contains(out.String(), configCanary) {
		t.Errorf("the request reached the impostor:\n%s", out)
	}
}

// TestLiveSocketNotReplaceable: another user cannot delete a live agent's
// socket and listen in its place, even with every directory above the
// agent's open to them: the agent's directory is 0700 and ours (a directory
// they made first is refused: TestSocketDirectoryRefused).
func TestLiveSocketNotReplaceable(t *testing.T) {
	needRoot(t)
	socket, _ := serve(t, fixedToken)
	openToOthers(t, filepath.Dir(filepath.Dir(socket)), filepath.Dir(filepath.Dir(socket)))
	out := &syncbuf.Buffer{}
	err := asOtherUID(t, "replace "+socket, out).Run()
	if got, want := out.String(), "remove: true\n"; err == nil || got != want {
		t.Errorf("uid %d replacing the socket: %v, %q; want a permission error", otherUID, err, got)
	}
	if _, err := Ask(context.Background(), socket, Request{Op: OpToken}); err != nil {
		t.Errorf("the agent no longer answers: %v", err)
	}
}
