package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/internal/testkit/syncbuf"
)

// TestProxyExportsOTLPWithoutAdminAddr: with OTEL_EXPORTER_OTLP_ENDPOINT
// set and no --admin-addr, `byokcred proxy` says it exports metrics over
// OTLP, and when it stops, a loopback receiver gets POST /v1/metrics
// holding the request it served, and not the provider's key. The exporter
// reads the standard variables from the process's environment, so this
// test sets it and is not parallel.
func TestProxyExportsOTLPWithoutAdminAddr(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/metrics" {
			mu.Lock()
			bodies = append(bodies, b)
			mu.Unlock()
		}
	}))
	defer collector.Close()
	otel := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_METRIC_EXPORT_INTERVAL": "3600000"}
	for k, v := range otel {
		t.Setenv(k, v)
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_COMPRESSION"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	model := startModelT(t, fakemodel.Options{Reply: "ok"})
	cfg := writeFile(t, "byokcred.yaml", `providers:
  oai: {type: openai, base_url: `+model.URL+`, model: gpt-4.1, auth: {type: static, api_key_env: OAI_KEY}}
`)
	env := map[string]string{"OAI_KEY": canary}
	for k, v := range otel {
		env[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &syncbuf.Buffer{}
	code := make(chan int, 1)
	go func() {
		code <- Run(ctx, []string{"-c", cfg, "proxy", "--listen", "127.0.0.1:0"}, Env{Stdout: io.Discard, Stderr: stderr, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	}()
	listening := regexp.MustCompile(`listening on (http://\S+)`)
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == ""; time.Sleep(10 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the proxy is not listening after 10s:\n%s", stderr)
		}
	}
	resp, err := http.Post(url+"/oai/chat/completions", "application/json", strings.NewReader(`{"model":"gpt-4.1","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	cancel()
	if c := <-code; c != ExitOK {
		t.Fatalf("exit %d:\n%s", c, stderr)
	}
	if !strings.Contains(stderr.String(), "byokcred proxy: exporting metrics over OTLP (http/protobuf)") || strings.Contains(stderr.String(), "admin on") {
		t.Errorf("stderr does not say metrics go over OTLP alone:\n%s", stderr)
	}
	mu.Lock()
	all := bytes.Join(bodies, nil)
	mu.Unlock()
	if len(bodies) == 0 || !bytes.Contains(all, []byte("http.server.request.duration")) {
		t.Errorf("the receiver got %d exports, none with http.server.request.duration", len(bodies))
	}
	if bytes.Contains(all, []byte(canary)) {
		t.Error("the provider's key appeared in an OTLP export")
	}
}

// TestOTLPProtocolError: an OTLP protocol this binary does not speak stops
// proxy and agent at start-up with a usage error naming the variable.
func TestOTLPProtocolError(t *testing.T) {
	t.Parallel()
	cfg := writeFile(t, "byokcred.yaml", `providers:
  oai: {type: openai, base_url: https://api.example.com/v1, model: m, auth: {type: static, api_key_env: OAI_KEY}}
`)
	env := map[string]string{"OAI_KEY": canary, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/json"}
	for _, command := range []string{"proxy", "agent"} {
		t.Run(command, func(t *testing.T) {
			t.Parallel()
			var stderr strings.Builder
			c := Run(context.Background(), []string{"-c", cfg, command}, Env{Stdout: io.Discard, Stderr: &stderr, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
			if want := `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="http/json"`; c != ExitUsage || !strings.Contains(stderr.String(), want) {
				t.Errorf("exit %d, stderr %q; want %d and %s", c, stderr.String(), ExitUsage, want)
			}
		})
	}
}
