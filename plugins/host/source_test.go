package host

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestConcurrentTokens: many callers at once, during the start and after,
// get tokens from one process (run with -race).
func TestConcurrentTokens(t *testing.T) {
	m, _ := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"p": testPluginConfig(nil)}})
	a, _ := m.Source("p", "a", map[string]any{"behavior": "ok"})
	b, _ := m.Source("p", "b", map[string]any{"behavior": "ok"})
	var wg sync.WaitGroup
	pids := make(chan int, 40)
	errs := make(chan error, 40)
	for i := range 40 {
		src := a
		if i%2 == 1 {
			src = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := src.Token(context.Background())
			if err != nil {
				errs <- err
				return
			}
			pids <- pidOf(t, tok.Value.Reveal())
		}()
	}
	wg.Wait()
	close(errs)
	close(pids)
	for err := range errs {
		t.Error(err)
	}
	seen := map[int]bool{}
	for p := range pids {
		seen[p] = true
	}
	if len(seen) != 1 {
		t.Errorf("tokens came from %d processes, want 1", len(seen))
	}
}

// TestCallerDeadline: the caller's deadline reaches the plugin, and a
// caller giving up does not get a merely slow plugin killed.
func TestCallerDeadline(t *testing.T) {
	m, _ := newManager(t, ManagerOptions{Plugins: map[string]PluginConfig{"p": testPluginConfig(nil)}})
	deadline, _ := m.Source("p", "deadline", map[string]any{"behavior": "deadline"})
	slow, _ := m.Source("p", "slow", map[string]any{"behavior": "slow", "sleep": "10s"})
	ok, _ := m.Source("p", "ok", map[string]any{"behavior": "ok"})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	tok, err := deadline.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ms int
	if _, err := fmt.Sscanf(tok.Value.Reveal(), "deadline-%d", &ms); err != nil || ms <= 0 || ms > 3000 {
		t.Errorf("plugin saw %q, want deadline-<ms> with 0 < ms <= 3000 (the caller's, not CallTimeout's 10s)", tok.Value.Reveal())
	}

	before, err := ok.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = slow.Token(ctx)
	checkErr(t, err, context.DeadlineExceeded, []string{`plugins: plugin "p", provider "slow": get token: context deadline exceeded`}, nil)
	after, err := ok.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if pidOf(t, before.Value.Reveal()) != pidOf(t, after.Value.Reveal()) {
		t.Errorf("the plugin was restarted after the caller gave up; want it left running")
	}
}
