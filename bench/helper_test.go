package bench

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
)

// Figure 9's invocation counts per iteration: the agent leg and the floor
// make 1,000 invocations each, within one token lifetime; the leg without
// the agent, which fetches from the identity endpoint every time, runs
// after every tenth pair, and its fetch count is scaled to 1,000 by its
// measured rate.
const (
	helperInvocations = 1000
	helperAloneEvery  = 10
)

// BenchmarkKeyCommand is figure 9: the wall time of the command the Copilot
// CLI runs before every model request (COPILOT_PROVIDER_API_KEY_COMMAND),
// measured as whole processes: `byokcred credential` answered by a running
// `byokcred agent`, the same command working alone (--agent off: load the
// config, fetch from the identity endpoint), and the floor of starting the
// same binary (`byokcred --version`). The three legs are interleaved.
// Identity fetches are counted at the fake endpoint, per scope (the two
// credential legs use two providers with scopes of their own): one-hour
// tokens, so every invocation falls within one token lifetime.
func BenchmarkKeyCommand(b *testing.B) {
	bin := binary(b, "byokcred")
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
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range idp.Env() {
		env = append(env, k+"="+v)
	}
	agentRuns := helperInvocations
	if testing.Short() {
		agentRuns = 30
	}
	aloneRuns := (agentRuns + helperAloneEvery - 1) / helperAloneEvery
	run := func(args ...string) time.Duration {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &stderr
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		if err != nil || out.Len() == 0 {
			b.Fatalf("byokcred %v: %v\n%s", args, err, stderr.Bytes())
		}
		return d
	}
	var agentP50, agentP99, floorP50, floorP99, aloneP50, aloneP99, ratio50, ratio99, agentFetches, aloneFetches float64
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
		var floor, withAgent, alone []time.Duration
		for j := 0; j < agentRuns; j++ {
			floor = append(floor, run("--version"))
			withAgent = append(withAgent, run("-c", cfg, "credential", "--socket", socket, "--agent", "require", "foundry"))
			if j%helperAloneEvery == 0 {
				alone = append(alone, run("-c", cfg, "credential", "--agent", "off", "alone"))
			}
		}
		agent.Process.Signal(syscall.SIGTERM)
		agent.Wait()
		fetchesWithAgent := fetches("https://keycmd-bench.cognitiveservices.example") - agentBefore
		fetchesAlone := fetches("https://keycmd-bench-alone.cognitiveservices.example") - aloneBefore
		fp50, fp99 := percentile(floor, 50), percentile(floor, 99)
		ap50, ap99 := percentile(withAgent, 50), percentile(withAgent, 99)
		floorP50, floorP99 = floorP50+fp50, floorP99+fp99
		agentP50, agentP99 = agentP50+ap50, agentP99+ap99
		aloneP50, aloneP99 = aloneP50+percentile(alone, 50), aloneP99+percentile(alone, 99)
		ratio50, ratio99 = ratio50+ap50/fp50, ratio99+ap99/fp99
		agentFetches += float64(fetchesWithAgent)
		aloneFetches += float64(fetchesAlone) / float64(aloneRuns) * float64(agentRuns)
	}
	n := float64(b.N)
	b.ReportMetric(agentP50/n, "agent-p50-ns")
	b.ReportMetric(agentP99/n, "agent-p99-ns")
	b.ReportMetric(floorP50/n, "floor-p50-ns")
	b.ReportMetric(floorP99/n, "floor-p99-ns")
	b.ReportMetric(aloneP50/n, "alone-p50-ns")
	b.ReportMetric(aloneP99/n, "alone-p99-ns")
	b.ReportMetric(ratio50/n, "agent/floor-p50")
	b.ReportMetric(ratio99/n, "agent/floor-p99")
	b.ReportMetric(agentFetches/n, "agent-fetches")
	b.ReportMetric(aloneFetches/n, "alone-fetches")
	b.ReportMetric(float64(agentRuns), "invocations")
	b.ReportMetric(float64(aloneRuns), "alone-invocations")
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
