package admin

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// The standard OpenTelemetry variables that decide whether metrics are
// exported over OTLP, and how. The exporter reads the others itself
// (headers, TLS, timeouts, compression, temporality), and the periodic
// reader its interval (OTEL_METRIC_EXPORT_INTERVAL).
const (
	envEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envMetricsEndpoint = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	envProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envMetricsProtocol = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	envMetricsExporter = "OTEL_METRICS_EXPORTER"
)

// OTLP protocols (OTEL_EXPORTER_OTLP_PROTOCOL's values) this binary speaks.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

// OTLPReader returns a periodic reader that exports the metrics over OTLP
// when the standard variables, read through lookupEnv, ask for it: an
// endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_METRICS_ENDPOINT) or OTEL_METRICS_EXPORTER lists otlp,
// and OTEL_METRICS_EXPORTER, when set, lists otlp (so "none" turns it
// off). Otherwise it returns nil, nil. The protocol is
// OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL:
// http/protobuf (the default) or grpc; any other value is an error naming
// the variable. The exporter reads its endpoint, headers and TLS from the
// process's environment itself. It also returns the protocol, for the
// start-up line. Shutting the meter provider down flushes the reader.
func OTLPReader(ctx context.Context, lookupEnv func(string) (string, bool)) (sdkmetric.Reader, string, error) {
	get := func(k string) string {
		v, _ := lookupEnv(k)
		return strings.TrimSpace(v)
	}
	if !otlpAsked(get) {
		return nil, "", nil
	}
	protoVar, proto := envMetricsProtocol, get(envMetricsProtocol)
	if proto == "" {
		protoVar, proto = envProtocol, get(envProtocol)
	}
	var exp sdkmetric.Exporter
	var err error
	switch proto {
	case "", ProtocolHTTP:
		proto = ProtocolHTTP
		exp, err = otlpmetrichttp.New(ctx)
	case ProtocolGRPC:
		exp, err = otlpmetricgrpc.New(ctx)
	default:
		return nil, "", fmt.Errorf("admin: %s=%q: this binary exports metrics over OTLP as %s or %s; set one of them (or unset it for %s)", protoVar, proto, ProtocolHTTP, ProtocolGRPC, ProtocolHTTP)
	}
	if err != nil {
		return nil, "", fmt.Errorf("admin: the OTLP metric exporter (%s): %w; check the OTEL_EXPORTER_OTLP_* variables", proto, err)
	}
	return sdkmetric.NewPeriodicReader(exp), proto, nil
}

// otlpAsked reports whether the variables ask for OTLP metrics. An
// endpoint alone asks (OTEL_METRICS_EXPORTER's default is otlp), but a
// developer's machine with none of them set exports nothing.
func otlpAsked(get func(string) string) bool {
	endpoint := get(envEndpoint) != "" || get(envMetricsEndpoint) != ""
	list := get(envMetricsExporter)
	if list == "" {
		return endpoint
	}
	exporters := strings.Split(list, ",")
	for i := range exporters {
		exporters[i] = strings.TrimSpace(exporters[i])
	}
	return slices.Contains(exporters, "otlp") && !slices.Contains(exporters, "none")
}
