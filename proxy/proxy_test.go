package proxy_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakemodel"
	"github.com/byokcred/byokcred/proxy"
)

// staticConfig has one provider per type and credential kind, all on model.
func staticConfig(model string) string {
	return strings.ReplaceAll(`providers:
  oai:
    type: openai
    base_url: {{M}}/v1
    model: m
    headers: {X-Gateway-Key: "${GATEWAY}", X-Tenant: tenant-1}
    auth: {type: static, api_key_env: KEY}
  oaib:
    type: openai
    base_url: {{M}}/v1
    model: m
    auth: {type: static, bearer_token_env: BEARER}
  az:
    type: azure
    base_url: {{M}}
    model: m
    auth: {type: static, api_key_env: KEY}
  azb:
    type: azure
    base_url: {{M}}
    model: m
    auth: {type: static, bearer_token_env: BEARER}
  ant:
    type: anthropic
    base_url: {{M}}
    model: m
    auth: {type: static, api_key_env: KEY}
  antb:
    type: anthropic
    base_url: {{M}}
    model: m
    auth: {type: static, bearer_token_env: BEARER}
`, "{{M}}", model)
}

func TestRouting(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	live, _ := loadLive(t, staticConfig(model.URL))
	withDefault := startProxy(t, live, proxy.Options{Default: "oai"})
	noDefault := startProxy(t, live, proxy.Options{})

	type got struct {
		Status         int
		Path, RawQuery string // as the upstream saw them; "" when none arrived
	}
	tests := []struct {
		name  string
		proxy *fixture
		path  string
		want  got
	}{
		{"prefix", noDefault, "/oai/chat/completions", got{200, "/v1/chat/completions", ""}},
		{"query kept", noDefault, "/oai/chat/completions?stream=true&x=a%20b", got{200, "/v1/chat/completions", "stream=true&x=a%20b"}},
		{"azure deployment route", noDefault, "/az/openai/deployments/dep-1/chat/completions?api-version=2024-10-21", got{200, "/openai/deployments/dep-1/chat/completions", "api-version=2024-10-21"}},
		{"azure v1 route", noDefault, "/azb/openai/v1/responses", got{200, "/openai/v1/responses", ""}},
		{"anthropic", noDefault, "/ant/v1/messages", got{200, "/v1/messages", ""}},
		{"prefix only", noDefault, "/oai/models", got{200, "/v1/models", ""}},
		{"unknown provider", noDefault, "/nope/chat/completions", got{404, "", ""}},
		{"no prefix without default", noDefault, "/chat/completions", got{404, "", ""}},
		{"root without default", noDefault, "/", got{404, "", ""}},
		{"default serves unprefixed", withDefault, "/chat/completions?a=1", got{200, "/v1/chat/completions", "a=1"}},
		{"default: prefix still wins", withDefault, "/ant/v1/messages", got{200, "/v1/messages", ""}},
		{"default: unknown first segment is a path", withDefault, "/models", got{200, "/v1/models", ""}},
		{"dot-dot segment refused", noDefault, "/oai/../az/openai/v1/responses", got{400, "", ""}},
		{"encoded dot-dot refused", noDefault, "/oai/%2e%2e/models", got{400, "", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model.Reset()
			r := do(t, http.MethodPost, tc.proxy.url+tc.path, `{"model":"m"}`, nil)
			g := got{Status: r.Status}
			if reqs := model.Requests(); len(reqs) == 1 {
				g.Path, g.RawQuery = reqs[0].Path, reqs[0].RawQuery
			} else if len(reqs) > 1 {
				t.Fatalf("%d upstream requests, want at most 1", len(reqs))
			}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("(-want +got):\n%s\nbody: %s", diff, r.Body)
			}
			if g.Path == "" && !strings.Contains(r.Body, `"byokcred_proxy_error"`) {
				t.Errorf("the proxy refused without its JSON error: %q", r.Body)
			}
		})
	}
	r := do(t, http.MethodGet, noDefault.url+"/nope/x", "", nil)
	if !strings.Contains(r.Body, `no provider named \"nope\"`) || !strings.Contains(r.Body, "ant, antb, az, azb, oai, oaib") {
		t.Errorf("unknown provider error does not list the providers: %s", r.Body)
	}
}

func TestCredentialHeaderPerTypeAndKind(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	live, _ := loadLive(t, staticConfig(model.URL))
	px := startProxy(t, live, proxy.Options{})
	// The client sends its own credentials everywhere; none may pass.
	own := map[string]string{"Authorization": "Bearer " + canaryOwn, "api-key": canaryOwn, "x-api-key": canaryOwn, proxy.ClientTokenHeader: canaryOwn}
	credentialHeaders := []string{"Authorization", "Api-Key", "X-Api-Key", proxy.ClientTokenHeader}
	tests := []struct {
		provider, path string
		want           map[string]string // credential headers the upstream received
		extra          map[string]string // other headers it must have received
	}{
		{"oai", "/chat/completions", map[string]string{"Authorization": "Bearer " + canaryKey}, map[string]string{"X-Gateway-Key": canaryHeader, "X-Tenant": "tenant-1"}},
		{"oaib", "/chat/completions", map[string]string{"Authorization": "Bearer " + canaryBearer}, nil},
		{"az", "/openai/v1/chat/completions", map[string]string{"Api-Key": canaryKey}, nil},
		{"azb", "/openai/v1/chat/completions", map[string]string{"Authorization": "Bearer " + canaryBearer}, nil},
		{"ant", "/v1/messages", map[string]string{"X-Api-Key": canaryKey}, nil},
		{"antb", "/v1/messages", map[string]string{"Authorization": "Bearer " + canaryBearer}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.provider, func(t *testing.T) {
			model.Reset()
			r := do(t, http.MethodPost, px.url+"/"+tc.provider+tc.path, `{"model":"m"}`, own)
			if r.Status != 200 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			reqs := model.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d upstream requests", len(reqs))
			}
			gotCred := map[string]string{}
			for _, h := range credentialHeaders {
				if v := reqs[0].Header.Get(h); v != "" {
					gotCred[h] = v
				}
			}
			if diff := cmp.Diff(tc.want, gotCred); diff != "" {
				t.Errorf("credential headers upstream (-want +got):\n%s", diff)
			}
			for k, v := range tc.extra {
				if got := reqs[0].Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if fwd := reqs[0].Header.Get("X-Forwarded-For"); fwd != "" {
				t.Errorf("X-Forwarded-For %q sent upstream", fwd)
			}
		})
	}
}

// TestStreamingPassesThroughChunkByChunk runs the upstream in lockstep with
// the client: it writes the next event only after the client has received
// the previous one. Any buffering in the proxy deadlocks the exchange, and
// the test fails on its timeout instead of passing by luck of timing.
func TestStreamingPassesThroughChunkByChunk(t *testing.T) {
	const events = 5
	ack := make(chan int, events) // buffered: a failing upstream must not block the client
	done := make(chan struct{})
	defer close(done)
	var upstreamErr error
	var mu sync.Mutex
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for i := 0; i < events; i++ {
			time.Sleep(10 * time.Millisecond) // a model thinking between tokens
			fmt.Fprintf(w, "data: {\"chunk\":%d}\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case n := <-ack:
				if n != i {
					mu.Lock()
					upstreamErr = fmt.Errorf("client acknowledged chunk %d, want %d", n, i)
					mu.Unlock()
				}
			case <-time.After(5 * time.Second):
				mu.Lock()
				upstreamErr = fmt.Errorf("chunk %d did not reach the client within 5s: the proxy buffers", i)
				mu.Unlock()
				return
			case <-done:
				return
			}
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	defer up.Close()
	live, _ := loadLive(t, `providers:
  stream: {type: openai, base_url: `+up.URL+`, model: m, auth: {type: static, api_key_env: KEY}}
`)
	px := startProxy(t, live, proxy.Options{})
	resp, err := http.Post(px.url+"/stream/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	var got []string
	for i := 0; i < events; i++ {
		line, err := br.ReadString('\n')
		if err != nil {
			mu.Lock()
			uerr := upstreamErr
			mu.Unlock()
			t.Fatalf("chunk %d: %v (upstream: %v)", i, err, uerr)
		}
		got = append(got, strings.TrimSpace(line))
		if _, err := br.ReadString('\n'); err != nil { // the blank line ending the event
			t.Fatal(err)
		}
		ack <- i
	}
	rest, _ := br.ReadString(0)
	got = append(got, strings.TrimSpace(rest))
	mu.Lock()
	defer mu.Unlock()
	if upstreamErr != nil {
		t.Fatal(upstreamErr)
	}
	want := []string{`data: {"chunk":0}`, `data: {"chunk":1}`, `data: {"chunk":2}`, `data: {"chunk":3}`, `data: {"chunk":4}`, "data: [DONE]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestConcurrentClients(t *testing.T) {
	model := startModel(t, fakemodel.Options{Reply: "concurrent"})
	live, _ := loadLive(t, staticConfig(model.URL))
	px := startProxy(t, live, proxy.Options{})
	routes := []struct{ path, upstream, header, value string }{
		{"/oai/chat/completions", "/v1/chat/completions", "Authorization", "Bearer " + canaryKey},
		{"/az/openai/v1/chat/completions", "/openai/v1/chat/completions", "Api-Key", canaryKey},
		{"/ant/v1/messages", "/v1/messages", "X-Api-Key", canaryKey},
		{"/antb/v1/messages", "/v1/messages", "Authorization", "Bearer " + canaryBearer},
	}
	const clients, each = 16, 8
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				rt := routes[(c+i)%len(routes)]
				resp, err := http.Post(px.url+rt.path, "application/json", strings.NewReader(fmt.Sprintf(`{"model":"client-%d-%d","stream":true}`, c, i)))
				if err != nil {
					errs <- err
					continue
				}
				b := new(strings.Builder)
				_, err = bufio.NewReader(resp.Body).WriteTo(b)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !strings.Contains(b.String(), "concurrent") {
					errs <- fmt.Errorf("client %d request %d: status %d, err %v, body %q", c, i, resp.StatusCode, err, b.String())
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	reqs := model.Requests()
	if len(reqs) != clients*each {
		t.Fatalf("%d upstream requests, want %d", len(reqs), clients*each)
	}
	models := map[string]bool{}
	for _, r := range reqs {
		models[r.Model] = true
		ok := false
		for _, rt := range routes {
			if rt.upstream == r.Path && r.Header.Get(rt.header) == rt.value {
				ok = true
			}
		}
		if !ok {
			t.Errorf("request to %s carried the wrong credential", r.Path)
		}
	}
	if len(models) != clients*each {
		t.Errorf("%d distinct bodies upstream, want %d: requests were mixed up", len(models), clients*each)
	}
}

func TestReloadReachesTheNextRequest(t *testing.T) {
	first := startModel(t, fakemodel.Options{Reply: "first"})
	second := startModel(t, fakemodel.Options{Reply: "second"})
	live, path := loadLive(t, `providers:
  p: {type: openai, base_url: `+first.URL+`, model: m, auth: {type: static, api_key_env: KEY}}
`)
	px := startProxy(t, live, proxy.Options{})
	if r := do(t, http.MethodPost, px.url+"/p/chat/completions", `{}`, nil); !strings.Contains(r.Body, "first") {
		t.Fatalf("before reload: %d %s", r.Status, r.Body)
	}
	writeFile(t, path, `providers:
  p: {type: openai, base_url: `+second.URL+`, model: m, auth: {type: static, api_key_env: KEY}}
  q: {type: anthropic, base_url: `+first.URL+`, model: m, auth: {type: static, api_key_env: KEY}}
`)
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	if r := do(t, http.MethodPost, px.url+"/p/chat/completions", `{}`, nil); !strings.Contains(r.Body, "second") {
		t.Errorf("after reload p: %d %s", r.Status, r.Body)
	}
	if r := do(t, http.MethodPost, px.url+"/q/v1/messages", `{}`, nil); r.Status != 200 || !strings.Contains(r.Body, "first") {
		t.Errorf("after reload, new provider q: %d %s", r.Status, r.Body)
	}
}

func TestFailuresAnswerWithClearErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens at its address any more
	live, _ := loadLive(t, `token_timeout: 200ms
providers:
  down: {type: openai, base_url: `+closed.URL+`, model: m, auth: {type: static, api_key_env: KEY}}
  broken: {type: openai, base_url: `+closed.URL+`, model: m, auth: {type: proxytest-broken}}
  stuck: {type: openai, base_url: `+closed.URL+`, model: m, auth: {type: proxytest-hanging}}
`)
	px := startProxy(t, live, proxy.Options{})
	tests := []struct {
		name, path string
		status     int
		message    string
	}{
		{"upstream unreachable", "/down/chat/completions", http.StatusBadGateway, "proxy: provider down: upstream request failed"},
		{"no credential", "/broken/chat/completions", http.StatusServiceUnavailable, "identity provider unreachable"},
		{"credential fetch bounded by token_timeout", "/stuck/chat/completions", http.StatusServiceUnavailable, "no credential within 200ms (token_timeout)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			defer func() {
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("answered after %s", d)
				}
			}()
			r := do(t, http.MethodPost, px.url+tc.path, `{}`, map[string]string{"Authorization": "Bearer " + canaryOwn})
			if r.Status != tc.status || !strings.Contains(r.Body, tc.message) {
				t.Errorf("got %d %s, want %d with %q", r.Status, r.Body, tc.status, tc.message)
			}
			if strings.Contains(r.Body, canaryKey) || strings.Contains(r.Body, canaryOwn) {
				t.Errorf("error body carries a secret: %s", r.Body)
			}
		})
	}
}

// TestProtocolUpgradePassesThrough covers the Copilot CLI's websocket
// transport for the responses API: the upgrade request gets the provider's
// credential and the upgraded connection carries bytes both ways.
func TestProtocolUpgradePassesThrough(t *testing.T) {
	gotAuth := make(chan string, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth <- r.Header.Get("Authorization")
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want an upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo: " + line)
		brw.Flush()
	}))
	defer up.Close()
	live, _ := loadLive(t, `providers:
  ws: {type: openai, base_url: `+up.URL+`/v1, model: m, auth: {type: static, api_key_env: KEY}}
`)
	px := startProxy(t, live, proxy.Options{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(px.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /ws/responses HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: echo\r\nAuthorization: Bearer %s\r\n\r\n", strings.TrimPrefix(px.url, "http://"), canaryOwn)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	fmt.Fprint(conn, "hello over the upgraded connection\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: hello over the upgraded connection\n" {
		t.Errorf("upgraded connection: %q, %v", line, err)
	}
	if <-gotAuth != "Bearer "+canaryKey {
		t.Errorf("the upgrade request did not carry the provider's credential")
	}
}

// TestDefaultProviderKeepsItsAPIPaths: the Copilot CLI with type azure
// sends /openai/v1/... to the default provider; a provider named "openai"
// must not capture those requests.
func TestDefaultProviderKeepsItsAPIPaths(t *testing.T) {
	foundry := startModel(t, fakemodel.Options{Reply: "foundry"})
	oai := startModel(t, fakemodel.Options{Reply: "openai"})
	live, _ := loadLive(t, `providers:
  foundry: {type: azure, base_url: `+foundry.URL+`, model: m, auth: {type: static, api_key_env: KEY}}
  openai: {type: openai, base_url: `+oai.URL+`/v1, model: m, auth: {type: static, api_key_env: KEY}}
`)
	px := startProxy(t, live, proxy.Options{Default: "foundry"})
	tests := []struct{ path, wantReply string }{
		{"/openai/v1/chat/completions", "foundry"},
		{"/foundry/openai/v1/chat/completions", "foundry"},
		{"/chat/completions", "foundry"},
	}
	for _, tc := range tests {
		if r := do(t, http.MethodPost, px.url+tc.path, `{}`, nil); r.Status != 200 || !strings.Contains(r.Body, tc.wantReply) {
			t.Errorf("%s: %d %s, want an answer from %s", tc.path, r.Status, r.Body, tc.wantReply)
		}
	}
	if n := len(oai.Requests()); n != 0 {
		t.Errorf("the openai provider received %d requests meant for the default provider", n)
	}
	if !strings.Contains(px.logs.String(), "provider cannot be reached by its prefix") || !strings.Contains(px.logs.String(), "provider=openai") {
		t.Errorf("no startup warning about the shadowed provider:\n%s", px.logs)
	}
	// Without a default the prefix is the provider, as always.
	plain := startProxy(t, live, proxy.Options{})
	if r := do(t, http.MethodPost, plain.url+"/openai/chat/completions", `{}`, nil); !strings.Contains(r.Body, "openai") {
		t.Errorf("without --default, /openai/ is the openai provider: %d %s", r.Status, r.Body)
	}
}
