package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/byokcred/byokcred/internal/admin"
	"github.com/byokcred/byokcred/registry"
)

// TestReadinessFollowsTheIdentityEndpoint: a replica is ready while its
// provider's token is valid, even with the identity endpoint down; not
// ready once the endpoint has been failing past the token's life (the
// report says why); ready again when the endpoint recovers. A static
// provider beside it stays ready throughout.
func TestReadinessFollowsTheIdentityEndpoint(t *testing.T) {
	t.Parallel()
	c := newClock()
	p, name := newIDP(t, c, time.Hour)
	live := load(t, fmt.Sprintf(`providers:
  entra: {type: openai, base_url: https://entra.example/v1, model: m, auth: {type: admintest-scripted, idp: %q}}
  static: {type: openai, base_url: https://static.example/v1, model: m, auth: {type: static, api_key: sk-static-key-0123456789}}
`, name), registry.Options{Now: c.now, Logger: slog.New(slog.DiscardHandler)})
	r := &admin.Readiness{Providers: live, Now: c.now}
	staticOK := admin.ProviderStatus{Name: "static", Ready: true, Reason: "credential in hand (does not expire)"}

	steps := []struct {
		name    string
		advance time.Duration
		down    bool
		want    admin.Report
	}{
		{"fetches its first token", 0, false, admin.Report{Ready: true, Providers: []admin.ProviderStatus{
			{Name: "entra", Ready: true, Reason: "token valid until 2026-03-01T13:00:00Z"}, staticOK}}},
		{"endpoint down, token still valid", 50 * time.Minute, true, admin.Report{Ready: true, Providers: []admin.ProviderStatus{
			{Name: "entra", Ready: true, Reason: "token valid until 2026-03-01T13:00:00Z"}, staticOK}}},
		{"endpoint down past the token's life", 15 * time.Minute, true, admin.Report{Ready: false, Providers: []admin.ProviderStatus{
			{Name: "entra", Ready: false, Reason: "identity endpoint answered 503"}, staticOK}}},
		{"endpoint recovered", 10 * time.Minute, false, admin.Report{Ready: true, Providers: []admin.ProviderStatus{
			{Name: "entra", Ready: true, Reason: "token valid until 2026-03-01T14:15:00Z"}, staticOK}}},
	}
	for _, step := range steps {
		c.advance(step.advance)
		p.setDown(step.down)
		got := r.Check(context.Background())
		// The not-ready reason is the token error's text: compare the
		// part that names the cause.
		for i, st := range got.Providers {
			if !st.Ready && strings.Contains(st.Reason, step.want.Providers[i].Reason) {
				got.Providers[i].Reason = step.want.Providers[i].Reason
			}
		}
		if diff := cmp.Diff(step.want, got); diff != "" {
			t.Errorf("%s: report (-want +got):\n%s", step.name, diff)
		}
	}
}

// TestReadinessIsBounded: a stuck identity provider makes the provider not
// ready within the check's timeout, saying so, instead of holding the probe.
func TestReadinessIsBounded(t *testing.T) {
	t.Parallel()
	live := load(t, `providers:
  stuck: {type: openai, base_url: https://stuck.example/v1, model: m, auth: {type: admintest-hanging}}
`, registry.Options{Logger: slog.New(slog.DiscardHandler)})
	r := &admin.Readiness{Providers: live, Timeout: 50 * time.Millisecond}
	got := r.Check(context.Background())
	if len(got.Providers) == 1 && strings.HasPrefix(got.Providers[0].Reason, "no credential within the readiness check's timeout") {
		got.Providers[0].Reason = "timeout"
	}
	if diff := cmp.Diff(admin.Report{Providers: []admin.ProviderStatus{{Name: "stuck", Reason: "timeout"}}}, got); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

// TestReadinessIsCached: probes within the TTL reuse the report instead of
// asking the identity provider again.
func TestReadinessIsCached(t *testing.T) {
	t.Parallel()
	c := newClock()
	p, name := newIDP(t, c, time.Hour)
	live := load(t, fmt.Sprintf(`providers:
  entra: {type: openai, base_url: https://entra.example/v1, model: m, auth: {type: admintest-scripted, idp: %q}}
`, name), registry.Options{Now: c.now, Logger: slog.New(slog.DiscardHandler)})
	// The probes' clock, apart from the token's.
	probes := newClock()
	r := &admin.Readiness{Providers: live, Now: probes.now, TTL: 5 * time.Second}
	if !r.Check(context.Background()).Ready {
		t.Fatal("not ready at start")
	}
	c.advance(2 * time.Hour) // token expired
	p.setDown(true)
	probes.advance(4 * time.Second)
	if !r.Check(context.Background()).Ready {
		t.Error("a probe within the TTL did not reuse the last report")
	}
	probes.advance(time.Second)
	if r.Check(context.Background()).Ready {
		t.Error("a probe after the TTL reused a stale report")
	}
}

// TestHandler: the admin address serves exactly /healthz, /readyz and
// /metrics, GET and HEAD only, and no credential ever appears there (the
// providers' tokens are canaries).
func TestHandler(t *testing.T) {
	t.Parallel()
	c := newClock()
	p, name := newIDP(t, c, time.Hour)
	live := load(t, fmt.Sprintf(`providers:
  entra: {type: openai, base_url: https://entra.example/v1, model: m, auth: {type: admintest-scripted, idp: %q}}
  static: {type: openai, base_url: https://static.example/v1, model: m, auth: {type: static, api_key: %s-static}}
`, name, canaryToken), registry.Options{Now: c.now, Logger: slog.New(slog.DiscardHandler)})
	r := &admin.Readiness{Providers: live, Now: c.now}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "admintest_total", Help: "A counter."}))
	ts := httptest.NewServer(admin.Handler(r.Check, reg))
	defer ts.Close()

	type answer struct {
		Status int
		Has    string
	}
	get := func(method, path string) (answer, string) {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return answer{Status: resp.StatusCode}, string(b)
	}
	tests := []struct {
		name, method, path string
		want               answer
	}{
		{"health", "GET", "/healthz", answer{200, "ok"}},
		{"ready", "GET", "/readyz", answer{200, `"ready": true`}},
		{"metrics", "GET", "/metrics", answer{200, "admintest_total 0"}},
		{"head", "HEAD", "/healthz", answer{200, ""}},
		{"post", "POST", "/readyz", answer{405, ""}},
		{"a provider's path", "GET", "/entra/chat/completions", answer{404, ""}},
		{"root", "GET", "/", answer{404, ""}},
		{"pprof", "GET", "/debug/pprof/", answer{404, ""}},
	}
	var bodies strings.Builder
	for _, tc := range tests {
		got, body := get(tc.method, tc.path)
		bodies.WriteString(body)
		if strings.Contains(body, tc.want.Has) {
			got.Has = tc.want.Has
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s\n%s", tc.method, tc.path, diff, body)
		}
	}

	// Not ready: the JSON report names the provider and why, with 503.
	c.advance(2 * time.Hour)
	p.setDown(true)
	got, body := get("GET", "/readyz")
	bodies.WriteString(body)
	var rep admin.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("readyz body %q: %v", body, err)
	}
	if got.Status != http.StatusServiceUnavailable || rep.Ready || len(rep.Providers) != 2 || rep.Providers[0].Ready || !strings.Contains(rep.Providers[0].Reason, "503 Service Unavailable") {
		t.Errorf("readyz with the endpoint down: %d %s", got.Status, body)
	}
	if strings.Contains(bodies.String(), canaryToken) {
		t.Errorf("a credential appeared on the admin address:\n%s", bodies.String())
	}
}
