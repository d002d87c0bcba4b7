package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/byokcred/byokcred/copilotcli"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
)

// outlivedFirstToken reports whether model received 3 distinct tokens and
// its last request came after idp's first token expired: what an
// end-to-end run through rotating tokens waits for before its checks.
func outlivedFirstToken(idp *fakeidentity.Server, model *fakemodel.Server) bool {
	reqs := model.Requests()
	distinct := map[string]bool{}
	for _, r := range reqs {
		_, v := r.Credential()
		distinct[v] = true
	}
	issued := idp.Issued()
	return len(issued) > 0 && len(reqs) > 0 && len(distinct) >= 3 && idp.Check(issued[0].Token, reqs[len(reqs)-1].Time) != nil
}

// TestCopilotCLIKeyCommand is issue 15's scenario: the real Copilot CLI,
// offline, configured by `eval "$(byokcred copilot-env foundry)"`, runs
// `copilot -p` turns, until they have outlived a token, against an
// Entra-protected Azure provider whose identity endpoint issues 6-second
// tokens. The CLI runs the key command (`byokcred credential`) before every
// model request.
//
// With the agent running, every request carries a valid token, tokens
// rotate, every helper call is answered by the agent, and the identity
// endpoint sees one fetch per rotation, not one per request. Then the agent
// is killed: the next turn still succeeds, each helper fetching alone.
func TestCopilotCLIKeyCommand(t *testing.T) {
	t.Parallel() // sets no process env, cwd or signal
	if testing.Short() {
		t.Skip("-short: no Copilot runtime")
	}
	copilotBin, err := copilotcli.Find()
	if err != nil {
		t.Fatal(err)
	}
	bin := byokcredBinary(t)
	const lifetime = 6 * time.Second
	const reply = "Hello through the key command."
	idp, model, rejected := startCheckedModel(t, lifetime, reply)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "byokcred.yaml")
	os.WriteFile(cfg, []byte(`providers:
  foundry:
    type: azure
    base_url: `+model.URL+`
    model: gpt-4.1
    auth:
      type: entra
      credential: managed_identity
      scope: https://keycmd-e2e.cognitiveservices.example/.default
`), 0o600)
	socket := filepath.Join(dir, "run", "agent.sock")

	// Built from nothing, as in TestCopilotCLIThroughProxy: no GitHub
	// token, a home of its own. copilot-env adds COPILOT_OFFLINE=true.
	home := t.TempDir()
	cache, err := os.UserCacheDir() // the unpacked runtime is reused from here
	if err != nil {
		cache = filepath.Join(home, ".cache")
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_STATE_HOME=" + filepath.Join(home, ".state"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".data"), "XDG_CACHE_HOME=" + cache,
		"COPILOT_AUTO_UPDATE=false", "NO_COLOR=1",
		"BYOKCRED_AGENT_SOCK=" + socket,
	}
	for k, v := range idp.Env() {
		env = append(env, k+"="+v)
	}
	ap := startAgentProc(t, bin, env, socket, "-c", cfg, "--log-level", "debug")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	work := t.TempDir()
	turn := func(i int) {
		t.Helper()
		// Exactly what the README says to type.
		script := `eval "$("$BYOKCRED" -c "$CFG" copilot-env foundry)" && exec "$COPILOT" -p "$PROMPT" -s ` +
			`--available-tools=none --no-auto-update --no-custom-instructions --disable-builtin-mcps`
		cmd := exec.CommandContext(ctx, "sh", "-c", script)
		cmd.Env = append(env, "BYOKCRED="+bin, "CFG="+cfg, "COPILOT="+copilotBin, "PROMPT=Turn "+itoa(i)+": say hello.")
		cmd.Dir, cmd.Stdin = work, strings.NewReader("")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != reply {
			t.Fatalf("turn %d: %v\n%s\nagent log:\n%s", i, err, out, ap.log)
		}
	}

	start := time.Now()
	turns := 0
	// Turns until what the checks below need has happened: at least 3
	// turns (on a loaded machine one `copilot -p` can take longer than a
	// token lives), 3 distinct tokens, and a last request after the first
	// token expired — about 7 s of a 6 s lifetime, not a fixed 20 s. The
	// bound only stops a run whose tokens never rotate; the checks then
	// fail.
	for turns < 3 || (!outlivedFirstToken(idp, model) && time.Since(start) < 60*time.Second) {
		turns++
		turn(turns)
	}
	elapsed := time.Since(start)
	reqs := model.Requests()
	fetches := idp.Requests()
	distinct := map[string]bool{}
	for _, r := range reqs {
		h, v := r.Credential()
		distinct[v] = true
		// An Entra token cannot be an api-key: copilot-env must have chosen
		// the OpenAI-compatible v1 route, where it goes in Authorization.
		if h != "Authorization" || r.Path != "/openai/v1/chat/completions" {
			t.Errorf("request %s carried the credential in %q; want Authorization on /openai/v1/chat/completions", r.Path, h)
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
	// Every helper call (one per model request) was answered by the
	// agent: none fetched alone. copilot-env asked for none: an Entra
	// credential is a bearer token, known from the config.
	if served := strings.Count(ap.log.String(), "agent: served"); served != len(reqs) {
		t.Errorf("the agent served %d credentials; want %d (one per request, none for copilot-env)", served, len(reqs))
	}
	// One fetch per rotation: no token was fetched before the one before
	// it reached its refresh point (half its life, up to 10 % earlier with
	// jitter), however many helpers asked in between.
	issued := idp.Issued()
	if fetches != len(issued) {
		t.Errorf("identity endpoint: %d requests for %d tokens", fetches, len(issued))
	}
	for i := 1; i < len(issued); i++ {
		prev := issued[i-1]
		due := prev.IssuedAt.Add(prev.Expiry.Sub(prev.IssuedAt) * 45 / 100)
		if issued[i].IssuedAt.Before(due.Add(-100 * time.Millisecond)) {
			t.Errorf("token %d fetched %s after token %d, before its refresh point (%s): more than one fetch per rotation",
				i, issued[i].IssuedAt.Sub(prev.IssuedAt).Round(time.Millisecond), i-1, due.Sub(prev.IssuedAt).Round(time.Millisecond))
		}
	}
	t.Logf("with the agent: %d turns over %s, %d model requests, %d distinct tokens, %d identity fetches (lifetime %s)",
		turns, elapsed.Round(100*time.Millisecond), len(reqs), len(distinct), fetches, lifetime)

	// The agent dies mid-run, leaving its socket: the next turn succeeds,
	// each helper fetching for itself.
	ap.cmd.Process.Kill()
	<-ap.done
	turn(turns + 1)
	afterReqs := len(model.Requests()) - len(reqs)
	afterFetches := idp.Requests() - fetches
	if afterReqs == 0 || afterFetches < afterReqs {
		t.Errorf("without the agent: %d identity fetches for %d model requests; want one per request at least", afterFetches, afterReqs)
	}
	if n := rejected.Load(); n != 0 {
		t.Errorf("%d requests reached the model with an invalid token", n)
	}
	t.Logf("agent killed: 1 turn, %d model requests, %d identity fetches", afterReqs, afterFetches)

	// The control, why copilot-env changes the type: left as type azure,
	// the CLI sends the key command's output as api-key, where an Entra
	// token is no use.
	before := len(model.Requests())
	script := `eval "$("$BYOKCRED" -c "$CFG" copilot-env foundry)" && COPILOT_PROVIDER_TYPE=azure COPILOT_PROVIDER_BASE_URL="$MODEL" ` +
		`exec "$COPILOT" -p "say hello" -s --available-tools=none --no-auto-update --no-custom-instructions --disable-builtin-mcps`
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Env = append(env, "BYOKCRED="+bin, "CFG="+cfg, "COPILOT="+copilotBin, "MODEL="+model.URL)
	cmd.Dir, cmd.Stdin = work, strings.NewReader("")
	if out, err := cmd.CombinedOutput(); err == nil && strings.TrimSpace(string(out)) == reply {
		t.Errorf("control: type azure with an Entra token succeeded; copilot-env's type change would be needless")
	}
	control := model.Requests()[before:]
	if len(control) == 0 {
		t.Fatal("control: the CLI sent no request")
	}
	if h, _ := control[0].Credential(); h != "api-key" {
		t.Errorf("control: type azure sent the key command's output in %q, want api-key", h)
	}
	rejected.Store(0) // the control's requests were meant to be refused

	for _, is := range idp.Issued() {
		if strings.Contains(ap.log.String(), is.Token) {
			t.Fatal("an Entra token reached the agent's debug log")
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
