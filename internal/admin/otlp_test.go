package admin_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	collectormetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/byokcred/byokcred/internal/admin"
	"github.com/byokcred/byokcred/metrics"
	"github.com/byokcred/byokcred/proxy"
	"github.com/byokcred/byokcred/registry"
)

// otlpReceiver is a loopback OTLP/HTTP metrics receiver: it keeps each
// export's path, content type and raw body.
type otlpReceiver struct {
	mu      sync.Mutex
	exports []otlpExport
}

type otlpExport struct {
	Path, ContentType string
	body              []byte
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	r.mu.Lock()
	r.exports = append(r.exports, otlpExport{Path: req.Method + " " + req.URL.Path, ContentType: req.Header.Get("Content-Type"), body: b})
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(nil) // an empty ExportMetricsServiceResponse
}

// points flattens exports to "name{attr=value,...}" → value: a sum's or
// gauge's value, a histogram's count (as name_count). The last export of a
// series wins (cumulative temporality).
func points(t *testing.T, exports []otlpExport) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	key := func(name string, attrs []*commonpb.KeyValue) string {
		var kv []string
		for _, a := range attrs {
			v := a.GetValue()
			s := v.GetStringValue()
			switch v.Value.(type) {
			case *commonpb.AnyValue_IntValue:
				s = fmt.Sprint(v.GetIntValue())
			case *commonpb.AnyValue_BoolValue:
				s = fmt.Sprint(v.GetBoolValue())
			}
			kv = append(kv, a.GetKey()+"="+s)
		}
		sort.Strings(kv)
		return name + "{" + strings.Join(kv, ",") + "}"
	}
	for _, e := range exports {
		var req collectormetrics.ExportMetricsServiceRequest
		if err := proto.Unmarshal(e.body, &req); err != nil {
			t.Fatalf("the export's body is not an OTLP ExportMetricsServiceRequest: %v", err)
		}
		for _, rm := range req.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					for _, dp := range m.GetSum().GetDataPoints() {
						out[key(m.GetName(), dp.GetAttributes())] = float64(dp.GetAsInt()) + dp.GetAsDouble()
					}
					for _, dp := range m.GetGauge().GetDataPoints() {
						out[key(m.GetName(), dp.GetAttributes())] = float64(dp.GetAsInt()) + dp.GetAsDouble()
					}
					for _, dp := range m.GetHistogram().GetDataPoints() {
						out[key(m.GetName(), dp.GetAttributes())+"_count"] = float64(dp.GetCount())
					}
				}
			}
		}
	}
	return out
}

// TestOTLPExportsAScriptedRun: with OTEL_EXPORTER_OTLP_ENDPOINT set, the
// metrics of a scripted proxy run (N requests with one token, M requests
// whose token the upstream refuses, each replayed with a fresh one) reach a
// loopback OTLP receiver as POST /v1/metrics with a protobuf body, when the
// meter provider shuts down (the export interval is an hour: only the
// flush sends them); no token appears in the body. It sets process
// environment (the exporter reads the standard variables itself), so it is
// not parallel.
func TestOTLPExportsAScriptedRun(t *testing.T) {
	const n, m = 4, 2
	rcv := &otlpReceiver{}
	collector := httptest.NewServer(rcv)
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "3600000")
	for _, k := range []string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_COMPRESSION"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}

	c := newClock()
	c.set(time.Now().Truncate(time.Second))
	_, name := newIDP(t, c, time.Hour)
	up := startUpstream(t)

	reader, protocol, err := admin.OTLPReader(context.Background(), os.LookupEnv)
	if err != nil || reader == nil || protocol != admin.ProtocolHTTP {
		t.Fatalf("OTLPReader = %v, %q, %v; want a reader, %s", reader, protocol, err, admin.ProtocolHTTP)
	}
	mp, _, err := admin.NewMeterProvider(reader)
	if err != nil {
		t.Fatal(err)
	}
	met, err := metrics.New(mp, metrics.WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	live := load(t, fmt.Sprintf(`providers:
  alpha: {type: openai, base_url: %s, model: m, auth: {type: admintest-scripted, idp: %q}}
  static: {type: openai, base_url: %s, model: m, auth: {type: static, api_key: %s-static}}
`, up.URL, name, up.URL, canaryToken), registry.Options{Now: c.now, Logger: slog.New(slog.DiscardHandler), OnFetch: met.OnFetch})
	obs, err := met.Observe(live)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Unregister()
	srv, err := proxy.New(proxy.Options{Providers: live, Metrics: met})
	if err != nil {
		t.Fatal(err)
	}
	px := httptest.NewServer(srv)
	defer px.Close()
	post := func(path string) {
		t.Helper()
		resp, err := http.Post(px.URL+path, "application/json", strings.NewReader(`{"model":"m","messages":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	for range n {
		post("/alpha/chat/completions")
	}
	for i := range m {
		up.revoke(fmt.Sprintf("%s-%d", canaryToken, i+1)) // the token in hand
		post("/alpha/chat/completions")
	}
	post("/static/chat/completions")
	// The proxy records a request once its handler returns, which may be
	// after the client has read the response: Close waits for the
	// handlers, as a stopping proxy does before the meter provider shuts
	// down.
	px.Close()

	rcv.mu.Lock()
	before := len(rcv.exports)
	rcv.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatalf("shutting the meter provider down (the last export): %v", err)
	}
	rcv.mu.Lock()
	exports := rcv.exports
	rcv.mu.Unlock()
	if before != 0 || len(exports) == 0 {
		t.Fatalf("exports before shutdown %d, after %d; want 0 (an hour's interval), then the flush", before, len(exports))
	}
	for _, e := range exports {
		type head struct{ Path, ContentType string }
		if diff := cmp.Diff(head{"POST /v1/metrics", "application/x-protobuf"}, head{e.Path, e.ContentType}); diff != "" {
			t.Errorf("export (-want +got):\n%s", diff)
		}
		if bytes.Contains(e.body, []byte(canaryToken)) {
			t.Errorf("a credential appeared in an OTLP export")
		}
	}
	got := points(t, exports)
	const alpha = "auth=admintest-scripted,provider=alpha"
	want := map[string]float64{
		`http.server.request.duration{http.request.method=POST,http.response.status_code=200,provider=alpha}_count`:  n + m,
		`http.server.request.duration{http.request.method=POST,http.response.status_code=200,provider=static}_count`: 1,
		`http.client.request.duration{http.request.method=POST,http.response.status_code=200,provider=alpha}_count`:  n + m,
		`http.client.request.duration{http.request.method=POST,http.response.status_code=401,provider=alpha}_count`:  m,
		`byokcred.proxy.replays{provider=alpha}`:                          m,
		`byokcred.token.fetches{` + alpha + `}`:                           1 + m,
		`byokcred.token.fetch.failures{` + alpha + `}`:                    0,
		`byokcred.token.fetch.duration{error=false,provider=alpha}_count`: 1 + m,
		`byokcred.token.expiry{` + alpha + `}`:                            3600,
	}
	picked := map[string]float64{}
	for k := range want {
		if v, ok := got[k]; ok {
			picked[k] = v
		}
	}
	if diff := cmp.Diff(want, picked); diff != "" {
		var names []string
		for k := range got {
			names = append(names, k)
		}
		sort.Strings(names)
		t.Errorf("exported metrics after %d requests, %d replays (-want +got):\n%s\nexported:\n%s", n, m, diff, strings.Join(names, "\n"))
	}
}

// TestOTLPReaderFollowsTheVariables: OTLP is off unless an endpoint
// variable or OTEL_METRICS_EXPORTER asks for it, off with
// OTEL_METRICS_EXPORTER=none; the metrics protocol variable wins over the
// general one; a protocol this binary does not speak is an error naming the
// variable that set it.
func TestOTLPReaderFollowsTheVariables(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		env       map[string]string
		wantProto string
		wantErr   string
	}{
		{"nothing set", nil, "", ""},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, admin.ProtocolHTTP, ""},
		{"metrics endpoint", map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:4318/v1/metrics"}, admin.ProtocolHTTP, ""},
		{"exporter otlp, default endpoint", map[string]string{"OTEL_METRICS_EXPORTER": "prometheus, otlp"}, admin.ProtocolHTTP, ""},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_METRICS_EXPORTER": "none"}, "", ""},
		{"exporter prometheus only", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_METRICS_EXPORTER": "prometheus"}, "", ""},
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, admin.ProtocolGRPC, ""},
		{"metrics protocol wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"}, admin.ProtocolGRPC, ""},
		{"http/json", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "",
			`admin: OTEL_EXPORTER_OTLP_PROTOCOL="http/json": this binary exports metrics over OTLP as http/protobuf or grpc; set one of them (or unset it for http/protobuf)`},
		{"unknown metrics protocol", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "udp"}, "",
			`admin: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="udp": this binary exports metrics over OTLP as http/protobuf or grpc; set one of them (or unset it for http/protobuf)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			reader, proto, err := admin.OTLPReader(context.Background(), lookup)
			if reader != nil {
				defer reader.Shutdown(context.Background())
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			type result struct {
				Reader     bool
				Proto, Err string
			}
			want := result{Reader: tc.wantProto != "", Proto: tc.wantProto, Err: tc.wantErr}
			if diff := cmp.Diff(want, result{Reader: reader != nil, Proto: proto, Err: gotErr}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// grpcReceiver is a loopback OTLP/gRPC metrics receiver.
type grpcReceiver struct {
	collectormetrics.UnimplementedMetricsServiceServer
	mu      sync.Mutex
	exports []otlpExport
}

func (r *grpcReceiver) Export(_ context.Context, req *collectormetrics.ExportMetricsServiceRequest) (*collectormetrics.ExportMetricsServiceResponse, error) {
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.exports = append(r.exports, otlpExport{Path: "Export", body: b})
	r.mu.Unlock()
	return &collectormetrics.ExportMetricsServiceResponse{}, nil
}

// TestOTLPExportsOverGRPC: with OTEL_EXPORTER_OTLP_PROTOCOL=grpc the
// instruments reach a loopback OTLP/gRPC receiver's MetricsService.Export
// at shutdown. It sets process environment, so it is not parallel.
func TestOTLPExportsOverGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rcv := &grpcReceiver{}
	gs := grpc.NewServer()
	collectormetrics.RegisterMetricsServiceServer(gs, rcv)
	go gs.Serve(ln)
	defer gs.Stop()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "3600000")
	for _, k := range []string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_COMPRESSION"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	reader, protocol, err := admin.OTLPReader(context.Background(), os.LookupEnv)
	if err != nil || reader == nil || protocol != admin.ProtocolGRPC {
		t.Fatalf("OTLPReader = %v, %q, %v; want a reader, %s", reader, protocol, err, admin.ProtocolGRPC)
	}
	mp, _, err := admin.NewMeterProvider(reader)
	if err != nil {
		t.Fatal(err)
	}
	met, err := metrics.New(mp)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		met.OnFetch("alpha", 20*time.Millisecond, nil)
	}
	met.ProxyReplay("alpha")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatalf("shutting the meter provider down (the last export): %v", err)
	}
	rcv.mu.Lock()
	exports := rcv.exports
	rcv.mu.Unlock()
	got := points(t, exports)
	want := map[string]float64{
		`byokcred.token.fetch.duration{error=false,provider=alpha}_count`: 3,
		`byokcred.proxy.replays{provider=alpha}`:                          1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("exported over gRPC (%d exports) (-want +got):\n%s", len(exports), diff)
	}
}
