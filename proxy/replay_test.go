package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byokcred/byokcred/registry"
)

// countingBody counts the request body bytes the proxy has read.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// waitFor polls cond until it holds, or fails the test after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReplayMemoryIsBounded is the unauthenticated memory attack: many
// clients each announce a 10 MiB body, send a little of it and stall. The
// proxy holds no more for replay than the bytes that arrived, and never
// more than its budget across all requests; the requests that find the
// budget spent stream through to the upstream instead.
func TestReplayMemoryIsBounded(t *testing.T) {
	const (
		clients   = 32
		announced = 10 << 20 // each client's Content-Length, DefaultMaxReplayBody
		sent      = 100 << 10
		budget    = 1 << 20
	)
	var upstream atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, countingBody{r.Body, &upstream})
	}))
	defer up.Close()
	path := filepath.Join(t.TempDir(), "byokcred.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf("providers:\n  up: {type: openai, base_url: %s, model: m, auth: {type: static, api_key: k}}\n", up.URL)), 0o600)
	set, err := registry.Load(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	srv, err := New(Options{Providers: set, MaxReplayMemory: budget, ReadTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var received atomic.Int64
	px := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = countingBody{r.Body, &received}
		srv.ServeHTTP(w, r)
	}))
	defer px.Close()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	payload := bytes.Repeat([]byte("x"), sent)
	for range clients {
		c, err := net.Dial("tcp", px.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /up/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n", announced)
		if _, err := c.Write(payload); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the proxy has read every byte sent", func() bool { return received.Load() == clients*sent })
	held := srv.replay.held.Load()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	if held > budget {
		t.Errorf("replay buffers hold %d bytes, more than the budget of %d", held, budget)
	}
	if held < budget/2 {
		t.Errorf("replay buffers hold %d bytes: the budget of %d was hardly used, so the test proves little", held, budget)
	}
	// What is not held for replay went on to the upstream.
	waitFor(t, "the streamed bodies reached the upstream", func() bool { return upstream.Load() >= clients*sent-held })
	// Before the fix, each buffer was grown to the announced 10 MiB: 320 MiB.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("the proxy allocated %d MiB for %d clients that sent %d KiB each", alloc>>20, clients, sent>>10)
	}
	t.Logf("held for replay: %d KiB of a %d KiB budget; allocated meanwhile: %d MiB", held>>10, budget>>10, (after.TotalAlloc-before.TotalAlloc)>>20)

	px.CloseClientConnections()
	waitFor(t, "every replay buffer is released", func() bool { return srv.replay.held.Load() == 0 })
}

// TestReplayMemoryIsReleasedWhenTheAnswerBegins: a streamed answer can run
// for minutes; the request body it answers is not held for that long.
func TestReplayMemoryIsReleasedWhenTheAnswerBegins(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
	}))
	defer up.Close()
	defer close(release)
	path := filepath.Join(t.TempDir(), "byokcred.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf("providers:\n  up: {type: openai, base_url: %s, model: m, auth: {type: static, api_key: k}}\n", up.URL)), 0o600)
	set, err := registry.Load(path, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	srv, err := New(Options{Providers: set})
	if err != nil {
		t.Fatal(err)
	}
	px := httptest.NewServer(srv)
	defer px.Close()
	resp, err := http.Post(px.URL+"/up/chat/completions", "application/json", bytes.NewReader(bytes.Repeat([]byte("x"), 200<<10)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make([]byte, len("data: first\n"))
	if _, err := io.ReadFull(resp.Body, line); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the body's memory is released while the answer streams", func() bool { return srv.replay.held.Load() == 0 })
}
