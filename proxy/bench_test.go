package proxy_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byokcred/byokcred/proxy"
	"github.com/byokcred/byokcred/registry"
)

// The benchmarks compare one chat-completions round trip to a loopback
// upstream, sent directly and through the proxy: "serial" is the latency
// of one request at a time, "parallel" the throughput of GOMAXPROCS
// clients. The ratio ViaProxy/Direct is the proxy's cost; BareReverseProxy
// (httputil.ReverseProxy with a fixed header and nothing else) separates
// the cost of any extra HTTP hop from byokcred's own work.
//
//	go test -run '^$' -bench . -benchmem ./proxy/

const (
	benchBody  = `{"model":"gpt-4.1","messages":[{"role":"user","content":"Say hello."}],"stream":false}`
	benchReply = `{"id":"chatcmpl-bench","object":"chat.completion","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Hello"}}]}`
)

func benchUpstream(b *testing.B) *httptest.Server {
	b.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("Authorization") != "Bearer "+canaryKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, benchReply)
	}))
	b.Cleanup(up.Close)
	return up
}

func benchRequests(b *testing.B, url string, header http.Header) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}}
	b.Cleanup(client.CloseIdleConnections)
	one := func() {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(benchBody))
		req.Header = header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			one()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one()
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

func BenchmarkDirect(b *testing.B) {
	up := benchUpstream(b)
	benchRequests(b, up.URL+"/v1/chat/completions", http.Header{
		"Content-Type":  {"application/json"},
		"Authorization": {"Bearer " + canaryKey},
	})
}

func BenchmarkViaProxy(b *testing.B) {
	up := benchUpstream(b)
	path := filepath.Join(b.TempDir(), "byokcred.yaml")
	if err := os.WriteFile(path, []byte(`providers:
  oai: {type: openai, base_url: `+up.URL+`/v1, model: gpt-4.1, auth: {type: static, api_key_env: KEY}}
`), 0o600); err != nil {
		b.Fatal(err)
	}
	live, err := registry.NewLive(path, registry.Options{LookupEnv: lookup})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { live.Close() })
	// Info level, as a production proxy logs: one line per request, to a
	// discarding handler so the benchmark measures the proxy, not a disk.
	logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := proxy.New(proxy.Options{Providers: live, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	px := httptest.NewServer(srv)
	b.Cleanup(px.Close)
	benchRequests(b, px.URL+"/oai/chat/completions", http.Header{
		"Content-Type":  {"application/json"},
		"Authorization": {"Bearer client-placeholder"},
	})
}

func BenchmarkBareReverseProxy(b *testing.B) {
	up := benchUpstream(b)
	target, _ := url.Parse(up.URL + "/v1")
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = "/v1/chat/completions"
			pr.Out.Header.Set("Authorization", "Bearer "+canaryKey)
		},
		FlushInterval: -1,
	}
	px := httptest.NewServer(rp)
	b.Cleanup(px.Close)
	benchRequests(b, px.URL+"/oai/chat/completions", http.Header{
		"Content-Type":  {"application/json"},
		"Authorization": {"Bearer client-placeholder"},
	})
}
