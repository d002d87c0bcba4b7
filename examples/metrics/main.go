// Command metrics wires byokcred's OpenTelemetry metrics to the stdout
// exporter: it loads a config, acquires each provider's credential, and
// prints the metrics as JSON. Swap the exporter for Prometheus or OTLP in a
// real service.
//
//	go run ./examples/metrics -c byokcred.yaml
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/byokcred/byokcred/metrics"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"

	// Every built-in credential kind and secret store: the example takes
	// any config, the README's static-key one included.
	_ "github.com/byokcred/byokcred/builtin"
)

func main() {
	path := flag.String("c", "byokcred.yaml", "config file")
	flag.Parse()
	if err := run(context.Background(), *path, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, path string, out io.Writer) error {
	exporter, err := stdoutmetric.New(stdoutmetric.WithWriter(out), stdoutmetric.WithPrettyPrint())
	if err != nil {
		return err
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(ctx)
	m, err := metrics.New(mp)
	if err != nil {
		return err
	}
	set, err := registry.Load(path, registry.Options{OnFetch: m.OnFetch})
	if err != nil {
		return err
	}
	defer set.Close()
	reg, err := m.Observe(set)
	if err != nil {
		return err
	}
	defer reg.Unregister()

	factory := session.NewFactory(set, session.Options{})
	for _, name := range set.Names() {
		p, _ := set.Provider(name)
		if p.Cache == nil {
			// A static key is read where it lies, not fetched: there is
			// no cache, so no token metrics to show for it.
			fmt.Fprintf(os.Stderr, "%s: %s credential, read not fetched: no token metrics\n", name, p.AuthType)
		}
		if _, err := factory.Token(ctx, p); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		}
	}
	// A service would use sdkmetric.NewPeriodicReader(exporter) instead.
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	return exporter.Export(ctx, &rm)
}
