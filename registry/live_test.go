package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/kind"
)

// countingAuth counts the sources it builds and closes, to show what a
// reload carries over.
type countingAuth struct {
	Value string `yaml:"value"`
}

var nBuilt, closed atomic.Int64

type closingSource struct{ credential.TokenSource }

func (closingSource) Close() error { closed.Add(1); return nil }

func (a *countingAuth) Validate(*kind.Build) {}
func (a *countingAuth) Source(*kind.Build) (kind.Result, error) {
	if a.Value == "fail" {
		return kind.Result{}, errors.New("cannot build this source")
	}
	nBuilt.Add(1)
	return kind.Result{Source: closingSource{credential.StaticTokenSource(&credential.Token{Kind: credential.KindBearer, Value: credential.NewSecret(a.Value)})}}, nil
}

func init() { kind.Register("test-counting", func() kind.AuthConfig { return new(countingAuth) }) }

func TestLiveReload(t *testing.T) {
	nBuilt.Store(0)
	closed.Store(0)
	path := configtest.Write(t, `providers:
  keep: {type: openai, base_url: https://a.example, model: m, auth: {type: test-counting, value: same}}
  change: {type: openai, base_url: https://a.example, model: m, auth: {type: test-counting, value: v1}}
  gone: {type: openai, base_url: https://a.example, model: m, auth: {type: test-counting, value: bye}}
`)
	live, err := NewLive(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	token := func(name string) string {
		t.Helper()
		p, err := live.Current().Provider(name)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := p.Source.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tok.Value.Reveal()
	}
	keepBefore, _ := live.Current().Provider("keep")
	if token("change") != "v1" {
		t.Fatal("v1")
	}

	os.WriteFile(path, []byte(`providers:
  keep: {type: openai, base_url: https://a.example, model: m, auth: {type: test-counting, value: same}}
  change: {type: openai, base_url: https://a.example, model: m, auth: {type: test-counting, value: v2}}
  new: {type: openai, base_url: https://a.example, model: m, auth: {type: test-counting, value: hello}}
`), 0o600)
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	keepAfter, _ := live.Current().Provider("keep")
	if keepBefore.Source != keepAfter.Source {
		t.Error("an unchanged auth block got a new source: caches and plugin processes would be lost")
	}
	if token("change") != "v2" || token("new") != "hello" {
		t.Error("the reload did not take effect")
	}
	if _, err := live.Current().Provider("gone"); err == nil {
		t.Error("removed provider still served")
	}
	if b, c := nBuilt.Load(), closed.Load(); b != 5 || c != 2 {
		t.Errorf("built %d sources, closed %d; want 5 built (3 + changed + new) and 2 closed (changed + removed)", b, c)
	}

	// An invalid file is rejected with its errors; the old config serves on.
	os.WriteFile(path, []byte("providers:\n  change: {type: openai, base_url: http://remote.example, model: m, auth: {type: test-counting, value: v3}}\n"), 0o600)
	err = live.Reload()
	if err == nil || !strings.Contains(err.Error(), ":2:") || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("err = %v, want the problem with its line", err)
	}
	if token("change") != "v2" || token("keep") != "same" {
		t.Error("a rejected reload changed what is served")
	}

	// A file that fails while building sources: the attempt took "keep"
	// over from the set in force and must hand it back, and close only
	// what it built itself.
	os.WriteFile(path, []byte(`providers:
  keep: {type: openai, base_url: https://a.example, model: m, auth: {type: test-counting, value: same}}
  fresh: {type: openai, base_url: https://a.example, model: m, auth: {type: test-counting, value: brand-new}}
  boom: {type: openai, base_url: https://a.example, model: m, auth: {type: test-counting, value: fail}}
`), 0o600)
	err = live.Reload()
	if err == nil || !strings.Contains(err.Error(), "providers.boom.auth: cannot build this source") {
		t.Fatalf("err = %v", err)
	}
	if token("keep") != "same" || token("change") != "v2" {
		t.Error("a rejected reload changed what is served")
	}
	if b, c := nBuilt.Load(), closed.Load(); b != 6 || c != 3 {
		t.Errorf("built %d, closed %d; want 6 and 3 (only the rejected attempt's own source)", b, c)
	}
	live.Close()
	if c := closed.Load(); c != 6 {
		t.Errorf("after Close, closed = %d, want 6: keep, change and new", c)
	}
}

func TestLiveReloadOnSIGHUPAndNoFailedRequests(t *testing.T) {
	path := configtest.Write(t, "providers:\n  p: {type: openai, base_url: https://a.example, model: m, auth: {type: test-echo, value: k0}}\n")
	live, err := NewLive(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	live.ReloadOnSignal(ctx)

	// Readers hammer the provider while the file changes and reloads run.
	// Each acquires the set for its read, as the proxy does per request: a
	// reader that only took Current could find the replaced source closed
	// between taking the set and asking it (1 read in ~200,000 did).
	stop := make(chan struct{})
	var failures, reads atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				set, release := live.Acquire()
				p, err := set.Provider("p")
				if err == nil {
					_, err = p.Source.Token(context.Background())
				}
				release()
				reads.Add(1)
				if err != nil {
					failures.Add(1)
				}
			}
		}()
	}
	for i := 1; i <= 20; i++ {
		os.WriteFile(path, []byte(fmt.Sprintf("providers:\n  p: {type: openai, base_url: https://a.example, model: m, auth: {type: test-echo, value: k%d}}\n", i)), 0o600)
		if err := live.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	// And once through the signal.
	os.WriteFile(path, []byte("providers:\n  p: {type: openai, base_url: https://a.example, model: m, auth: {type: test-echo, value: by-signal}}\n"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, _ := live.Current().Provider("p")
		tok, _ := p.Source.Token(context.Background())
		if tok != nil && tok.Value.Reveal() == "by-signal" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not reload the config")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if failures.Load() != 0 || reads.Load() == 0 {
		t.Errorf("%d of %d reads failed during reloads", failures.Load(), reads.Load())
	}
}

// gatedAuth's source answers its value only once the test opens the gate,
// like a plugin on its first, cold fetch; it tells the test when a fetch
// has started and when it was closed.
type gatedAuth struct {
	Value string `yaml:"value"`
}

type gate struct {
	started chan struct{} // one send per fetch
	open    chan struct{}
	closed  atomic.Bool
}

var (
	gates    sync.Map // value -> *gate
	gateRuns atomic.Int64
)

func gateFor(value string) *gate {
	g, _ := gates.LoadOrStore(value, &gate{started: make(chan struct{}, 16), open: make(chan struct{})})
	return g.(*gate)
}

type gatedSource struct {
	g     *gate
	value string
}

func (s gatedSource) Token(ctx context.Context) (*credential.Token, error) {
	s.g.started <- struct{}{}
	select {
	case <-s.g.open:
		return &credential.Token{Kind: credential.KindBearer, Value: credential.NewSecret(s.value), Expiry: time.Now().Add(time.Hour)}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s gatedSource) Close() error { s.g.closed.Store(true); return nil }

func (a *gatedAuth) Validate(*kind.Build) {}
func (a *gatedAuth) Source(*kind.Build) (kind.Result, error) {
	return kind.Result{Source: gatedSource{gateFor(a.Value), a.Value}}, nil
}

func init() { kind.Register("test-gated", func() kind.AuthConfig { return new(gatedAuth) }) }

// TestLiveReloadDuringAColdFetch: a request that acquired the set waits on a
// cold fetch while a reload replaces its provider's auth block (issue 23,
// finding 9: the reload closed the old source and the request failed with
// "context canceled"). The request gets the old source's token; the old
// source is closed once the request is done, and the next request is served
// by the new config.
func TestLiveReloadDuringAColdFetch(t *testing.T) {
	// Gates are per value, and values per run (-count).
	run := gateRuns.Add(1)
	old, next := fmt.Sprintf("cold-%d", run), fmt.Sprintf("next-%d", run)
	path := configtest.Write(t, "providers:\n  p: {type: openai, base_url: https://a.example, model: m, auth: {type: test-gated, value: "+old+"}}\n")
	live, err := NewLive(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	set, release := live.Acquire()
	p, err := set.Provider("p")
	if err != nil {
		t.Fatal(err)
	}
	type result struct{ Token, Err string }
	done := make(chan result, 1)
	go func() {
		tok, err := p.Token(context.Background())
		if err != nil {
			done <- result{Err: err.Error()}
			return
		}
		done <- result{Token: tok.Value.Reveal()}
	}()
	<-gateFor(old).started // the request now waits on the cold fetch
	os.WriteFile(path, []byte("providers:\n  p: {type: openai, base_url: https://a.example, model: m, auth: {type: test-gated, value: "+next+"}}\n"), 0o600)
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	if gateFor(old).closed.Load() {
		t.Error("the reload closed the old source while a request waited on its fetch")
	}
	close(gateFor(old).open)
	if diff := cmp.Diff(result{Token: old}, <-done); diff != "" {
		t.Errorf("the waiting request (-want +got):\n%s", diff)
	}
	release()
	if !gateFor(old).closed.Load() {
		t.Error("the old source is still open after the last request holding it finished")
	}
	close(gateFor(next).open)
	set, release = live.Acquire()
	defer release()
	p, _ = set.Provider("p")
	if tok, err := p.Token(context.Background()); err != nil || tok.Value.Reveal() != next {
		t.Errorf("after the reload: %v, %v; want the new config's token", tok, err)
	}
}
