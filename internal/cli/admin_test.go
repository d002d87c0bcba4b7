package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
)

var adminLine = regexp.MustCompile(`byokcred (proxy|agent): admin on (http://\S+) `)

// TestAdminAddr: `proxy --admin-addr` and `agent --admin-addr` serve
// /healthz, /readyz (each provider ready, as JSON) and /metrics (the
// proxy's request counted after one request), and never a credential.
func TestAdminAddr(t *testing.T) {
	t.Parallel()
	model := startModelT(t, fakemodel.Options{Reply: "ok"})
	cfg := writeFile(t, "byokcred.yaml", `providers:
  oai: {type: openai, base_url: `+model.URL+`, model: gpt-4.1, auth: {type: static, api_key_env: OAI_KEY}}
`)
	env := map[string]string{"OAI_KEY": canary}
	tests := []struct {
		command string
		args    []string
		metric  string // a series the command exports
	}{
		{"proxy", []string{"--listen", "127.0.0.1:0"}, `http_server_request_duration_seconds_count{http_request_method="POST",http_response_status_code="200"`},
		{"agent", []string{"--socket", filepath.Join(t.TempDir(), "run", "agent.sock")}, `process_cpu_seconds_total`},
	}
	for _, tc := range tests {
		t.Run(tc.command, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			stderr := &syncbuf.Buffer{}
			code := make(chan int, 1)
			args := append([]string{"-c", cfg, tc.command, "--admin-addr", "127.0.0.1:0"}, tc.args...)
			go func() {
				code <- Run(ctx, args, Env{Stdout: io.Discard, Stderr: stderr, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
			}()
			var admin string
			for deadline := time.Now().Add(10 * time.Second); admin == ""; time.Sleep(10 * time.Millisecond) {
				if m := adminLine.FindStringSubmatch(stderr.String()); m != nil {
					admin = m[2]
				}
				if time.Now().After(deadline) {
					cancel()
					t.Fatalf("no admin address after 10s:\n%s", stderr)
				}
			}
			if tc.command == "proxy" {
				url := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(stderr.String())[1]
				resp, err := http.Post(url+"/oai/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4.1","messages":[]}`))
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			get := func(path string) (int, string) {
				resp, err := http.Get(admin + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			var all strings.Builder
			status, body := get("/healthz")
			all.WriteString(body)
			if status != 200 || body != "ok\n" {
				t.Errorf("/healthz: %d %q", status, body)
			}
			status, body = get("/readyz")
			all.WriteString(body)
			var rep struct {
				Ready     bool
				Providers []struct {
					Name  string
					Ready bool
				}
			}
			json.Unmarshal([]byte(body), &rep)
			want := struct {
				Ready     bool
				Providers []struct {
					Name  string
					Ready bool
				}
			}{true, []struct {
				Name  string
				Ready bool
			}{{"oai", true}}}
			if diff := cmp.Diff(want, rep); status != 200 || diff != "" {
				t.Errorf("/readyz: %d (-want +got):\n%s\n%s", status, diff, body)
			}
			status, body = get("/metrics")
			all.WriteString(body)
			if status != 200 || !strings.Contains(body, tc.metric) {
				t.Errorf("/metrics: %d, no %s in:\n%s", status, tc.metric, body)
			}
			if strings.Contains(all.String(), canary) {
				t.Error("the credential appeared on the admin address")
			}
			cancel()
			if c := <-code; c != ExitOK {
				t.Errorf("exit %d:\n%s", c, stderr)
			}
		})
	}
}
