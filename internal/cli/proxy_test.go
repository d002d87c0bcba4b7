package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/copilotcli"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
)

const proxyClientToken = "CANARY-proxy-client-0123456789abcdef"

// runningProxy is `byokcred proxy` running in process.
type runningProxy struct {
	url    string
	ready  string
	stderr *syncbuf.Buffer
	cancel context.CancelFunc
	code   chan int
}

// startProxyCmd runs `byokcred GLOBAL… proxy FLAGS… --listen 127.0.0.1:0
// --ready-file F` and waits until it listens.
func startProxyCmd(t *testing.T, env map[string]string, global []string, flags ...string) *runningProxy {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	ctx, cancel := context.WithCancel(context.Background())
	rp := &runningProxy{ready: ready, stderr: &syncbuf.Buffer{}, cancel: cancel, code: make(chan int, 1)}
	args := append(append(append([]string(nil), global...), "proxy"), flags...)
	args = append(args, "--listen", "127.0.0.1:0", "--ready-file", ready)
	go func() {
		rp.code <- Run(ctx, args, Env{Stdout: io.Discard, Stderr: rp.stderr, LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		}})
	}()
	t.Cleanup(func() { rp.stop(t) })
	rp.waitReady(t)
	return rp
}

// startProxyProc runs `byokcred GLOBAL… proxy FLAGS… --listen 127.0.0.1:0
// --ready-file F` as the binary bin with exactly env, and waits until it
// listens: a proxy whose credential SDK reads the process environment,
// without setting the test process's.
func startProxyProc(t *testing.T, bin string, env []string, global []string, flags ...string) *runningProxy {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	rp := &runningProxy{ready: ready, stderr: &syncbuf.Buffer{}, code: make(chan int, 1)}
	args := append(append(append([]string(nil), global...), "proxy"), flags...)
	cmd := exec.Command(bin, append(args, "--listen", "127.0.0.1:0", "--ready-file", ready)...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, io.Discard, rp.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rp.cancel = func() { cmd.Process.Signal(syscall.SIGTERM) }
	go func() {
		cmd.Wait()
		rp.code <- cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() { cmd.Process.Kill() }) // runs last: a proxy that ignored SIGTERM
	t.Cleanup(func() { rp.stop(t) })
	rp.waitReady(t)
	return rp
}

// waitReady waits until the proxy wrote its ready file, and takes its URL
// from it.
func (rp *runningProxy) waitReady(t *testing.T) {
	t.Helper()
	ready := rp.ready
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(ready); err == nil {
			rp.url = strings.TrimSpace(string(b))
			return
		}
		select {
		case code := <-rp.code:
			rp.code <- code
			t.Fatalf("proxy exited with %d before listening:\n%s", code, rp.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy not listening after 10s:\n%s", rp.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop cancels the command's context (as SIGINT does) and returns its exit
// code.
func (rp *runningProxy) stop(t *testing.T) int {
	t.Helper()
	rp.cancel()
	select {
	case code := <-rp.code:
		rp.code <- code // later calls see it too
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("proxy did not stop within 10s")
		return -1
	}
}

func startModelT(t *testing.T, opts fakemodel.Options) *fakemodel.Server {
	t.Helper()
	m, err := fakemodel.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// startCheckedModel starts an identity endpoint minting tokens of lifetime
// and a model endpoint that answers reply to a request carrying one of its
// tokens, still valid, and 401 to any other, counted in rejected; both
// close when t ends.
func startCheckedModel(t *testing.T, lifetime time.Duration, reply string) (idp *fakeidentity.Server, model *fakemodel.Server, rejected *atomic.Int64) {
	t.Helper()
	idp, err := fakeidentity.Start(fakeidentity.Options{Lifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	rejected = new(atomic.Int64)
	model = startModelT(t, fakemodel.Options{Reply: reply, Check: func(r *fakemodel.Request) int {
		if err := idp.CheckRequest(r); err != nil {
			rejected.Add(1)
			t.Logf("model endpoint refused a request: %v", err)
			return http.StatusUnauthorized
		}
		return 0
	}})
	return idp, model, rejected
}

func TestProxyCommandRefusesUnsafeSetups(t *testing.T) {
	cfg := writeFile(t, "byokcred.yaml", goodConfig)
	env := map[string]string{"OAI_KEY": canary, "AZ_TOKEN": canary, "SHORT": "abc", "GOOD": proxyClientToken}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"remote without --allow-remote", []string{"--listen", "0.0.0.0:0"}, "not a loopback address"},
		{"all interfaces without --allow-remote", []string{"--listen", ":7787"}, "not a loopback address"},
		{"--allow-remote without a client token", []string{"--listen", "0.0.0.0:0", "--allow-remote"}, "--allow-remote needs --client-token-env"},
		{"client token variable unset", []string{"--client-token-env", "NOPE"}, "--client-token-env NOPE: the variable is not set"},
		{"client token too short", []string{"--client-token-env", "SHORT"}, "use at least 16"},
		{"unknown default provider", []string{"--default", "nope"}, `default provider "nope" is not configured (configured: az, oai)`},
		{"arguments", []string{"extra"}, `unknown command "extra"`},
		{"admin address without a port", []string{"--admin-addr", "nope"}, `--admin-addr "nope": want host:port`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, env, append([]string{"-c", cfg, "proxy"}, tc.args...)...)
			if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d with %q", r.code, r.stderr, ExitUsage, tc.want)
			}
			if strings.Contains(r.stderr, "listening on") || strings.Contains(r.stderr, canary) {
				t.Errorf("it listened or printed a secret: %s", r.stderr)
			}
		})
	}
}

// TestProxyCommand runs `byokcred proxy` with a client token and --default,
// sends requests through it, reloads its config with SIGHUP, and stops it.
func TestProxyCommand(t *testing.T) {
	first := startModelT(t, fakemodel.Options{Reply: "first model"})
	second := startModelT(t, fakemodel.Options{Reply: "second model"})
	cfg := writeFile(t, "byokcred.yaml", `providers:
  oai:
    type: openai
    base_url: `+first.URL+`/v1
    model: gpt-4.1
    auth: {type: static, api_key_env: OAI_KEY}
`)
	env := map[string]string{"OAI_KEY": canary, "PROXY_TOKEN": proxyClientToken}
	rp := startProxyCmd(t, env, []string{"-c", cfg, "--log-level", "debug"}, "--client-token-env", "PROXY_TOKEN", "--default", "oai")

	lines := strings.Split(rp.stderr.String(), "\n")
	if want := "byokcred proxy: listening on " + rp.url; lines[0] != want {
		t.Errorf("first stderr line %q, want %q", lines[0], want)
	}
	for _, want := range []string{rp.url + "/oai → " + first.URL + "/v1 (openai, static)", rp.url + " → provider oai (--default)"} {
		if !strings.Contains(rp.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, rp.stderr)
		}
	}
	post := func(path string, header map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, rp.url+path, strings.NewReader(`{"model":"gpt-4.1"}`))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	withToken := map[string]string{"Authorization": "Bearer " + proxyClientToken}
	tests := []struct {
		name, path string
		header     map[string]string
		wantStatus int
		wantBody   string
	}{
		{"prefixed", "/oai/chat/completions", withToken, 200, "first model"},
		{"default provider", "/chat/completions", withToken, 200, "first model"},
		{"no client token", "/oai/chat/completions", nil, 401, "missing or wrong client token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.path, tc.header)
			if status != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Errorf("got %d %s, want %d with %q", status, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	var upstream []string
	for _, r := range first.Requests() {
		h, v := r.Credential()
		upstream = append(upstream, fmt.Sprintf("%s %s %s=%v", r.Path, h, "provider key", v == canary))
	}
	if diff := cmp.Diff([]string{"/v1/chat/completions Authorization provider key=true", "/v1/chat/completions Authorization provider key=true"}, upstream); diff != "" {
		t.Errorf("upstream requests (-want +got):\n%s", diff)
	}

	// SIGHUP reloads: oai moves to the second model. The signal handler is
	// installed before the proxy reports that it listens.
	if err := os.WriteFile(cfg, []byte(`providers:
  oai:
    type: openai
    base_url: `+second.URL+`/v1
    model: gpt-4.1
    auth: {type: static, api_key_env: OAI_KEY}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, body := post("/oai/chat/completions", withToken); strings.Contains(body, "second model") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload the config within 5s:\n%s", rp.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if code := rp.stop(t); code != ExitOK {
		t.Errorf("exit %d after SIGINT, want 0:\n%s", code, rp.stderr)
	}
	if _, err := os.Stat(rp.ready); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ready file left behind: %v", err)
	}
	out := rp.stderr.String()
	for _, want := range []string{"config reloaded", "headers.authorization=[REDACTED]", "byokcred proxy: stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(out, canary) || strings.Contains(out, proxyClientToken) {
		t.Errorf("a secret reached stderr:\n%s", out)
	}
}

// TestCopilotCLIThroughProxy is issue 9's scenario with the real Copilot
// CLI in its own BYOK mode — configured by COPILOT_PROVIDER_* environment
// variables, which it reads once at start — not through the SDK.
//
// One CLI process holds one conversation over the Agent Client Protocol
// (`copilot --acp`, prompts sent over stdin) while the identity endpoint
// issues four-second Entra tokens, until the conversation has used three
// and outlived the first. The CLI's only credential is the proxy's
// client token; every request must reach the model with a currently valid
// token. A final `copilot -p --continue` run, the plain non-interactive
// mode, resumes the same conversation through the proxy.
func TestCopilotCLIThroughProxy(t *testing.T) {
	t.Parallel() // the proxy runs as a process of its own, with its own env
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	bin, err := copilotcli.Find()
	if err != nil {
		t.Fatal(err)
	}
	const lifetime = 4 * time.Second
	idp, model, rejected := startCheckedModel(t, lifetime, "Hello through the proxy.")
	// In front of the fake model: count the messages of each request, to
	// see the conversation's history grow across token rotations.
	var mu sync.Mutex
	var history []int
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct {
			Messages []json.RawMessage `json:"messages"`
			Tools    []json.RawMessage `json:"tools"`
		}
		json.Unmarshal(body, &in)
		mu.Lock()
		history = append(history, len(in.Messages))
		mu.Unlock()
		if len(in.Tools) != 0 {
			t.Errorf("the CLI offered the model %d tools; it must have none", len(in.Tools))
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		model.ServeHTTP(w, r)
	}))
	defer upstream.Close()

	cfg := writeFile(t, "byokcred.yaml", `providers:
  foundry:
    type: azure
    base_url: `+upstream.URL+`
    model: gpt-4.1
    auth:
      type: entra
      credential: managed_identity
      scope: https://proxy-e2e.cognitiveservices.example/.default
`)
	// --default: with type azure the CLI keeps only the base URL's host and
	// builds /openai/v1/... itself, so it cannot send a /foundry prefix.
	// azidentity reads the identity endpoint from the process environment:
	// the proxy gets it in its own.
	proxyEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "PROXY_TOKEN=" + proxyClientToken}
	for k, v := range idp.Env() {
		proxyEnv = append(proxyEnv, k+"="+v)
	}
	rp := startProxyProc(t, byokcredBinary(t), proxyEnv, []string{"-c", cfg, "--log-level", "info"}, "--client-token-env", "PROXY_TOKEN", "--default", "foundry")

	// The CLI's environment is built from nothing: no GitHub token (with
	// one it calls api.github.com), a home of its own, offline mode.
	home := t.TempDir()
	cache, err := os.UserCacheDir() // the unpacked runtime (~200 MB) is reused from here
	if err != nil {
		cache = filepath.Join(home, ".cache")
	}
	baseEnv := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_STATE_HOME=" + filepath.Join(home, ".state"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".data"), "XDG_CACHE_HOME=" + cache,
		"COPILOT_OFFLINE=true", "COPILOT_AUTO_UPDATE=false", "NO_COLOR=1",
		"COPILOT_MODEL=gpt-4.1",
	}
	// The two ways to point the CLI at an Azure provider through the proxy.
	azureEnv := append(slices.Clone(baseEnv),
		"COPILOT_PROVIDER_TYPE=azure",
		"COPILOT_PROVIDER_BASE_URL="+rp.url,          // served by --default
		"COPILOT_PROVIDER_API_KEY="+proxyClientToken, // sent as api-key: the proxy's client token
	)
	openaiEnv := append(slices.Clone(baseEnv),
		"COPILOT_PROVIDER_TYPE=openai",
		"COPILOT_PROVIDER_BASE_URL="+rp.url+"/foundry/openai/v1", // Azure's OpenAI-compatible v1 API, by prefix
		"COPILOT_PROVIDER_API_KEY="+proxyClientToken,             // sent as Authorization: Bearer
	)
	// --available-tools=none leaves the model no tool at all (an empty list
	// means "all"); every permission request is refused below as well.
	cliFlags := []string{"--available-tools=none", "--no-auto-update", "--no-custom-instructions", "--disable-builtin-mcps"}
	work := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--acp"}, cliFlags...)...)
	cmd.Env, cmd.Dir = azureEnv, work
	var cliErr syncbuf.Buffer
	cmd.Stderr = &cliErr
	acp, err := newACP(t, cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer acp.close()
	if _, err := acp.call("initialize", map[string]any{"protocolVersion": 1, "clientCapabilities": map[string]any{}}); err != nil {
		t.Fatalf("initialize: %v\n%s", err, cliErr.String())
	}
	res, err := acp.call("session/new", map[string]any{"cwd": work, "mcpServers": []any{}})
	if err != nil {
		t.Fatalf("session/new: %v\n%s", err, cliErr.String())
	}
	var sess struct {
		SessionID string `json:"sessionId"`
	}
	json.Unmarshal(res, &sess)

	// Prompts until 3 tokens were used and the first had expired (about
	// 5 s of 4 s tokens, not a fixed 6 prompts); the bound only stops a
	// run whose tokens never rotate, and the checks below then fail.
	prompts := 0
	start := time.Now()
	for prompts < 3 || (!outlivedFirstToken(idp, model) && prompts < 12) {
		prompts++
		i := prompts
		if i > 1 {
			time.Sleep(1500 * time.Millisecond)
		}
		acp.text.Reset()
		res, err := acp.call("session/prompt", map[string]any{"sessionId": sess.SessionID, "prompt": []any{map[string]any{"type": "text", "text": fmt.Sprintf("Prompt %d: say hello.", i)}}})
		if err != nil {
			t.Fatalf("prompt %d after %s: %v\nCLI stderr: %s\nproxy: %s", i, time.Since(start).Round(time.Millisecond), err, cliErr.String(), rp.stderr)
		}
		var done struct {
			StopReason string `json:"stopReason"`
		}
		json.Unmarshal(res, &done)
		// The CLI reports its tool settings as message text before the
		// first reply.
		if done.StopReason != "end_turn" || !strings.HasSuffix(acp.text.String(), "Hello through the proxy.") {
			t.Fatalf("prompt %d: stop reason %q, reply %q\nproxy: %s", i, done.StopReason, acp.text.String(), rp.stderr)
		}
	}
	acp.close()

	// The plain non-interactive mode, resuming the same conversation, with
	// the provider addressed by its prefix.
	p := exec.CommandContext(ctx, bin, append([]string{"-p", "One more: say hello.", "--continue", "-s"}, cliFlags...)...)
	p.Env, p.Dir, p.Stdin = openaiEnv, work, strings.NewReader("")
	out, err := p.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "Hello through the proxy." {
		t.Fatalf("copilot -p --continue: %v\n%s", err, out)
	}

	reqs := model.Requests()
	distinct := map[string]bool{}
	for _, r := range reqs {
		distinct[r.Header.Get("Authorization")] = true
		if !strings.HasSuffix(r.Path, "/chat/completions") || r.Header.Get("Api-Key") != "" {
			t.Errorf("request %s carried api-key %v", r.Path, r.Header.Get("Api-Key") != "")
		}
	}
	if n := rejected.Load(); n != 0 {
		t.Errorf("%d requests reached the model with an invalid token", n)
	}
	if len(reqs) < prompts+1 {
		t.Errorf("%d model requests for %d prompts", len(reqs), prompts+1)
	}
	if len(distinct) < 3 {
		t.Errorf("tokens did not rotate: %d distinct over %d requests", len(distinct), len(reqs))
	}
	// The control: the token the conversation started with had expired by
	// its end, so a client holding it (the workaround-less CLI)
	// would have failed.
	issued := idp.Issued()
	if err := idp.Check(issued[0].Token, reqs[len(reqs)-1].Time); err == nil {
		t.Errorf("the first token was still valid at the last request: the conversation did not outlive a token")
	}
	mu.Lock()
	defer mu.Unlock()
	if last := history[len(history)-1]; last < 2*(prompts+1) {
		t.Errorf("the last request carried %d messages, want ≥ %d: the conversation did not continue (history %v)", last, 2*(prompts+1), history)
	}
	if strings.Contains(rp.stderr.String(), proxyClientToken) {
		t.Error("the client token reached the proxy's log")
	}
	for _, is := range issued {
		if strings.Contains(rp.stderr.String(), is.Token) {
			t.Error("an Entra token reached the proxy's log")
		}
	}
	t.Logf("%d prompts over %s, %d model requests, %d distinct tokens (lifetime %s), messages per request %v",
		prompts+1, time.Since(start).Round(100*time.Millisecond), len(reqs), len(distinct), lifetime, history)
}

// acpClient speaks the Agent Client Protocol (JSON-RPC 2.0, one message per
// line) with a `copilot --acp` process, as an editor would.
type acpClient struct {
	t    *testing.T
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	next int
	// text collects the agent's message chunks of the current prompt.
	text strings.Builder
}

func newACP(t *testing.T, cmd *exec.Cmd) (*acpClient, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &acpClient{t: t, cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}, nil
}

type rpcMessage struct {
	JSONRPC string           `json:"jsonrpc"`
	ID      *json.RawMessage `json:"id,omitempty"`
	Method  string           `json:"method,omitempty"`
	Params  json.RawMessage  `json:"params,omitempty"`
	Result  json.RawMessage  `json:"result,omitempty"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

func (c *acpClient) send(m any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = c.in.Write(append(b, '\n'))
	return err
}

// call sends a request and handles what the agent sends until the answer:
// session updates (collecting message text) and the agent's own requests.
func (c *acpClient) call(method string, params any) (json.RawMessage, error) {
	c.next++
	id := c.next
	if err := c.send(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params}); err != nil {
		return nil, err
	}
	for {
		line, err := c.out.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("reading from the CLI: %w", err)
		}
		var m rpcMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("CLI sent %q: %w", line, err)
		}
		switch {
		case m.Method == "session/update":
			var u struct {
				Update struct {
					SessionUpdate string `json:"sessionUpdate"`
					Content       struct {
						Type string `json:"type"`
						Text string `json:"text"`
					} `json:"content"`
				} `json:"update"`
			}
			json.Unmarshal(m.Params, &u)
			if u.Update.SessionUpdate == "agent_message_chunk" && u.Update.Content.Type == "text" {
				c.text.WriteString(u.Update.Content.Text)
			}
		case m.Method != "" && m.ID != nil:
			// The agent asks something of the editor. A permission request
			// is refused: this conversation must not run anything.
			reply := map[string]any{"jsonrpc": "2.0", "id": m.ID}
			if m.Method == "session/request_permission" {
				c.t.Errorf("the CLI asked for a permission: %s", m.Params)
				reply["result"] = map[string]any{"outcome": map[string]any{"outcome": "cancelled"}}
			} else {
				reply["error"] = map[string]any{"code": -32601, "message": "not supported by this client"}
			}
			if err := c.send(reply); err != nil {
				return nil, err
			}
		case m.ID != nil && string(*m.ID) == fmt.Sprint(id):
			if m.Error != nil {
				return nil, fmt.Errorf("%s: error %d: %s", method, m.Error.Code, m.Error.Message)
			}
			return m.Result, nil
		}
	}
}

// close ends the session: closing stdin tells the CLI to exit.
func (c *acpClient) close() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.in.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}
