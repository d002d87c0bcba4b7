package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/byokcred/byokcred/internal/admin"
	"github.com/byokcred/byokcred/internal/testkit/fakeentra"
	"github.com/byokcred/byokcred/metrics"
	"github.com/byokcred/byokcred/proxy"
	"github.com/byokcred/byokcred/registry"
)

// scrape reads url's /metrics in the Prometheus text format and returns
// each sample as "name{label=value,...}" → value, with the labels the
// instruments set (not OpenTelemetry's scope labels), sorted.
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(body), canaryToken) {
		t.Errorf("a credential appeared in the metrics")
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the metrics: %v\n%s", err, body)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				if !strings.HasPrefix(l.GetName(), "otel_scope_") {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
			}
			sort.Strings(labels)
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestMetricsCountAScriptedRun: the proxy serves N requests with one token
// (one fetch), then M requests whose token the upstream refuses, each
// replayed with a fresh token (one fetch each), and two users of a per-user
// provider; the scraped metrics count exactly that.
func TestMetricsCountAScriptedRun(t *testing.T) {
	t.Parallel()
	const n, m = 5, 3
	c := newClock()
	c.set(time.Now().Truncate(time.Second))
	_, name := newIDP(t, c, time.Hour)

	up := startUpstream(t)
	fe := fakeentra.Start(fakeentra.Options{TenantID: "contoso", ClientID: "proxy-app", ClientSecret: "proxy-app-secret"})
	defer fe.Close()

	mp, reg, err := admin.NewMeterProvider()
	if err != nil {
		t.Fatal(err)
	}
	defer mp.Shutdown(context.Background())
	met, err := metrics.New(mp, metrics.WithClock(c.now))
	if err != nil {
		t.Fatal(err)
	}
	live := load(t, fmt.Sprintf(`providers:
  alpha: {type: openai, base_url: %s, model: m, auth: {type: admintest-scripted, idp: %q}}
  users: {type: openai, base_url: %s, model: m, auth: {type: entra, credential: on_behalf_of, tenant_id: contoso, client_id: proxy-app, client_secret_env: APP_SECRET, scope: "https://obo-admin.example/.default"}}
`, up.URL, name, up.URL), registry.Options{
		Now: c.now, Logger: slog.New(slog.DiscardHandler), OnFetch: met.OnFetch, PerUser: true, HTTPClient: fe.Client(),
		LookupEnv: func(k string) (string, bool) { return "proxy-app-secret", k == "APP_SECRET" },
	})
	obs, err := met.Observe(live)
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Unregister()
	srv, err := proxy.New(proxy.Options{Providers: live, Metrics: met})
	if err != nil {
		t.Fatal(err)
	}
	rm, err := met.ObserveReplayMemory(srv.ReplayMemory)
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Unregister()
	px := httptest.NewServer(srv)
	defer px.Close()
	ready := &admin.Readiness{Providers: live, Now: c.now}
	reg.MustRegister(ready.Collector())
	adm := httptest.NewServer(admin.Handler(ready.Check, reg))
	defer adm.Close()

	post := func(path, bearer string) {
		t.Helper()
		req, _ := http.NewRequest("POST", px.URL+path, strings.NewReader(`{"model":"m","messages":[]}`))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
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
		post("/alpha/chat/completions", "")
	}
	for i := range m {
		up.revoke(fmt.Sprintf("%s-%d", canaryToken, i+1)) // the token in hand
		post("/alpha/chat/completions", "")
	}
	for _, user := range []string{"alice", "bob"} {
		post("/users/chat/completions", fe.UserToken(user, time.Hour))
	}
	// Methods a client invents are refused, and counted under one label.
	for _, method := range []string{"BREW", "X-INVENTED-1"} {
		req, _ := http.NewRequest(method, px.URL+"/alpha/chat/completions", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	got := scrape(t, adm.URL)
	const alpha = "auth=admintest-scripted,provider=alpha"
	want := map[string]float64{
		`http_server_request_duration_seconds{http_request_method=POST,http_response_status_code=200,provider=alpha}_count`: n + m,
		`http_server_request_duration_seconds{http_request_method=POST,http_response_status_code=200,provider=users}_count`: 2,
		`http_client_request_duration_seconds{http_request_method=POST,http_response_status_code=200,provider=alpha}_count`: n + m,
		`http_client_request_duration_seconds{http_request_method=POST,http_response_status_code=401,provider=alpha}_count`: m,
		`http_client_request_duration_seconds{http_request_method=POST,http_response_status_code=200,provider=users}_count`: 2,
		`byokcred_proxy_replays_total{provider=alpha}`:                            m,
		`byokcred_token_fetches_total{` + alpha + `}`:                             1 + m,
		`byokcred_token_fetch_failures_total{` + alpha + `}`:                      0,
		`byokcred_token_fetch_duration_seconds{error=false,provider=alpha}_count`: 1 + m,
		`byokcred_token_expiry_seconds{` + alpha + `}`:                            3600,
		`byokcred_proxy_replay_memory_bytes{}`:                                    0,
		`byokcred_peruser_users{auth=entra,provider=users}`:                       2,
		`byokcred_peruser_evictions_total{auth=entra,provider=users}`:             0,
	}
	for k := range got {
		if strings.Contains(k, "BREW") || strings.Contains(k, "INVENTED") {
			t.Errorf("a client's invented method became a label: %s", k)
		}
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
			if strings.Contains(k, "byokcred") || strings.Contains(k, "http_") {
				names = append(names, k)
			}
		}
		sort.Strings(names)
		t.Errorf("metrics after %d requests, %d replays (-want +got):\n%s\nscraped:\n%s", n, m, diff, strings.Join(names, "\n"))
	}
}
