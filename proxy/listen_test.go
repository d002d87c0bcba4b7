package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/byokcred/byokcred/proxy"
)

// heldStream is an upstream that sends one event, then waits for release
// before finishing its answer: a model response in flight.
func heldStream(t *testing.T, release <-chan struct{}) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: last\n\n")
	}))
	t.Cleanup(up.Close)
	return up
}

// serve runs srv.Serve on a loopback port until the returned cancel.
func serve(t *testing.T, srv *proxy.Server) (url string, cancel func(), done <-chan error) {
	t.Helper()
	ln, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, ln) }()
	t.Cleanup(cancel)
	return "http://" + ln.Addr().String(), cancel, errc
}

// openStream starts a streaming request and reads its first event.
func openStream(t *testing.T, url string) (*http.Response, *bufio.Reader) {
	t.Helper()
	resp, err := http.Post(url+"/held/chat/completions", "application/json", strings.NewReader(`{"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}
	return resp, br
}

func TestShutdownDrainsInFlightStreams(t *testing.T) {
	release := make(chan struct{})
	up := heldStream(t, release)
	live, _ := loadLive(t, `providers:
  held: {type: openai, base_url: `+up.URL+`, model: m, auth: {type: static, api_key_env: KEY}}
`)
	srv, err := proxy.New(proxy.Options{Providers: live, DrainTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	url, cancel, done := serve(t, srv)
	resp, br := openStream(t, url)
	defer resp.Body.Close()

	cancel() // SIGINT
	// New connections are refused once shutdown has begun...
	addr := strings.TrimPrefix(url, "http://")
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the proxy still accepts connections 5s after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) while a stream was in flight", err)
	default:
	}
	// ...while the stream in flight runs to its end.
	close(release)
	rest, err := io.ReadAll(br)
	if err != nil || !strings.Contains(string(rest), "data: last") {
		t.Errorf("the in-flight stream was cut: %q, %v", rest, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after a clean drain: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
}

func TestShutdownCutsStreamsAfterTheDrainTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	up := heldStream(t, release)
	live, _ := loadLive(t, `providers:
  held: {type: openai, base_url: `+up.URL+`, model: m, auth: {type: static, api_key_env: KEY}}
`)
	srv, err := proxy.New(proxy.Options{Providers: live, DrainTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	url, cancel, done := serve(t, srv)
	resp, _ := openStream(t, url)
	defer resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "cut off") {
			t.Errorf("Serve = %v, want an error saying requests were cut off", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not give up after its drain timeout")
	}
}
