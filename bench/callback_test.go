package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
)

// The legs of figure 14, per round: callbackBatch TypeScript callbacks, one
// key-command process, callbackBatch requests through the proxy and as many
// direct.
const (
	callbackRounds = 100
	callbackBatch  = 20
)

// BenchmarkCallbackLatency is figure 14: what one model request's
// credential costs the three ways a program that is not Go gets it from
// byokcred, in one run, their legs interleaved round by round:
//
//   - the TypeScript SDK's bearerTokenProvider from @byokcred/client, asking
//     a running `byokcred agent` on a kept unix-socket connection (timed in
//     node, around the awaited call, as the runtime waits for it);
//   - the key command, `byokcred credential --agent require` (a process per
//     request, answered by the same agent);
//   - the proxy hop: a chat-completions request through `byokcred proxy` to a
//     loopback upstream, and the same request sent directly, whose
//     difference is the hop.
//
// One Entra provider (managed identity, the fake identity endpoint, one-hour
// tokens) serves all three.
func BenchmarkCallbackLatency(b *testing.B) {
	node := nodeForBench(b)
	bin := binary(b, "byokcred")
	// The key command as copilot-env prints it (figure 11): the small
	// binary next to byokcred, answered by the agent.
	keyCmd := binary(b, "byokcred-credential")
	idp, err := fakeidentity.Start(fakeidentity.Options{Lifetime: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer idp.Close()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"message":{"role":"assistant","content":"Hello"}}]}`)
	}))
	defer upstream.Close()
	dir := b.TempDir()
	cfg := filepath.Join(dir, "byokcred.yaml")
	os.WriteFile(cfg, []byte(`providers:
  foundry:
    type: openai
    base_url: `+upstream.URL+`/openai/v1
    model: gpt-4.1
    auth:
      type: entra
      credential: managed_identity
      scope: https://callback-bench.cognitiveservices.example/.default
`), 0o600)
	socket := filepath.Join(dir, "run", "agent.sock")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range idp.Env() {
		env = append(env, k+"="+v)
	}
	rounds := callbackRounds
	if testing.Short() {
		rounds = 3
	}
	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		return cmd
	}
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	ready := filepath.Join(dir, "proxy.url")
	proxyCmd := start("-c", cfg, "proxy", "--listen", "127.0.0.1:0", "--default", "foundry", "--ready-file", ready)
	defer stop(proxyCmd)
	proxyURL := waitReadyFile(b, ready)
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	body := `{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}`
	post := func(url string, bearer bool) time.Duration {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if bearer {
			req.Header.Set("Authorization", "Bearer direct-leg-fixed-token")
		}
		t := time.Now()
		resp, err := httpc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("POST %s: %s", url, resp.Status)
		}
		return d
	}

	var tsP50, tsP99, keyP50, keyP99, proxyP50, proxyP99, directP50, directP99, fetches float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := idp.Requests()
		agent := start("-c", cfg, "agent", "--socket", socket)
		waitListening(b, socket)
		ts := startNodeCallback(b, node, socket, "foundry")
		var tsDur, keyDur, proxyDur, directDur []time.Duration
		for r := 0; r < rounds; r++ {
			tsDur = append(tsDur, ts.calls(b, callbackBatch)...)
			t := time.Now()
			out, err := exec.Command(keyCmd, "-c", cfg, "credential", "--socket", socket, "--agent", "require", "foundry").Output()
			keyDur = append(keyDur, time.Since(t))
			if err != nil || len(out) == 0 {
				b.Fatalf("key command: %v", err)
			}
			for j := 0; j < callbackBatch; j++ {
				proxyDur = append(proxyDur, post(proxyURL+"/chat/completions", false))
				directDur = append(directDur, post(upstream.URL+"/openai/v1/chat/completions", true))
			}
		}
		ts.close()
		stop(agent)
		// The agent's first fetch, and the proxy's in the first run.
		fetches += float64(idp.Requests() - before)
		tsP50, tsP99 = tsP50+percentile(tsDur, 50), tsP99+percentile(tsDur, 99)
		keyP50, keyP99 = keyP50+percentile(keyDur, 50), keyP99+percentile(keyDur, 99)
		proxyP50, proxyP99 = proxyP50+percentile(proxyDur, 50), proxyP99+percentile(proxyDur, 99)
		directP50, directP99 = directP50+percentile(directDur, 50), directP99+percentile(directDur, 99)
	}
	n := float64(b.N)
	b.ReportMetric(tsP50/n, "ts-p50-ns")
	b.ReportMetric(tsP99/n, "ts-p99-ns")
	b.ReportMetric(keyP50/n, "keycmd-p50-ns")
	b.ReportMetric(keyP99/n, "keycmd-p99-ns")
	b.ReportMetric(proxyP50/n, "proxy-p50-ns")
	b.ReportMetric(proxyP99/n, "proxy-p99-ns")
	b.ReportMetric(directP50/n, "direct-p50-ns")
	b.ReportMetric(directP99/n, "direct-p99-ns")
	b.ReportMetric(fetches/n, "fetches")
	b.ReportMetric(float64(rounds*callbackBatch), "calls")
}

// nodeCallback is the running node leg (bench/testdata/callback.mjs).
type nodeCallback struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines *bufio.Scanner
}

func startNodeCallback(b *testing.B, node, socket, provider string) *nodeCallback {
	b.Helper()
	index, _ := filepath.Abs(filepath.Join("..", "clients", "node", "dist", "index.js"))
	cmd := exec.Command(node, filepath.Join("testdata", "callback.mjs"), index, socket, provider)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	nc := &nodeCallback{cmd: cmd, in: in, lines: bufio.NewScanner(out)}
	nc.lines.Buffer(nil, 1<<20)
	nc.calls(b, 5) // node's start and the first connection, outside the figure
	return nc
}

// calls makes n callback calls in node and returns their wall times.
func (nc *nodeCallback) calls(b *testing.B, n int) []time.Duration {
	b.Helper()
	fmt.Fprintln(nc.in, strconv.Itoa(n))
	if !nc.lines.Scan() {
		b.Fatalf("node callback leg ended: %v", nc.lines.Err())
	}
	var ns []int64
	if err := json.Unmarshal(nc.lines.Bytes(), &ns); err != nil {
		b.Fatalf("node callback leg: %q: %v", nc.lines.Text(), err)
	}
	ds := make([]time.Duration, len(ns))
	for i, v := range ns {
		ds[i] = time.Duration(v)
	}
	return ds
}

func (nc *nodeCallback) close() {
	nc.in.Close()
	nc.cmd.Wait()
}

// nodeForBench returns node's path once the TypeScript client is built
// (its tsc, once per benchmark binary). Outside CI a missing node or a
// missing `make node-deps` skips the figure.
func nodeForBench(b *testing.B) string {
	b.Helper()
	clientDir := filepath.Join("..", "clients", "node")
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			b.Fatalf("%s; CI must run figure 14 (make node-deps)", what)
		}
		b.Skipf("%s: figure 14 skipped (make node-deps installs what it needs)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if !fileExists(filepath.Join(clientDir, "node_modules", "typescript", "bin", "tsc")) {
		missing("clients/node/node_modules has no typescript")
	}
	nodeBuild.once.Do(func() {
		cmd := exec.Command(node, filepath.Join("node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json")
		cmd.Dir = clientDir
		if out, err := cmd.CombinedOutput(); err != nil {
			nodeBuild.err = fmt.Errorf("building the TypeScript client: %v\n%s", err, out)
		}
	})
	if nodeBuild.err != nil {
		b.Fatal(nodeBuild.err)
	}
	return node
}

var nodeBuild struct {
	once sync.Once
	err  error
}

// waitReadyFile waits for the proxy's --ready-file and returns its URL.
func waitReadyFile(b *testing.B, path string) string {
	b.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if u, err := os.ReadFile(path); err == nil && len(u) > 0 {
			return strings.TrimSpace(string(u))
		}
		if time.Now().After(deadline) {
			b.Fatalf("proxy wrote no %s after 15s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
