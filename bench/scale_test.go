package bench

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	copilot "github.com/github/copilot-sdk/go"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// scaleSizes are the provider counts of figure 6.
var scaleSizes = []int{10, 100, 1_000, 10_000}

// scaleYAML is a config with n providers, each with its own static key (so
// n sources), cycling through the three provider types. It is written in
// flow style with the base URL as a YAML alias: 10,000 providers must fit
// config.MaxFileSize (1 MiB), which they do not in block style.
func scaleYAML(n int) []byte {
	var sb strings.Builder
	sb.WriteString("providers:\n")
	types := []string{"openai", "azure", "anthropic"}
	for i := range n {
		url := "*u"
		if i == 0 {
			url = "&u http://127.0.0.1:9"
		}
		fmt.Fprintf(&sb, "  p%d: {type: %s, base_url: %s, model: m, auth: {type: static, api_key_env: K%d}}\n", i, types[i%3], url, i)
	}
	fmt.Fprintf(&sb, "default_model: p0/m\n")
	return []byte(sb.String())
}

// scaleEnv answers every K<n> with a key of realistic length.
func scaleEnv(name string) (string, bool) {
	if _, err := strconv.Atoi(strings.TrimPrefix(name, "K")); err != nil || !strings.HasPrefix(name, "K") {
		return "", false
	}
	return "sk-bench-" + name + "-0123456789abcdef0123456789abcdef", true
}

// buildAll is the measured work of figure 6: parse and validate the file,
// build every provider's source (registry.New), build a single-provider
// session config for every provider (Factory.SessionConfig, which acquires
// each credential) and one multi-provider session config over all of them
// (Factory.MultiSessionConfig).
func buildAll(ctx context.Context, data []byte, names []string) (*registry.Set, []*copilot.SessionConfig, error) {
	cfg, err := config.Parse("scale.yaml", data, scaleEnv)
	if err != nil {
		return nil, nil, err
	}
	set, err := registry.New(cfg, registry.Options{LookupEnv: scaleEnv})
	if err != nil {
		return nil, nil, err
	}
	f := session.NewFactory(set, session.Options{})
	out := make([]*copilot.SessionConfig, 0, len(names)+1)
	for _, name := range names {
		sc, err := f.SessionConfig(ctx, name, nil)
		if err != nil {
			set.Close()
			return nil, nil, err
		}
		out = append(out, sc)
	}
	multi, err := f.MultiSessionConfig(ctx, "", nil)
	if err != nil {
		set.Close()
		return nil, nil, err
	}
	if len(multi.Providers) != len(names) {
		set.Close()
		return nil, nil, fmt.Errorf("multi-provider config has %d providers, want %d", len(multi.Providers), len(names))
	}
	return set, append(out, multi), nil
}

// BenchmarkScale is figure 6: the cost of loading a config of n providers
// and building session configs for all of them (buildAll, then closing the
// set), per op and per provider. bytes/provider is allocation per provider
// and op; retained-bytes/provider is the heap the loaded set and its
// session configs keep alive.
func BenchmarkScale(b *testing.B) {
	ctx := context.Background()
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("providers=%d", n), func(b *testing.B) {
			data := scaleYAML(n)
			if len(data) > config.MaxFileSize {
				b.Fatalf("%d providers take %d bytes, more than config.MaxFileSize", n, len(data))
			}
			names := make([]string, n)
			for i := range names {
				names[i] = fmt.Sprintf("p%d", i)
			}
			retained := retainedBytes(b, func() (func(), error) {
				set, cfgs, err := buildAll(ctx, data, names)
				if err != nil {
					return nil, err
				}
				return func() { runtime.KeepAlive(cfgs); set.Close() }, nil
			})
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				set, _, err := buildAll(ctx, data, names)
				if err != nil {
					b.Fatal(err)
				}
				set.Close()
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms1)
			ops := float64(b.N) * float64(n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/ops, "ns/provider")
			b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/ops, "bytes/provider")
			b.ReportMetric(float64(retained)/float64(n), "retained-bytes/provider")
			b.ReportMetric(float64(len(data))/float64(n), "yaml-bytes/provider")
		})
	}
}

// retainedBytes measures the live heap that what build returns holds (until
// its release function runs).
func retainedBytes(b *testing.B, build func() (func(), error)) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	release, err := build()
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	release()
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}
