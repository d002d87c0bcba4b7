package credential

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/internal/testkit/fakeclock"
)

// fakeClock is the shared settable test clock.
type fakeClock = fakeclock.Clock

func newFakeClock() *fakeClock { return fakeclock.New() }

// scriptedSource mints tokens named tok-1, tok-2, … that live `life` from the
// clock's now; fail and gate let tests make it fail or block.
type scriptedSource struct {
	clock *fakeClock
	life  time.Duration
	calls atomic.Int64

	mu     sync.Mutex
	fail   error
	gate   chan struct{} // when non-nil, Token blocks until it is closed
	forced []bool
}

func (s *scriptedSource) Token(ctx context.Context) (*Token, error) {
	n := s.calls.Add(1)
	s.mu.Lock()
	gate, fail := s.gate, s.fail
	s.forced = append(s.forced, ForcedRefresh(ctx))
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return nil, fail
	}
	return &Token{Value: NewSecret(fmt.Sprintf("tok-%d", n)), Kind: KindBearer, Expiry: s.clock.Now().Add(s.life)}, nil
}

func (s *scriptedSource) set(fail error, gate chan struct{}) {
	s.mu.Lock()
	s.fail, s.gate = fail, gate
	s.mu.Unlock()
}

func newTestCache(life time.Duration) (*Cache, *scriptedSource, *fakeClock) {
	clock := newFakeClock()
	src := &scriptedSource{clock: clock, life: life}
	c := NewCache(src, CacheOptions{Name: "test-provider", Now: clock.Now, Rand: func() float64 { return 0 }, Jitter: -1})
	return c, src, clock
}

func mustToken(t *testing.T, c *Cache) string {
	t.Helper()
	tok, err := c.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value.Reveal()
}

// eventually polls cond (background refreshes run on their own goroutine).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCacheServesFromMemoryAndRefreshesAhead(t *testing.T) {
	c, src, clock := newTestCache(time.Hour)
	var got []string
	got = append(got, mustToken(t, c), mustToken(t, c))
	clock.Advance(54 * time.Minute) // before the 5 min margin
	got = append(got, mustToken(t, c))
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("fetches before the refresh window = %d, want 1", n)
	}
	clock.Advance(2 * time.Minute) // inside the margin: still valid, refresh in background
	got = append(got, mustToken(t, c))
	eventually(t, "background refresh", func() bool { return c.Stats().Fetches == 2 && c.Stats().Expiry.After(clock.Now().Add(50*time.Minute)) })
	got = append(got, mustToken(t, c))
	if diff := cmp.Diff([]string{"tok-1", "tok-1", "tok-1", "tok-1", "tok-2"}, got); diff != "" {
		t.Errorf("tokens served (-want +got):\n%s", diff)
	}
	st := c.Stats()
	if st.Waits != 1 || st.Fetches != 2 || st.Failures != 0 {
		t.Errorf("stats = %+v, want 1 wait (the cold start), 2 fetches", st)
	}
}

func TestCacheScheduling(t *testing.T) {
	clock := newFakeClock()
	now := clock.Now()
	tests := []struct {
		name          string
		life          time.Duration
		refreshHint   time.Duration
		jitter, rand  float64
		wantRefreshIn time.Duration
		wantStaleIn   time.Duration
	}{
		{name: "hour token: five minute margin", life: time.Hour, jitter: -1, wantRefreshIn: 55 * time.Minute, wantStaleIn: time.Hour - 10*time.Second},
		{name: "short token: half its life", life: 4 * time.Second, jitter: -1, wantRefreshIn: 2 * time.Second, wantStaleIn: 3 * time.Second},
		{name: "issuer hint wins when earlier", life: time.Hour, refreshHint: 30 * time.Minute, jitter: -1, wantRefreshIn: 30 * time.Minute, wantStaleIn: time.Hour - 10*time.Second},
		{name: "jitter only moves refresh earlier", life: time.Hour, jitter: 0.1, rand: 0.5, wantRefreshIn: 55*time.Minute - 15*time.Second, wantStaleIn: time.Hour - 10*time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache(nil, CacheOptions{Now: clock.Now, Jitter: tc.jitter, Rand: func() float64 { return tc.rand }})
			tok := &Token{Expiry: now.Add(tc.life)}
			if tc.refreshHint > 0 {
				tok.RefreshAt = now.Add(tc.refreshHint)
			}
			e := c.schedule(tok, now)
			got := []time.Duration{e.refreshAt.Sub(now), e.staleAt.Sub(now)}
			if diff := cmp.Diff([]time.Duration{tc.wantRefreshIn, tc.wantStaleIn}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCacheColdHerdFetchesOnce(t *testing.T) {
	c, src, _ := newTestCache(time.Hour)
	gate := make(chan struct{})
	src.set(nil, gate)
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	values := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := c.Token(context.Background())
			if err != nil {
				errs <- err
				return
			}
			values <- tok.Value.Reveal()
		}()
	}
	eventually(t, "every caller to wait", func() bool { return c.Stats().Waits == n })
	close(gate)
	wg.Wait()
	close(errs)
	close(values)
	for err := range errs {
		t.Fatal(err)
	}
	for v := range values {
		if v != "tok-1" {
			t.Fatalf("caller got %q, want tok-1", v)
		}
	}
	if got := src.calls.Load(); got != 1 {
		t.Errorf("upstream fetches = %d, want exactly 1", got)
	}
}

func TestCacheIdentityProviderDownDuringRefresh(t *testing.T) {
	c, src, clock := newTestCache(time.Hour)
	if got := mustToken(t, c); got != "tok-1" {
		t.Fatalf("first token %q", got)
	}
	src.set(errors.New("identity endpoint: 503 Service Unavailable"), nil)
	clock.Advance(56 * time.Minute) // refresh window
	for i := 0; i < 3; i++ {
		if got := mustToken(t, c); got != "tok-1" {
			t.Fatalf("during outage got %q, want the still-valid tok-1", got)
		}
	}
	eventually(t, "the failed refresh", func() bool { return c.Stats().Failures == 1 })
	// Backoff: more calls right away start no new fetch.
	mustToken(t, c)
	if got := c.Stats().Fetches; got != 2 {
		t.Errorf("fetches within backoff = %d, want 2", got)
	}
	clock.Advance(2 * time.Second) // past the first backoff (≤ 1 s)
	mustToken(t, c)
	eventually(t, "the retry", func() bool { return c.Stats().Failures == 2 })

	clock.Advance(4 * time.Minute) // past expiry
	_, err := c.Token(context.Background())
	if err == nil {
		t.Fatal("want an error once the token has expired")
	}
	for _, want := range []string{"test-provider", "token expired at 2026-01-01T13:00:00Z", "503 Service Unavailable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	src.set(nil, nil) // the identity provider recovers
	// The next attempt waits for the backoff (2 s after the third failure):
	// until then callers get the last error at once.
	if _, err := c.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "next attempt in 2s") {
		t.Errorf("within the backoff: err = %v, want the last error and when the next attempt is due", err)
	}
	clock.Advance(2 * time.Second)
	if got := mustToken(t, c); !strings.HasPrefix(got, "tok-") || got == "tok-1" {
		t.Errorf("after recovery got %q, want a new token", got)
	}
	if st := c.Stats(); st.LastError != "" {
		t.Errorf("LastError after recovery = %q", st.LastError)
	}
}

func TestCacheSlowIdentityProviderBlocksNobodyWithAValidToken(t *testing.T) {
	c, src, clock := newTestCache(time.Hour)
	mustToken(t, c)
	gate := make(chan struct{})
	src.set(nil, gate) // every fetch now hangs until the gate opens
	clock.Advance(56 * time.Minute)
	done := make(chan string, 100)
	for i := 0; i < 100; i++ {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			tok, err := c.Token(ctx)
			if err != nil {
				done <- err.Error()
				return
			}
			done <- tok.Value.Reveal()
		}()
	}
	for i := 0; i < 100; i++ {
		if got := <-done; got != "tok-1" {
			t.Fatalf("caller got %q, want tok-1 without waiting", got)
		}
	}
	if st := c.Stats(); st.Waits != 1 || st.Fetches != 2 {
		t.Errorf("stats = %+v: want only the cold start to wait and one refresh in flight", st)
	}
	close(gate)
	eventually(t, "the slow refresh", func() bool { return mustToken(t, c) == "tok-2" })
}

func TestCacheWaiterHonoursContextAndFetchSurvivesIt(t *testing.T) {
	c, src, _ := newTestCache(time.Hour)
	gate := make(chan struct{})
	src.set(nil, gate)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.Token(ctx); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "test-provider") {
		t.Fatalf("err = %v, want the deadline naming the provider", err)
	}
	close(gate)
	if got := mustToken(t, c); got != "tok-1" {
		t.Errorf("got %q: the fetch should have survived the first caller's deadline", got)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1", n)
	}
}

func TestCacheInvalidate(t *testing.T) {
	c, src, _ := newTestCache(time.Hour)
	old, _ := c.Token(context.Background())
	c.Invalidate(old)
	c.Invalidate(old) // a second report of the same rejected token
	if got := mustToken(t, c); got != "tok-2" {
		t.Fatalf("after invalidate got %q, want tok-2", got)
	}
	c.Invalidate(old) // stale report: tok-2 is current, nothing happens
	if got := mustToken(t, c); got != "tok-2" {
		t.Fatalf("stale invalidate replaced the token: %q", got)
	}
	src.mu.Lock()
	forced := append([]bool(nil), src.forced...)
	src.mu.Unlock()
	if diff := cmp.Diff([]bool{false, true}, forced); diff != "" {
		t.Errorf("forced flag per fetch (-want +got):\n%s", diff)
	}
}

func TestCacheRefusesBadTokens(t *testing.T) {
	clock := newFakeClock()
	tests := []struct {
		name string
		tok  *Token
		want string
	}{
		{"empty", &Token{Kind: KindBearer}, "empty token"},
		{"already expired", &Token{Value: NewSecret("x"), Expiry: clock.Now().Add(-time.Second)}, "expired at 2026-01-01T11:59:59Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCache(sourceFunc(func(context.Context) (*Token, error) { return tc.tok, nil }), CacheOptions{Name: "p", Now: clock.Now})
			_, err := c.Token(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "p: no token") {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

type sourceFunc func(context.Context) (*Token, error)

func (f sourceFunc) Token(ctx context.Context) (*Token, error) { return f(ctx) }

func TestCacheWarmPathDoesNotAllocate(t *testing.T) {
	c, _, _ := newTestCache(time.Hour)
	mustToken(t, c)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := c.Token(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Fresh(); !ok {
			t.Fatal("not fresh")
		}
	})
	if allocs != 0 {
		t.Errorf("warm path allocates %.1f times per call", allocs)
	}
}

func TestCacheProactiveRefreshKeepsAnIdleCacheWarm(t *testing.T) {
	clock := &realClock{}
	src := sourceFunc(func(context.Context) (*Token, error) {
		clock.n.Add(1)
		return &Token{Value: NewSecret(fmt.Sprintf("tok-%d", clock.n.Load())), Kind: KindBearer, Expiry: time.Now().Add(400 * time.Millisecond)}, nil
	})
	c := NewCache(src, CacheOptions{Proactive: true, Jitter: -1})
	defer c.Close()
	mustToken(t, c)
	time.Sleep(700 * time.Millisecond) // nobody asks; the token would be stale by now
	if _, ok := c.Fresh(); !ok {
		t.Fatal("no fresh token after an idle period: proactive refresh did not run")
	}
	if st := c.Stats(); st.Waits != 1 || st.Fetches < 3 {
		t.Errorf("stats = %+v, want only the cold start to wait and refreshes on the timer", st)
	}
	c.Close()
	n := clock.n.Load()
	time.Sleep(500 * time.Millisecond)
	if clock.n.Load() != n {
		t.Error("refreshes continued after Close")
	}
}

type realClock struct{ n atomic.Int64 }
