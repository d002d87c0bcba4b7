package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// nodeClientDir is the TypeScript client's package (clients/node).
var nodeClientDir = filepath.Join("..", "..", "clients", "node")

// nodeClient returns node's path once the TypeScript client is built (tsc,
// once per test binary). It skips outside CI when node or the client's dev
// dependencies (make node-deps) are missing; in CI (CI=true) it fails.
func nodeClient(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no node")
	}
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; CI must run the TypeScript client's tests (make node-deps)", what)
		}
		t.Skipf("%s: the TypeScript client's tests are skipped (make node-deps installs what they need)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join(nodeClientDir, "node_modules", "@github", "copilot-sdk", "package.json")); err != nil {
		missing("clients/node/node_modules has no @github/copilot-sdk")
	}
	builtNodeClient.once.Do(func() {
		cmd := exec.Command(node, filepath.Join("node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json")
		cmd.Dir = nodeClientDir
		if out, err := cmd.CombinedOutput(); err != nil {
			builtNodeClient.err = err.Error() + "\n" + string(out)
		}
	})
	if builtNodeClient.err != "" {
		t.Fatalf("building the TypeScript client: %s", builtNodeClient.err)
	}
	return node
}

var builtNodeClient struct {
	once sync.Once
	err  string
}

// TestNodeClientUnit runs the TypeScript client's unit tests (node --test)
// against their scripted fake agent.
func TestNodeClientUnit(t *testing.T) {
	t.Parallel()
	node := nodeClient(t)
	cmd := exec.Command(node, "--test", filepath.Join("dist", "test"))
	cmd.Dir = nodeClientDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}

// TestTypeScriptSDKThroughAgent is issue 27's scenario: the official
// TypeScript Copilot SDK drives the real runtime against the loopback fake
// model, its provider config built by the TypeScript client from a running
// `byokcred agent` that serves Entra tokens from the fake identity endpoint,
// 4-second tokens. The program is the README's long-running example
// (clients/node/src/examples/long-running.ts): one session, a prompt per
// line of its input.
//
// Over several rotations every model request carries a then-valid token,
// each token came from the agent (one identity fetch per lifetime); the
// agent stopped, a turn fails with the client's error naming the socket and
// the command that starts the agent; the agent restarted, the same session
// recovers.
func TestTypeScriptSDKThroughAgent(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	node := nodeClient(t)
	bin := byokcredBinary(t)
	const lifetime = 4 * time.Second
	const reply = "Hello through the TypeScript client."
	idp, model, rejected := startCheckedModel(t, lifetime, reply)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "byokcred.yaml")
	if err := os.WriteFile(cfg, []byte(`providers:
  foundry:
    type: azure
    base_url: `+model.URL+`
    model: gpt-4.1
    headers: {X-Team: "${TEAM}"}
    auth:
      type: entra
      credential: managed_identity
      scope: https://ts-e2e.cognitiveservices.example/.default
`), 0o600); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "run", "agent.sock")
	home := t.TempDir()
	cache, err := os.UserCacheDir() // the unpacked runtime is reused from here
	if err != nil {
		cache = filepath.Join(home, ".cache")
	}
	// No GitHub token: the runtime stays offline in BYOK mode.
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_STATE_HOME=" + filepath.Join(home, ".state"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".data"), "XDG_CACHE_HOME=" + cache,
		"COPILOT_AUTO_UPDATE=false", "NO_COLOR=1",
		"BYOKCRED_AGENT_SOCK=" + socket, "BYOKCRED_CONFIG=" + cfg,
		"TEAM=e2e", // the agent sends the header as ${TEAM}: the program expands it
	}
	agentEnv := env
	for k, v := range idp.Env() {
		agentEnv = append(agentEnv, k+"="+v)
	}
	ap := startAgentProc(t, bin, agentEnv, socket, "-c", cfg, "--log-level", "debug")

	prog := exec.Command(node, filepath.Join("dist", "examples", "long-running.js"), "foundry")
	prog.Dir, prog.Env = nodeClientDir, env // no identity endpoint: only the agent has it
	stdin, err := prog.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := prog.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	prog.Stderr = &stderr
	if err := prog.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { prog.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			prog.Process.Kill()
			<-done
		}
	}()
	lines := bufio.NewScanner(stdout)
	type result struct {
		Reply *string `json:"reply"`
		Error *string `json:"error"`
	}
	turn := func(i int) result {
		t.Helper()
		if _, err := io.WriteString(stdin, "Turn "+itoa(i)+": say hello.\n"); err != nil {
			t.Fatalf("turn %d: %v\nprogram stderr:\n%s", i, err, &stderr)
		}
		if !lines.Scan() {
			t.Fatalf("turn %d: the program ended: %v\nstderr:\n%s\nagent log:\n%s", i, lines.Err(), &stderr, ap.log)
		}
		var r result
		if err := json.Unmarshal(lines.Bytes(), &r); err != nil {
			t.Fatalf("turn %d: %q: %v", i, lines.Text(), err)
		}
		return r
	}
	ok := func(i int) {
		t.Helper()
		if r := turn(i); r.Reply == nil || *r.Reply != reply {
			t.Fatalf("turn %d: %+v, want the reply\nprogram stderr:\n%s\nagent log:\n%s", i, r, &stderr, ap.log)
		}
	}

	t0 := time.Now()
	ok(0) // the runtime's start, outside the measured run
	t.Logf("first turn after %s", time.Since(t0).Round(100*time.Millisecond))
	start := time.Now()
	turns := 0
	for time.Since(start) < 10*time.Second || turns < 3 {
		turns++
		ok(turns)
	}
	elapsed := time.Since(start)
	reqs := model.Requests()
	distinct := map[string]bool{}
	for _, r := range reqs {
		h, v := r.Credential()
		distinct[v] = true
		if h != "Authorization" || r.Path != "/openai/v1/chat/completions" || r.Header.Get("X-Team") != "e2e" {
			t.Errorf("request %s: credential in %q, X-Team %q; want Authorization on /openai/v1/chat/completions with the config's header", r.Path, h, r.Header.Get("X-Team"))
		}
	}
	if n := rejected.Load(); n != 0 {
		t.Errorf("%d requests reached the model with an invalid token", n)
	}
	if len(distinct) < 3 {
		t.Errorf("tokens did not rotate: %d distinct over %d requests in %s", len(distinct), len(reqs), elapsed)
	}
	if first := idp.Issued()[0]; idp.Check(first.Token, reqs[len(reqs)-1].Time) == nil {
		t.Errorf("the first token was still valid at the last request: the run did not outlive a token")
	}
	// Every request's token came from the agent: one per model request,
	// plus the one providerConfig fetched to check the credential.
	if served := strings.Count(ap.log.String(), "agent: served"); served != len(reqs)+1 {
		t.Errorf("the agent served %d credentials; want %d (one per model request + providerConfig's)", served, len(reqs)+1)
	}
	issued := idp.Issued()
	if fetches := idp.Requests(); fetches != len(issued) {
		t.Errorf("identity endpoint: %d requests for %d tokens", fetches, len(issued))
	}
	for i := 1; i < len(issued); i++ {
		prev := issued[i-1]
		due := prev.IssuedAt.Add(prev.Expiry.Sub(prev.IssuedAt) * 45 / 100)
		if issued[i].IssuedAt.Before(due.Add(-100 * time.Millisecond)) {
			t.Errorf("token %d fetched %s after token %d, before its refresh point: more than one fetch per lifetime",
				i, issued[i].IssuedAt.Sub(prev.IssuedAt).Round(time.Millisecond), i-1)
		}
	}
	t.Logf("%d turns over %s, %d model requests, %d distinct tokens, %d identity fetches (lifetime %s)",
		turns, elapsed.Round(100*time.Millisecond), len(reqs), len(distinct), idp.Requests(), lifetime)

	// The agent stops: the turn fails with the client's error, which names
	// the provider, the socket and the command that starts the agent.
	ap.cmd.Process.Signal(os.Interrupt)
	<-ap.done
	before := len(model.Requests())
	t1 := time.Now()
	r := turn(turns + 1)
	if r.Error != nil {
		t.Logf("agent stopped: the turn failed after %s: %s", time.Since(t1).Round(100*time.Millisecond), *r.Error)
	}
	want := `byokcred: provider "foundry": no byokcred agent is running on ` + socket + `; start it: byokcred -c ` + cfg + ` agent &`
	if r.Error == nil || !strings.Contains(*r.Error, want) {
		t.Errorf("agent stopped: turn answered %+v; want an error containing %q", r, want)
	}
	if n := len(model.Requests()) - before; n != 0 {
		t.Errorf("agent stopped: %d requests reached the model", n)
	}

	// Restarted, the same session recovers.
	ap = startAgentProc(t, bin, agentEnv, socket, "-c", cfg, "--log-level", "debug")
	ok(turns + 2)
	if n := rejected.Load(); n != 0 {
		t.Errorf("%d requests reached the model with an invalid token", n)
	}
	for _, is := range idp.Issued() {
		if strings.Contains(ap.log.String(), is.Token) || strings.Contains(stderr.String(), is.Token) {
			t.Fatal("an Entra token reached the agent's debug log or the program's stderr")
		}
	}
}

// TestREADMETypeScriptExample: the README's TypeScript example is the
// program TestTypeScriptSDKThroughAgent runs, word for word from its first
// import.
func TestREADMETypeScriptExample(t *testing.T) {
	t.Parallel()
	prog, err := os.ReadFile(filepath.Join(nodeClientDir, "src", "examples", "long-running.ts"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, code, ok := strings.Cut(string(prog), "\nimport ")
	if !ok {
		t.Fatal("long-running.ts has no import")
	}
	if !strings.Contains(string(readme), "```ts\nimport "+code+"```\n") {
		t.Error("README.md's TypeScript example differs from clients/node/src/examples/long-running.ts (from its first import to its end); copy the program into the README")
	}
}
