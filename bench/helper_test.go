package bench

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
)

// Figure 11's invocation counts per iteration: the key command with the
// agent, byokcred --version and the floor make 1,000 invocations each,
// alternating, within one token lifetime; the key command without an
// agent, which fetches from the identity endpoint every time, runs after
// every tenth round, and its fetch count is scaled to 1,000 by its
// measured rate. Every tenth round also runs the three programs once more
// with GODEBUG=inittrace=1, untimed, for their package initialisation.
const (
	helperInvocations = 1000
	helperAloneEvery  = 10
)

// BenchmarkKeyCommand is figure 11: the wall time of the command the
// Copilot CLI runs before every model request
// (COPILOT_PROVIDER_API_KEY_COMMAND), measured as whole processes, as
// copilot-env prints it: byokcred-credential answered by a running
// `byokcred agent`; the same command with no agent (it hands the command to
// byokcred, which loads the config and fetches from the identity endpoint);
// `byokcred --version`, the full binary's start-up; and the floor, a minimal
// Go program (bench/internal/hello) built in the same run. The legs
// alternate. Identity fetches are counted at the fake endpoint, per scope
// (the two credential legs use two providers with scopes of their own):
// one-hour tokens, so every invocation falls within one token lifetime.
func BenchmarkKeyCommand(b *testing.B) {
	bin := binary(b, "byokcred")
	keyCmd := binary(b, "byokcred-credential") // next to byokcred, as installed
	hello := binary(b, "hello")
	idp, err := fakeidentity.Start(fakeidentity.Options{Lifetime: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer idp.Close()
	dir := b.TempDir()
	cfg := filepath.Join(dir, "byokcred.yaml")
	os.WriteFile(cfg, []byte(`providers:
  foundry:
    type: azure
    base_url: https://127.0.0.1:9
    model: gpt-4.1
    auth:
      type: entra
      credential: managed_identity
      scope: https://keycmd-bench.cognitiveservices.example/.default
  alone:
    type: azure
    base_url: https://127.0.0.1:9
    model: gpt-4.1
    auth:
      type: entra
      credential: managed_identity
      scope: https://keycmd-bench-alone.cognitiveservices.example/.default
`), 0o600)
	fetches := func(resource string) int {
		n := 0
		for _, is := range idp.Issued() {
			if is.Resource == resource {
				n++
			}
		}
		return n
	}
	socket := filepath.Join(dir, "run", "agent.sock")
	noAgent := filepath.Join(dir, "none", "agent.sock")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range idp.Env() {
		env = append(env, k+"="+v)
	}
	agentRuns := helperInvocations
	if testing.Short() {
		agentRuns = 30
	}
	aloneRuns := (agentRuns + helperAloneEvery - 1) / helperAloneEvery
	withAgentArgs := []string{"-c", cfg, "credential", "--agent", "require", "--socket", socket, "foundry"}
	withoutAgentArgs := []string{"-c", cfg, "credential", "--agent", "auto", "--socket", noAgent, "alone"}
	run := func(prog string, args ...string) time.Duration {
		cmd := exec.Command(prog, args...)
		cmd.Env = env
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil || out.Len() == 0 {
			b.Fatalf("%s %v: %v\n%s", filepath.Base(prog), args, err, stderr.Bytes())
		}
		return d
	}
	// initNs runs prog once with GODEBUG=inittrace=1 and returns the sum of
	// its packages' init clock times, and whether any package of this
	// module other than the key command's own was initialised.
	initNs := func(prog string, args ...string) (float64, bool) {
		cmd := exec.Command(prog, args...)
		cmd.Env = append(slices.Clone(env), "GODEBUG=inittrace=1")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s %v with inittrace: %v\n%s", filepath.Base(prog), args, err, stderr.Bytes())
		}
		var ns float64
		full := false
		for line := range strings.Lines(stderr.String()) {
			m := initTraceLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			ms, _ := strconv.ParseFloat(m[2], 64)
			ns += ms * 1e6
			full = full || strings.HasPrefix(m[1], "github.com/byokcred/byokcred/registry")
		}
		return ns, full
	}
	var agentP50, agentP99, versionP50, versionP99, floorP50, floorP99, aloneP50, aloneP99 float64
	var ratio50, ratio99, versionRatio50, agentFetches, aloneFetches float64
	var versionInit, keyInit, floorInit float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A fresh agent each iteration: its first fetch counts.
		agentBefore := fetches("https://keycmd-bench.cognitiveservices.example")
		aloneBefore := fetches("https://keycmd-bench-alone.cognitiveservices.example")
		agent := exec.Command(bin, "-c", cfg, "agent", "--socket", socket)
		agent.Env = env
		if err := agent.Start(); err != nil {
			b.Fatal(err)
		}
		waitListening(b, socket)
		var floor, withAgent, version, alone []time.Duration
		var versionInits, keyInits, floorInits []float64
		for j := 0; j < agentRuns; j++ {
			floor = append(floor, run(hello))
			withAgent = append(withAgent, run(keyCmd, withAgentArgs...))
			version = append(version, run(bin, "--version"))
			if j%helperAloneEvery == 0 {
				alone = append(alone, run(keyCmd, withoutAgentArgs...))
				ns, _ := initNs(bin, "--version")
				versionInits = append(versionInits, ns)
				ns, full := initNs(keyCmd, withAgentArgs...)
				if full {
					b.Fatal("byokcred-credential handed the agent's case to byokcred: the figure would time the full binary")
				}
				keyInits = append(keyInits, ns)
				ns, _ = initNs(hello)
				floorInits = append(floorInits, ns)
			}
		}
		agent.Process.Signal(syscall.SIGTERM)
		agent.Wait()
		fetchesWithAgent := fetches("https://keycmd-bench.cognitiveservices.example") - agentBefore
		fetchesAlone := fetches("https://keycmd-bench-alone.cognitiveservices.example") - aloneBefore
		fp50, fp99 := percentile(floor, 50), percentile(floor, 99)
		ap50, ap99 := percentile(withAgent, 50), percentile(withAgent, 99)
		vp50, vp99 := percentile(version, 50), percentile(version, 99)
		floorP50, floorP99 = floorP50+fp50, floorP99+fp99
		agentP50, agentP99 = agentP50+ap50, agentP99+ap99
		versionP50, versionP99 = versionP50+vp50, versionP99+vp99
		aloneP50, aloneP99 = aloneP50+percentile(alone, 50), aloneP99+percentile(alone, 99)
		ratio50, ratio99 = ratio50+ap50/fp50, ratio99+ap99/fp99
		versionRatio50 += vp50 / fp50
		versionInit += median(versionInits)
		keyInit += median(keyInits)
		floorInit += median(floorInits)
		agentFetches += float64(fetchesWithAgent)
		aloneFetches += float64(fetchesAlone) / float64(aloneRuns) * float64(agentRuns)
	}
	n := float64(b.N)
	b.ReportMetric(agentP50/n, "agent-p50-ns")
	b.ReportMetric(agentP99/n, "agent-p99-ns")
	b.ReportMetric(floorP50/n, "floor-p50-ns")
	b.ReportMetric(floorP99/n, "floor-p99-ns")
	b.ReportMetric(versionP50/n, "version-p50-ns")
	b.ReportMetric(versionP99/n, "version-p99-ns")
	b.ReportMetric(aloneP50/n, "alone-p50-ns")
	b.ReportMetric(aloneP99/n, "alone-p99-ns")
	b.ReportMetric(ratio50/n, "agent/floor-p50")
	b.ReportMetric(ratio99/n, "agent/floor-p99")
	b.ReportMetric(versionRatio50/n, "version/floor-p50")
	b.ReportMetric(versionInit/n, "version-init-ns")
	b.ReportMetric(keyInit/n, "agent-init-ns")
	b.ReportMetric(floorInit/n, "floor-init-ns")
	b.ReportMetric(agentFetches/n, "agent-fetches")
	b.ReportMetric(aloneFetches/n, "alone-fetches")
	b.ReportMetric(float64(agentRuns), "invocations")
	b.ReportMetric(float64(aloneRuns), "alone-invocations")
}

// initTraceLine is one line of GODEBUG=inittrace=1's output: the package
// and its init's clock time in ms.
var initTraceLine = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock, `)

// median is the median of vs (0 for none).
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// percentile is the p-th percentile of ds in ns (nearest rank).
func percentile(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	return float64(s[max(i, 0)].Nanoseconds())
}

func waitListening(tb testing.TB, socket string) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal(fmt.Errorf("agent not listening on %s after 15s", socket))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
