package host

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
)

func newTestRelay(level slog.Level) (*relay, *syncbuf.Buffer) {
	buf := &syncbuf.Buffer{}
	h := slog.NewTextHandler(buf, &slog.HandlerOptions{
		Level: level,
		// Drop the time so that lines compare.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	return newRelay(slog.New(h).With("plugin", "p")), buf
}

// TestRelayRedaction: lines written while a call is in flight are held until
// its token is known, then released redacted; later lines are redacted from
// memory; hclog JSON keeps its fields.
func TestRelayRedaction(t *testing.T) {
	const tok = "opaque-token-value-42"
	tests := []struct {
		name  string
		write func(r *relay)
		want  []string
	}{
		{
			name: "held during the call, released redacted",
			write: func(r *relay) {
				r.begin()
				r.stdioWriter().Write([]byte("got " + tok + "\n"))
				r.end(tok)
			},
			want: []string{`level=DEBUG msg="got [REDACTED]" plugin=p stream=stderr`},
		},
		{
			name: "remembered after the call",
			write: func(r *relay) {
				r.begin()
				r.end(tok)
				r.stdioWriter().Write([]byte("later " + tok + "\n"))
			},
			want: []string{`level=DEBUG msg="later [REDACTED]" plugin=p stream=stderr`},
		},
		{
			name: "hclog json fields",
			write: func(r *relay) {
				r.begin()
				r.end(tok)
				hclogWriter{r}.Write([]byte(`{"@level":"info","@message":"fetched","@module":"plugin.x","@timestamp":"t","token":"` + tok + `","n":3,"plugin":"/bin/x"}` + "\n"))
			},
			want: []string{`level=DEBUG msg=fetched plugin=p module=plugin.x plugin_level=info n=3 binary=/bin/x token=[REDACTED]`},
		},
		{
			name: "partial writes are joined into lines",
			write: func(r *relay) {
				w := r.stdioWriter()
				w.Write([]byte("one "))
				w.Write([]byte("line\ntwo"))
				w.Write([]byte("\n"))
			},
			want: []string{`level=DEBUG msg="one line" plugin=p stream=stderr`, `level=DEBUG msg=two plugin=p stream=stderr`},
		},
		{
			name: "a jwt never returned is caught by shape",
			write: func(r *relay) {
				r.stdioWriter().Write([]byte("id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig\n"))
			},
			want: []string{`level=DEBUG msg="id [REDACTED]" plugin=p stream=stderr`},
		},
		{
			name: "overflow while held is counted",
			write: func(r *relay) {
				r.perMinute = 2 * maxHeld // this case is about the hold
				r.begin()
				w := r.stdioWriter()
				for range maxHeld + 2 {
					w.Write([]byte("x\n"))
				}
				r.end("")
			},
			want: append(repeat(`level=DEBUG msg=x plugin=p stream=stderr`, maxHeld),
				`level=DEBUG msg="dropped 2 plugin log lines written during a long call or while the log was slow" plugin=p`),
		},
		{
			// issue 23, finding 15: `cat pw.txt >&2` in a plugin's command.
			name: "a bare secret never returned is caught by shape; diagnostics stay",
			write: func(r *relay) {
				w := r.stdioWriter()
				w.Write([]byte("Xk7pQ2mZ9vR4tL8wN3bY6cF1\n"))
				w.Write([]byte("using key sk-proj-CANARY0a1b2c from /run/secrets/pw.txt\n"))
				w.Write([]byte("permission denied: /etc/x\n"))
				hclogWriter{r}.Write([]byte(`{"@level":"error","@message":"read wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","@timestamp":"t","path":"/etc/x","aws_key":"AKIAIOSFODNN7EXAMPLE"}` + "\n"))
			},
			want: []string{
				`level=DEBUG msg=[REDACTED] plugin=p stream=stderr`,
				`level=DEBUG msg="using key [REDACTED] from /run/secrets/pw.txt" plugin=p stream=stderr`,
				`level=DEBUG msg="permission denied: /etc/x" plugin=p stream=stderr`,
				`level=DEBUG msg="read [REDACTED]" plugin=p plugin_level=error aws_key=[REDACTED] path=/etc/x`,
			},
		},
		{
			name: "a long line is cut",
			write: func(r *relay) {
				r.stdioWriter().Write([]byte(strings.Repeat("a ", maxLine) + "\n"))
			},
			want: []string{`level=DEBUG msg="` + strings.Repeat("a ", maxLine/2) + `…(truncated)" plugin=p stream=stderr`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, buf := newTestRelay(slog.LevelDebug)
			tc.write(r)
			r.flush()
			got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("log (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRelayLineBudget: past perMinute lines in a minute the rest are
// dropped, and counted when the next minute's first line arrives.
func TestRelayLineBudget(t *testing.T) {
	r, buf := newTestRelay(slog.LevelDebug)
	clock := fakeclock.New()
	r.now = clock.Now
	r.perMinute = 3
	w := r.stdioWriter()
	for i := range 5 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	clock.Advance(time.Minute)
	w.Write([]byte("next minute\n"))
	r.flush()
	want := []string{
		`level=DEBUG msg="line 0" plugin=p stream=stderr`,
		`level=DEBUG msg="line 1" plugin=p stream=stderr`,
		`level=DEBUG msg="line 2" plugin=p stream=stderr`,
		`level=DEBUG msg="dropped 2 plugin log lines: more than 3 in a minute" plugin=p`,
		`level=DEBUG msg="next minute" plugin=p stream=stderr`,
	}
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// TestRelayQuietAboveDebug: a host logger above debug gets nothing from the
// relay.
func TestRelayQuietAboveDebug(t *testing.T) {
	r, buf := newTestRelay(slog.LevelInfo)
	r.stdioWriter().Write([]byte("anything\n"))
	r.hclogger().Error("an error in the plugin")
	r.flush()
	if buf.String() != "" {
		t.Errorf("logged %q", buf.String())
	}
}

// TestStderrCanaryNotRelayed: a plugin that prints the token it returns to
// every stream it has gets its log relayed (the marker arrives) without the
// token, and without an unreturned JWT.
func TestStderrCanaryNotRelayed(t *testing.T) {
	const canary = "CANARY-b81d2e6f04-secret-token"
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLWNhbmFyeQ"
	m, logs := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"p": testPluginConfig(nil)}})
	src, _ := m.Source("p", "prov", map[string]any{"behavior": "canary", "canary": canary})
	tok, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(canary, tok.Value.Reveal()); diff != "" {
		t.Fatalf("token (-want +got):\n%s", diff)
	}
	// The plugin's lines arrive asynchronously; Close drains them.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "canary-marker: relay works") {
		t.Fatalf("the plugin's log was not relayed:\n%s", out)
	}
	for _, s := range []string{canary, jwt, "eyJzdWIiOiJ0ZXN0In0"} {
		if strings.Contains(out, s) {
			t.Errorf("host log holds %q:\n%s", s, out)
		}
	}
	// Relayed lines are debug and name the plugin.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "canary-marker") && !(strings.Contains(line, "level=DEBUG") && strings.Contains(line, "plugin=p")) {
			t.Errorf("relayed line %q is not level=DEBUG with plugin=p", line)
		}
	}
}

// TestStderrSecretsNotRelayed: a plugin that copies a secret file to its
// stderr (`cat pw.txt >&2`, raw, through os.Stderr and in an hclog
// attribute), prints the token it returns and a JWT gets none of them into
// the host log, while its ordinary diagnostics arrive whole (issue 23,
// finding 15).
func TestStderrSecretsNotRelayed(t *testing.T) {
	const (
		canary   = "CANARY-stderr-returned-4b1f"
		password = "Qm9vZ3Jhc3NAbmQtOTg3NjU0MzIxMGFiY2RlZg" // pw.txt: a generated password
		jwtBody  = "eyJzdWIiOiJzdGRlcnIifQ"
	)
	pw := filepath.Join(t.TempDir(), "pw.txt")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, logs := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"p": testPluginConfig(nil)}})
	src, _ := m.Source("p", "prov", map[string]any{"behavior": "stderr-file", "canary": canary, "file": pw})
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Raw stderr arrives on go-plugin's stdio stream, after the call
	// returns; Close does not wait for it.
	logged(t, logs, "permission denied: /etc/x")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"stderr-marker: done", "permission denied: /etc/x", "path=" + pw} {
		if !strings.Contains(out, want) {
			t.Errorf("host log lacks %q:\n%s", want, out)
		}
	}
	for _, s := range []string{canary, password, jwtBody} {
		if strings.Contains(out, s) {
			t.Errorf("host log holds %q:\n%s", s, out)
		}
	}
}

// blockingHandler is a log sink that stalls until released.
type blockingHandler struct {
	release chan struct{}
	buf     *syncbuf.Buffer
}

func (h blockingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h blockingHandler) Handle(_ context.Context, r slog.Record) error {
	<-h.release
	h.buf.Write([]byte(r.Message + "\n"))
	return nil
}
func (h blockingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h blockingHandler) WithGroup(string) slog.Handler      { return h }

// TestSlowLogSinkStallsNothing: while the host's log sink is stuck, the
// plugin's output is still consumed and token calls still begin and end —
// the relay logs on a goroutine of its own — and the lines arrive, in
// order, once the sink moves again.
func TestSlowLogSinkStallsNothing(t *testing.T) {
	h := blockingHandler{release: make(chan struct{}), buf: &syncbuf.Buffer{}}
	r := newRelay(slog.New(h))
	done := make(chan struct{})
	go func() {
		defer close(done)
		w := r.stdioWriter()
		w.Write([]byte("first\n"))
		r.begin()
		w.Write([]byte("second\n"))
		r.end("tok-value-1234")
		w.Write([]byte("third\n"))
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		close(h.release)
		t.Fatal("writes and token calls blocked on a stuck log sink")
	}
	close(h.release)
	r.flush()
	if diff := cmp.Diff("first\nsecond\nthird\n", h.buf.String()); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
}

// logged waits until the host log holds want: plugin output crosses
// go-plugin's goroutines, so it can trail the call that caused it.
func logged(t *testing.T, logs interface{ String() string }, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the host log lacks %q after 10s:\n%s", want, logs.String())
		}
	}
}
