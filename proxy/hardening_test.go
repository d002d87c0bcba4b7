package proxy_test

import (
	"bufio"
	"fmt"
	"io"
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

// rawRequest sends text over a new TCP connection to the proxy at url and
// reads one response.
func rawRequest(t *testing.T, url, method, text string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, text); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestUnsafePathsRefused: paths that some upstream could read as climbing
// out of the base URL's path never leave the proxy.
func TestUnsafePathsRefused(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	live, _ := loadLive(t, staticConfig(model.URL))
	px := startProxy(t, live, proxy.Options{})
	tests := []struct {
		name, path string
		forwarded  bool
	}{
		{"plain", "/oai/chat/completions", true},
		{"dots inside a segment", "/oai/files/file-a..b/content", true},
		{"model id with a dot", "/oai/models/gpt-4.1", true},
		{"path parameter", "/oai/chat/completions;v=1", true},
		{"literal percent", "/oai/files/100%25/content", true},
		{"dot-dot", "/oai/../az/openai/v1/responses", false},
		{"encoded dot-dot", "/oai/%2e%2e/models", false},
		{"dot-dot-semicolon (Tomcat, Spring)", "/oai/..;/az/openai/v1/responses", false},
		{"dot-semicolon", "/oai/.;/chat/completions", false},
		{"encoded backslash", "/oai/..%5Caz%5Copenai/v1/responses", false},
		{"double-encoded", "/oai/%252e%252e/az/openai/v1/responses", false},
		{"triple-encoded", "/oai/%25252e%25252e/models", false},
		{"double-encoded before a stray percent", "/oai/%252e%252e/%25zz", false},
		{"overlong UTF-8 dots", "/oai/%c0%ae%c0%ae/models", false},
		{"3-byte overlong dot", "/oai/%e0%80%ae%e0%80%ae/models", false},
		{"full-width dots", "/oai/%ef%bc%8e%ef%bc%8e/models", false},
		{"dots and a space", "/oai/..%20/models", false},
		{"three dots", "/oai/.../models", false},
		{"NUL byte", "/oai/x%00/models", false},
		// Issue 23, finding 13: look-alikes that Unicode normalisation
		// turns into dots, dots padded with characters a server may
		// ignore, and a decoded ? or # ending the path.
		{"two-dot leader", "/oai/%E2%80%A5/models", false},
		{"ellipsis", "/oai/%E2%80%A6/models", false},
		{"dot-dot encoded question mark", "/oai/..%3f/x", false},
		{"dot-dot encoded hash", "/oai/..%23/x", false},
		{"dots padded with a no-break space", "/oai/..%C2%A0/models", false},
		{"no-break space before dots", "/oai/%C2%A0../models", false},
		{"zero-width space between dots", "/oai/.%E2%80%8B./models", false},
		{"combining dot above", "/oai/..%CC%87/models", false},
		{"one-dot leader and a dot", "/oai/%E2%80%A4./models", false},
		{"double-encoded ellipsis", "/oai/%25E2%2580%25A6/models", false},
		{"double-encoded question mark", "/oai/..%253f/x", false},
		{"small full stop", "/oai/%EF%B9%92%EF%B9%92/models", false},
		{"ideographic full stop", "/oai/%E3%80%82%E3%80%82/models", false},
		{"encoded question mark inside a name", "/oai/files/a%3Fb/content", false},
		{"non-ASCII letter", "/oai/files/caf%C3%A9/content", false},
		{"dots and a tab", "/oai/..%09/models", false},
		{"dots and DEL", "/oai/..%7f/models", false},
		// A bare %u is refused by net/http before the proxy sees it;
		// encoded once more it arrives, and IIS would decode it.
		{"IIS %u dots", "/oai/%25u002e%25u002e/models", false},
		{"IIS %U dots, mixed case", "/oai/%25U002E%25u002e/models", false},
		{"IIS %u backslash", "/oai/..%25u005caz/models", false},
		{"IIS %u NUL", "/oai/x%25u0000/models", false},
		{"IIS %u ellipsis", "/oai/%25u2026/models", false},
		{"percent-u not followed by hex", "/oai/files/100%25uzz/content", true},
		{"dots in a file name", "/oai/files/report..v2.json/content", true},
		{"tilde, dash and underscore", "/oai/files/a~b-c_d/content", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model.Reset()
			resp, body := rawRequest(t, px.url, "POST", "POST "+tc.path+" HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
			reached := len(model.Requests()) == 1
			if reached != tc.forwarded {
				t.Fatalf("reached the upstream: %v, want %v (status %d %s)", reached, tc.forwarded, resp.StatusCode, body)
			}
			if !tc.forwarded && (resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "byokcred_proxy_error")) {
				t.Errorf("status %d %s, want the proxy's 400", resp.StatusCode, body)
			}
		})
	}
}

// TestRoutingHeadersDropped: headers some servers take the path or method
// from instead of the request line never reach the upstream.
func TestRoutingHeadersDropped(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	live, _ := loadLive(t, staticConfig(model.URL))
	px := startProxy(t, live, proxy.Options{})
	sent := map[string]string{
		"X-Original-URL":         "/az/openai/v1/responses",
		"X-Rewrite-URL":          "/az/openai/v1/responses",
		"X-Original-URI":         "/az/openai/v1/responses",
		"X-Forwarded-Prefix":     "/../az",
		"X-HTTP-Method-Override": "TRACE",
		"X-HTTP-Method":          "TRACE",
		"X-Method-Override":      "TRACE",
		// Issue 23, finding 13, and the rest of the family.
		"X-Override-URL":            "/az/openai/v1/responses",
		"X-Envoy-Original-Path":     "/az/openai/v1/responses",
		"X-Envoy-Original-Url":      "http://gw.example/az/openai/v1/responses",
		"X-Forwarded-Uri":           "/az/openai/v1/responses",
		"X-Forwarded-Path":          "/az/openai/v1/responses",
		"X-Forwarded-Host":          "evil.example",
		"X-Forwarded-Server":        "evil.example",
		"Forwarded":                 "host=evil.example;proto=http",
		"X-Original-Host":           "evil.example",
		"X-Host":                    "evil.example",
		"X-Rewrite-Path":            "/az",
		"X-Request-Uri":             "/az/openai/v1/responses",
		"X_Original_URL":            "/az/openai/v1/responses",
		"X-Kept":                    "yes",
		"OpenAI-Beta":               "assistants=v2",
		"Anthropic-Version":         "2023-06-01",
		"X-Stainless-Helper-Method": "stream",
	}
	if r := do(t, http.MethodPost, px.url+"/oai/chat/completions", `{}`, sent); r.Status != 200 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	got := map[string]string{}
	for k := range sent {
		if v := model.Requests()[0].Header.Get(k); v != "" {
			got[k] = v
		}
	}
	want := map[string]string{"X-Kept": "yes", "OpenAI-Beta": "assistants=v2", "Anthropic-Version": "2023-06-01", "X-Stainless-Helper-Method": "stream"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers the upstream received (-want +got):\n%s", diff)
	}
}

// TestTrailersNotForwarded sends a real chunked request with credential
// trailers over a raw connection, with a body kept for replay and with one
// streamed through: the upstream receives the body and no trailer.
func TestTrailersNotForwarded(t *testing.T) {
	type seen struct {
		Body     string
		Trailers map[string]string
	}
	var mu sync.Mutex
	var got []seen
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body) // trailers arrive after the body
		s := seen{Body: string(b), Trailers: map[string]string{}}
		for k, vs := range r.Trailer {
			s.Trailers[k] = strings.Join(vs, ",")
		}
		mu.Lock()
		got = append(got, s)
		mu.Unlock()
		fmt.Fprint(w, `{"choices":[{"message":{"role":"assistant","content":"ok"}}]}`)
	}))
	t.Cleanup(up.Close)
	live, _ := loadLive(t, `providers:
  up: {type: openai, base_url: `+up.URL+`, model: m, auth: {type: static, api_key_env: KEY}}
`)
	const body = `{"model":"m","messages":[]}`
	tests := []struct {
		name string
		opts proxy.Options
	}{
		{"body kept for replay", proxy.Options{}},
		{"body streamed", proxy.Options{MaxReplayBody: 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			px := startProxy(t, live, tc.opts)
			req := "POST /up/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
				"Transfer-Encoding: chunked\r\nTrailer: Authorization, X-Api-Key, X-Byokcred-Token\r\nConnection: close\r\n\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n0\r\n", len(body), body) +
				"Authorization: Bearer " + canaryOwn + "\r\nX-Api-Key: " + canaryOwn + "\r\nX-Byokcred-Token: " + canaryClient + "\r\n\r\n"
			resp, respBody := rawRequest(t, px.url, "POST", req)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, respBody)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff([]seen{{Body: body, Trailers: map[string]string{}}}, got); diff != "" {
				t.Errorf("upstream requests (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOnlyModelAPIMethodsForwarded: TRACE would echo the credential back,
// CONNECT asks for a tunnel; only the methods model APIs use pass.
func TestOnlyModelAPIMethodsForwarded(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	live, _ := loadLive(t, staticConfig(model.URL))
	px := startProxy(t, live, proxy.Options{})
	tests := []struct {
		method    string
		forwarded bool
	}{
		{"GET", true}, {"HEAD", true}, {"POST", true}, {"DELETE", true},
		{"PUT", false}, {"PATCH", false}, {"OPTIONS", false}, {"TRACE", false}, {"CONNECT", false}, {"PROPFIND", false},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			model.Reset()
			resp, body := rawRequest(t, px.url, tc.method, tc.method+" /oai/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
			reached := len(model.Requests()) == 1
			if reached != tc.forwarded {
				t.Fatalf("reached the upstream: %v, want %v (status %d %s)", reached, tc.forwarded, resp.StatusCode, body)
			}
			if tc.forwarded {
				return
			}
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD, POST, DELETE" {
				t.Errorf("status %d, Allow %q; want 405 listing the forwarded methods", resp.StatusCode, resp.Header.Get("Allow"))
			}
			if strings.Contains(body, canaryKey) {
				t.Errorf("the answer holds the provider's key")
			}
		})
	}
}

// TestSlowClientsTimeOut: a client that stops sending its headers or its
// body loses its connection after the read timeout, whether its body was
// being kept for replay or streamed through.
func TestSlowClientsTimeOut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	var upstreamErr sync.Map
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			upstreamErr.Store(r.URL.Path, err)
		}
	}))
	t.Cleanup(up.Close)
	live, _ := loadLive(t, `providers:
  up: {type: openai, base_url: `+up.URL+`, model: m, auth: {type: static, api_key_env: KEY}}
`)
	srv, err := proxy.New(proxy.Options{Providers: live, ReadTimeout: timeout, MaxReplayBody: 64})
	if err != nil {
		t.Fatal(err)
	}
	url, _, _ := serve(t, srv)
	tests := []struct {
		name, text string
		want       int // 0: the connection closes without an answer
	}{
		{"headers stall", "POST /up/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n", 0},
		{"body stalls before a byte", "POST /up/buffered HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n", http.StatusRequestTimeout},
		{"body stalls while kept for replay", "POST /up/buffered HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10485760\r\n\r\nx", http.StatusRequestTimeout},
		{"body stalls while streamed", "POST /up/streamed HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("x", 100), http.StatusRequestTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Far beyond the timeout: before the fix the proxy waited forever
			// for a body (and 30 s for headers).
			c.SetDeadline(time.Now().Add(10 * time.Second))
			start := time.Now()
			io.WriteString(c, tc.text)
			br := bufio.NewReader(c)
			status := 0
			if resp, err := http.ReadResponse(br, nil); err == nil {
				status = resp.StatusCode
				io.Copy(io.Discard, resp.Body)
			} else if !errorsIsEOF(err) {
				t.Fatalf("reading the answer: %v", err)
			}
			if status != tc.want {
				t.Errorf("status %d, want %d", status, tc.want)
			}
			// And the connection is closed.
			if _, err := br.ReadByte(); !errorsIsEOF(err) {
				t.Errorf("after the answer: %v, want the connection closed", err)
			}
			t.Logf("closed after %s", time.Since(start).Round(time.Millisecond))
		})
	}
	// The upstream learns, when the proxy drops that connection, that the
	// streamed body ended early.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := upstreamErr.Load("/streamed"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the upstream did not see the streamed body end early")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func errorsIsEOF(err error) bool {
	return err == io.EOF || err == io.ErrUnexpectedEOF || strings.Contains(fmt.Sprint(err), "connection reset")
}

// TestTruncatedBodyNotForwarded: a client that hangs up before sending its
// whole Content-Length does not get a cut body forwarded as if complete.
func TestTruncatedBodyNotForwarded(t *testing.T) {
	model := startModel(t, fakemodel.Options{})
	live, _ := loadLive(t, staticConfig(model.URL))
	px := startProxy(t, live, proxy.Options{})
	c, err := net.Dial("tcp", strings.TrimPrefix(px.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /oai/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{\"model\":")
	c.(*net.TCPConn).CloseWrite()
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	}
	if n := len(model.Requests()); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}
