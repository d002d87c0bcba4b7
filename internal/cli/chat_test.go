package cli

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/fakemodel"
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
