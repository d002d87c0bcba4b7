package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// writeLog records each Write separately, to see a reply arrive in pieces.
type writeLog struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func (w *writeLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.writes, "")
}

func TestInteractiveChatStreamsAndSwitchesModels(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	alpha, err := fakemodel.Start(fakemodel.Options{Reply: "alpha streams this reply word by word", ChunkDelay: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer alpha.Close()
	beta, err := fakemodel.Start(fakemodel.Options{Reply: "beta here"})
	if err != nil {
		t.Fatal(err)
	}
	defer beta.Close()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  alpha: {type: openai, base_url: `+alpha.URL+`, model: a1, auth: {type: static, api_key: ka}}
  beta: {type: openai, base_url: `+beta.URL+`, model: b1, auth: {type: static, api_key: kb}}
default_model: alpha/a1
`)
	var out writeLog
	var errb strings.Builder
	code := Run(context.Background(), []string{"-c", cfg, "chat", "-i"}, Env{
		Stdin:  strings.NewReader("hello\n/model beta/b1\nand you?\n/model nope/x\n/quit\n"),
		Stdout: &out, Stderr: &errb,
	})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got, want := out.String(), "alpha streams this reply word by word\nbeta here\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	if len(out.writes) < 6 {
		t.Errorf("reply arrived in %d writes; want it streamed in pieces: %q", len(out.writes), out.writes)
	}
	if !strings.Contains(errb.String(), `unknown model "nope/x"`) || !strings.Contains(errb.String(), "beta/b1> ") {
		t.Errorf("stderr: %s", errb.String())
	}
	if len(alpha.Requests()) != 1 || len(beta.Requests()) != 1 || !beta.Requests()[0].Stream {
		t.Errorf("requests: alpha %d, beta %d", len(alpha.Requests()), len(beta.Requests()))
	}
}

func TestCompletion(t *testing.T) {
	cfg := writeFile(t, "byokcred.yaml", goodConfig)
	env := map[string]string{"OAI_KEY": "k", "AZ_TOKEN": "t", "BYOKCRED_CONFIG": cfg}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"token provider", []string{"__complete", "token", ""}, []string{"az", "oai"}},
		{"token provider prefix", []string{"__complete", "token", "o"}, []string{"oai"}},
		{"chat model flag", []string{"__complete", "chat", "-m", ""}, []string{"az", "oai", "az/gpt-4o", "oai/gpt-4.1"}},
		{"shell scripts", []string{"completion", "bash"}, []string{"bash completion V2 for byokcred"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, env, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// TestInteractiveChatFollowsSIGHUP rotates the key in the config file in
// the middle of an interactive conversation: after SIGHUP, the session's
// next request carries the new key.
func TestInteractiveChatFollowsSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	model, err := fakemodel.Start(fakemodel.Options{Reply: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	conf := func(key string) string {
		return "providers:\n  gw: {type: openai, base_url: " + model.URL + ", model: m, auth: {type: static, api_key: " + key + "}}\n"
	}
	cfg := writeFile(t, "byokcred.yaml", conf("key-before"))
	stdin, feed := io.Pipe()
	var out writeLog
	done := make(chan int)
	go func() {
		done <- Run(context.Background(), []string{"-c", cfg, "chat", "-i", "-m", "gw"}, Env{Stdin: stdin, Stdout: &out, Stderr: io.Discard})
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	fmt.Fprintln(feed, "first")
	waitFor("the first reply", func() bool { return len(model.Requests()) == 1 && strings.Count(out.String(), "ok") == 1 })
	os.WriteFile(cfg, []byte(conf("key-after")), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	time.Sleep(500 * time.Millisecond) // the reload runs on its own goroutine
	fmt.Fprintln(feed, "second")
	fmt.Fprintln(feed, "/quit")
	feed.Close()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
	var keys []string
	for _, r := range model.Requests() {
		_, v := r.Credential()
		keys = append(keys, v)
	}
	if diff := cmp.Diff([]string{"key-before", "key-after"}, keys); diff != "" {
		t.Errorf("keys per request (-want +got):\n%s", diff)
	}
}
