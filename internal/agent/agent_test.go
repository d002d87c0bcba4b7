package agent

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
)

const canary = "CANARY-agent-unit-5f1e2d3c4b5a"

// serve runs a Server over a fresh socket until the test ends.
func serve(t *testing.T, token func(context.Context, string) (*credential.Token, string, error)) (socket string, srv *Server) {
	socket, srv, _ = serveLogged(t, token)
	return socket, srv
}

// serveLogged is serve with the server's log, at debug, in a buffer.
func serveLogged(t *testing.T, token func(context.Context, string) (*credential.Token, string, error)) (socket string, srv *Server, log *syncbuf.Buffer) {
	t.Helper()
	socket = filepath.Join(t.TempDir(), "run", "agent.sock")
	ln, err := Listen(socket)
	if err != nil {
		t.Fatal(err)
	}
	log = &syncbuf.Buffer{}
	srv = &Server{Config: "/etc/byokcred.yaml", Token: token, Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		ln.Close()
	})
	return socket, srv, log
}

func fixedToken(ctx context.Context, name string) (*credential.Token, string, error) {
	switch name {
	case "", "foundry":
		return &credential.Token{Value: credential.NewSecret(canary), Kind: credential.KindBearer, Expiry: time.UnixMilli(1_900_000_000_000)}, "foundry", nil
	case "broken":
		return nil, "", errors.New("provider broken: identity endpoint said 500")
	}
	return nil, "", &Error{Code: CodeProvider, Msg: `unknown provider "` + name + `"`}
}

func TestAsk(t *testing.T) {
	socket, srv, log := serveLogged(t, fixedToken)
	tests := []struct {
		name    string
		req     Request
		want    *Response
		wantErr *Error
	}{
		{name: "default provider", req: Request{Op: OpToken, Config: "/etc/byokcred.yaml"},
			want: &Response{V: Version, Provider: "foundry", Kind: "bearer", Token: canary, Expiry: 1_900_000_000_000}},
		{name: "named provider, no config named", req: Request{Op: OpToken, Provider: "foundry"},
			want: &Response{V: Version, Provider: "foundry", Kind: "bearer", Token: canary, Expiry: 1_900_000_000_000}},
		{name: "another config", req: Request{Op: OpToken, Config: "/home/u/other.yaml"},
			wantErr: &Error{Code: CodeConfig, Msg: "the agent serves /etc/byokcred.yaml, not /home/u/other.yaml"}},
		{name: "unknown provider keeps its code", req: Request{Op: OpToken, Provider: "nope"},
			wantErr: &Error{Code: CodeProvider, Msg: `unknown provider "nope"`}},
		{name: "source failure", req: Request{Op: OpToken, Provider: "broken"},
			wantErr: &Error{Code: CodeToken, Msg: "provider broken: identity endpoint said 500"}},
		{name: "unknown op", req: Request{Op: "sign"},
			wantErr: &Error{Code: CodeBadInput, Msg: `unknown op "sign"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Ask(context.Background(), socket, tt.req)
			if tt.wantErr != nil {
				var ae *Error
				if !errors.As(err, &ae) {
					t.Fatalf("err = %v, want *Error", err)
				}
				if diff := cmp.Diff(tt.wantErr, ae); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got := srv.Served(); got != 2 {
		t.Errorf("Served() = %d, want 2", got)
	}
	// Debug is the most verbose level: every line any level writes.
	if out := log.String(); strings.Contains(out, canary) || !strings.Contains(out, "agent: served") {
		t.Errorf("the debug log holds the credential, or lacks the served lines:\n%s", out)
	}
}

// TestWireFormat pins the protocol: other versions are refused by name,
// garbage is answered, and both are single JSON lines.
func TestWireFormat(t *testing.T) {
	socket, _ := serve(t, fixedToken)
	tests := []struct {
		name, send string
		want       Response
	}{
		{name: "version 2", send: `{"v":2,"op":"token"}` + "\n",
			want: Response{V: Version, Code: CodeVersion, Error: "protocol version 2 not supported (agent speaks 1); restart the agent with this byokcred"}},
		{name: "no version", send: `{"op":"token"}` + "\n",
			want: Response{V: Version, Code: CodeVersion, Error: "protocol version 0 not supported (agent speaks 1); restart the agent with this byokcred"}},
		{name: "not JSON", send: "hello\n",
			want: Response{V: Version, Code: CodeBadInput, Error: "unreadable request"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("unix", socket)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte(tt.send))
			// The whole answer, until the agent closes: one line, led by
			// the space that tells a client the agent is alive.
			all, _ := io.ReadAll(c)
			line := string(all)
			if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || !strings.HasPrefix(line, " {") {
				t.Errorf("answer is not one line led by a space: %q", line)
			}
			var got Response
			if err := json.Unmarshal(all, &got); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestListen(t *testing.T) {
	t.Run("modes: socket 0600 in a 0700 directory", func(t *testing.T) {
		socket, _ := serve(t, fixedToken)
		for path, want := range map[string]os.FileMode{socket: 0o600, filepath.Dir(socket): 0o700} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s: mode %v, want %v", path, got, want)
			}
		}
	})
	t.Run("a live agent's socket is not taken over", func(t *testing.T) {
		socket, _ := serve(t, fixedToken)
		_, err := Listen(socket)
		if err == nil || !strings.Contains(err.Error(), "another agent is running") {
			t.Fatalf("second Listen: %v", err)
		}
		if _, err := Ask(context.Background(), socket, Request{Op: OpToken}); err != nil {
			t.Errorf("the first agent stopped answering: %v", err)
		}
	})
	t.Run("a stale socket is replaced", func(t *testing.T) {
		socket := filepath.Join(privateDir(t), "agent.sock")
		// What a killed agent leaves: a socket file nobody listens on.
		ln, err := net.Listen("unix", socket)
		if err != nil {
			t.Fatal(err)
		}
		ln.(*net.UnixListener).SetUnlinkOnClose(false)
		ln.Close()
		if _, err := Ask(context.Background(), socket, Request{Op: OpToken}); !errors.Is(err, ErrNoAgent) {
			t.Fatalf("Ask on a stale socket: %v, want ErrNoAgent", err)
		}
		l2, err := Listen(socket)
		if err != nil {
			t.Fatalf("Listen over a stale socket: %v", err)
		}
		l2.Close()
	})
}

func TestDefaultSocket(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "override", env: map[string]string{SocketEnv: "/x/a.sock", "XDG_RUNTIME_DIR": "/run/user/7"}, want: "/x/a.sock"},
		{name: "XDG_RUNTIME_DIR", env: map[string]string{"XDG_RUNTIME_DIR": "/run/user/7"}, want: "/run/user/7/byokcred/agent.sock"},
		{name: "fallback: per uid", env: map[string]string{}, want: filepath.Join(os.TempDir(), "byokcred-"+strconv.Itoa(os.Getuid()), "agent.sock")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DefaultSocket(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// privateDir is a fresh directory of ours, mode 0700.
func privateDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o700); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return d
}
