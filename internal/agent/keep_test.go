package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
)

// exchange sends each line on one connection and returns every answer line
// until the agent closes it (the leading liveness space trimmed).
func exchange(t *testing.T, socket string, lines ...string) []Response {
	t.Helper()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	var got []Response
	for i, l := range lines {
		if _, err := c.Write([]byte(l + "\n")); err != nil {
			if i == 0 {
				t.Fatal(err)
			}
			break // closed by the agent after the previous answer
		}
		ans, err := br.ReadString('\n')
		if (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) && ans == "" {
			// Closed after the previous answer; a reset when the request
			// just written was still unread there.
			break
		} else if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		var r Response
		if err := json.Unmarshal([]byte(strings.TrimLeft(ans, " ")), &r); err != nil {
			t.Fatalf("answer %d %q: %v", i, ans, err)
		}
		got = append(got, r)
	}
	return got
}

// TestKeptConnection pins Request.Keep: a client that sets it is answered
// on one connection as often as it asks; one that does not (every helper
// before Keep existed) gets one answer and the connection is closed.
func TestKeptConnection(t *testing.T) {
	socket, srv := serve(t, fixedToken)
	tok := Response{V: Version, Provider: "foundry", Kind: "bearer", Token: canary, Expiry: 1_900_000_000_000}
	kept := tok
	kept.Keep = true
	tests := []struct {
		name  string
		lines []string
		want  []Response
	}{
		{name: "keep: three answers on one connection",
			lines: []string{`{"v":1,"op":"token","keep":true}`, `{"v":1,"op":"token","provider":"foundry","keep":true}`, `{"v":1,"op":"token","keep":true}`},
			want:  []Response{kept, kept, kept}},
		{name: "no keep: one answer, then closed",
			lines: []string{`{"v":1,"op":"token"}`, `{"v":1,"op":"token"}`},
			want:  []Response{tok}},
		{name: "keep, then a last request without it",
			lines: []string{`{"v":1,"op":"token","keep":true}`, `{"v":1,"op":"token"}`, `{"v":1,"op":"token","keep":true}`},
			want:  []Response{kept, tok}},
		{name: "an error answer keeps the connection",
			lines: []string{`{"v":1,"op":"token","provider":"nope","keep":true}`, `{"v":1,"op":"token","keep":true}`},
			want:  []Response{{V: Version, Code: CodeProvider, Error: `unknown provider "nope"`, Keep: true}, kept}},
		{name: "another version is not kept",
			lines: []string{`{"v":2,"op":"token","keep":true}`, `{"v":1,"op":"token","keep":true}`},
			want:  []Response{{V: Version, Code: CodeVersion, Error: "protocol version 2 not supported (agent speaks 1); restart the agent with this byokcred"}}},
		{name: "garbage after a kept answer closes",
			lines: []string{`{"v":1,"op":"token","keep":true}`, `hello`, `{"v":1,"op":"token","keep":true}`},
			want:  []Response{kept, {V: Version, Code: CodeBadInput, Error: "unreadable request"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, exchange(t, socket, tt.lines...)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got, want := srv.Served(), int64(3+1+2+1+1); got != want {
		t.Errorf("Served() = %d, want %d", got, want)
	}
}

// TestStopClosesKeptConnections: an agent told to stop does not wait for
// its idle kept connections (Serve returns, the client sees the close).
func TestStopClosesKeptConnections(t *testing.T) {
	socket := t.TempDir() + "/run/agent.sock"
	ln, err := Listen(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{Token: fixedToken}).Serve(ctx, ln) }()
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	c.Write([]byte(`{"v":1,"op":"token","keep":true}` + "\n"))
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if rest, err := br.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Errorf("after stop: read %q, %v; want EOF", rest, err)
	}
}

func fixedDescribe(ctx context.Context, name string) (*ProviderInfo, credential.Kind, string, error) {
	switch name {
	case "", "foundry":
		return &ProviderInfo{Type: "openai", BaseURL: "https://foundry.example/openai/v1", Model: "gpt-5", Headers: map[string]string{"X-Team": "blue"},
			WithheldHeaders: []string{"Ocp-Apim-Subscription-Key"}, CredentialHeader: "Authorization", Refresh: "per_request"}, credential.KindBearer, "foundry", nil
	case "broken":
		return nil, 0, "", errors.New("provider broken: identity endpoint said 500")
	}
	return nil, 0, "", &Error{Code: CodeProvider, Msg: `unknown provider "` + name + `"`}
}

// TestProviderOp pins OpProvider's answers; an agent without Describe
// answers it as any unknown op, as agents before it did.
func TestProviderOp(t *testing.T) {
	socket, srv := serve(t, fixedToken)
	srv.Describe = fixedDescribe
	bare, _ := serve(t, fixedToken)
	info, _, _, _ := fixedDescribe(context.Background(), "")
	tests := []struct {
		name, socket, send string
		want               Response
	}{
		{name: "default provider", socket: socket, send: `{"v":1,"op":"provider","config":"/etc/byokcred.yaml"}`,
			want: Response{V: Version, Provider: "foundry", Kind: "bearer", ProviderConfig: info}},
		{name: "named provider", socket: socket, send: `{"v":1,"op":"provider","provider":"foundry"}`,
			want: Response{V: Version, Provider: "foundry", Kind: "bearer", ProviderConfig: info}},
		{name: "another config", socket: socket, send: `{"v":1,"op":"provider","config":"/home/u/other.yaml"}`,
			want: Response{V: Version, Code: CodeConfig, Error: "the agent serves /etc/byokcred.yaml, not /home/u/other.yaml"}},
		{name: "unknown provider keeps its code", socket: socket, send: `{"v":1,"op":"provider","provider":"nope"}`,
			want: Response{V: Version, Code: CodeProvider, Error: `unknown provider "nope"`}},
		{name: "failing source", socket: socket, send: `{"v":1,"op":"provider","provider":"broken"}`,
			want: Response{V: Version, Code: CodeToken, Error: "provider broken: identity endpoint said 500"}},
		{name: "agent without Describe", socket: bare, send: `{"v":1,"op":"provider"}`,
			want: Response{V: Version, Code: CodeBadInput, Error: `unknown op "provider"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exchange(t, tt.socket, tt.send)
			if diff := cmp.Diff([]Response{tt.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if got := srv.Served(); got != 0 {
		t.Errorf("Served() = %d after descriptions only, want 0 credentials handed out", got)
	}
}

// TestKeptConnectionAcksEachRequest: on a kept connection the agent writes
// a space as soon as it has read each request, before the fetch, so a client
// can apply its first-byte limit to every request, not only a new
// connection's first (a stopped agent is then noticed in seconds, not at
// the call timeout).
func TestKeptConnectionAcksEachRequest(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	socket, _ := serve(t, func(ctx context.Context, name string) (*credential.Token, string, error) {
		if name == "slow" {
			entered <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, "", ctx.Err()
			}
		}
		return fixedToken(ctx, "")
	})
	c, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	readAnswer := func(name string) Response {
		t.Helper()
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var r Response
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s %q: %v", name, line, err)
		}
		return r
	}
	if b, err := br.ReadByte(); err != nil || b != ' ' {
		t.Fatalf("accept: read %q, %v; want a space", b, err)
	}
	c.Write([]byte(`{"v":1,"op":"token","keep":true}` + "\n"))
	first := readAnswer("first answer")
	c.Write([]byte(`{"v":1,"op":"token","provider":"slow","keep":true}` + "\n"))
	// The fetch is blocked until released: the space must come before it ends.
	if b, err := br.ReadByte(); err != nil || b != ' ' {
		t.Fatalf("kept request: read %q, %v while the fetch is blocked; want a space", b, err)
	}
	<-entered
	if br.Buffered() != 0 {
		t.Fatalf("kept request: %d more bytes before the fetch ended, want the space only", br.Buffered())
	}
	close(release)
	second := readAnswer("second answer")
	want := Response{V: Version, Provider: "foundry", Kind: "bearer", Token: canary, Expiry: 1_900_000_000_000, Keep: true}
	if diff := cmp.Diff([]Response{want, want}, []Response{first, second}); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
