package metrics_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
	"github.com/byokcred/byokcred/internal/testkit/plugintest"
	"github.com/byokcred/byokcred/metrics"
	"github.com/byokcred/byokcred/registry"

	// The credential kinds its configs use.
	_ "github.com/byokcred/byokcred/auth/entra"
	_ "github.com/byokcred/byokcred/auth/plugin"
)

func TestMetrics(t *testing.T) {
	idp, err := fakeidentity.Start(fakeidentity.Options{Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer idp.Close()
	idp.Setenv(t)
	bin, err := plugintest.Build("exec")
	if err != nil {
		t.Fatal(err)
	}
	defer plugintest.Cleanup()
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte(`plugins:
  p: {command: `+bin+`, env: {PATH: /usr/bin:/bin}}
providers:
  foundry: {type: azure, base_url: https://x.openai.azure.com, model: m, auth: {type: entra, credential: managed_identity, scope: "https://metrics.example/.default"}}
  gw: {type: openai, base_url: https://gw.example, model: m, auth: {type: plugin, plugin: p, config: {command: /bin/echo, args: [tok]}}}
`), 0o600)

	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	m, err := metrics.New(mp)
	if err != nil {
		t.Fatal(err)
	}
	set, err := registry.Load(cfg, registry.Options{OnFetch: m.OnFetch})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	reg, err := m.Observe(set)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()

	for _, n := range []string{"foundry", "gw", "foundry"} {
		p, _ := set.Provider(n)
		if _, err := p.Source.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// Kill the plugin and force a fetch: one restart.
	gw, _ := set.Provider("gw")
	syscall.Kill(set.Processes()[0].PID, syscall.SIGKILL)
	time.Sleep(200 * time.Millisecond)
	gw.Cache.Invalidate(nil)
	if _, err := gw.Source.Token(context.Background()); err != nil {
		t.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	var expirySeconds float64
	var histCount uint64
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			switch d := md.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					key, _ := dp.Attributes.Value("provider")
					if key.AsString() == "" {
						key, _ = dp.Attributes.Value("plugin")
					}
					got[md.Name+"/"+key.AsString()] = dp.Value
				}
			case metricdata.Gauge[float64]:
				for _, dp := range d.DataPoints {
					if v, _ := dp.Attributes.Value("provider"); v.AsString() == "foundry" {
						expirySeconds = dp.Value
					}
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					histCount += dp.Count
				}
			}
		}
	}
	want := map[string]int64{
		"byokcred.token.fetches/foundry": 1, "byokcred.token.fetch.failures/foundry": 0, "byokcred.token.cache.hits/foundry": 1, "byokcred.token.waits/foundry": 1,
		"byokcred.token.fetches/gw": 2, "byokcred.token.fetch.failures/gw": 0, "byokcred.token.cache.hits/gw": 0, "byokcred.token.waits/gw": 2,
		"byokcred.plugin.starts/p": 2, "byokcred.plugin.restarts/p": 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
	if expirySeconds < 3500 || expirySeconds > 3600 {
		t.Errorf("foundry expiry gauge = %v s, want about an hour", expirySeconds)
	}
	if histCount != 3 {
		t.Errorf("fetch duration histogram count = %d, want 3", histCount)
	}
}
