package credential

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// settle waits until no fetch is in flight, so that a test driving the fake
// clock sees every background refresh it started finish before it moves on.
func settle(t *testing.T, c *Cache) {
	t.Helper()
	eventually(t, "the fetch in flight", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.inflight == nil
	})
}

// checkFetchTimes compares fetch times, summarising a loop.
func checkFetchTimes(t *testing.T, want, got []time.Duration) {
	t.Helper()
	if len(got) > 3*len(want) {
		t.Errorf("%d fetches in one simulated minute (the last at %s), want %d on the backoff schedule %v", len(got), got[len(got)-1], len(want), want)
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fetch times in one simulated minute (-want +got):\n%s", diff)
	}
}

// fetchLog is a source that records the fake time of each fetch and answers
// with answer(n), n counting from 1.
type fetchLog struct {
	clock  *fakeClock
	answer func(n int, now time.Time) (*Token, error)

	mu    sync.Mutex
	times []time.Duration // since start
	start time.Time
}

func newFetchLog(clock *fakeClock, answer func(n int, now time.Time) (*Token, error)) *fetchLog {
	return &fetchLog{clock: clock, answer: answer, start: clock.Now()}
}

func (s *fetchLog) Token(context.Context) (*Token, error) {
	now := s.clock.Now()
	s.mu.Lock()
	s.times = append(s.times, now.Sub(s.start))
	n := len(s.times)
	s.mu.Unlock()
	return s.answer(n, now)
}

func (s *fetchLog) fetchTimes() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.times...)
}

// TestCacheRefreshHintNeverOutrunsTheBackoff models MSAL inside azidentity
// during an outage: its own refresh fails, so it hands back its cached,
// still-valid token with a RefreshOn in the past (or just ahead) and no
// error. Every such answer must count as a refresh that made no progress:
// the next attempt waits out the backoff (1 s doubling to 30 s; Rand 0
// picks the low end, half of each step), instead of starting a fetch on
// every call. Before the fix the cache fetched on every call of the
// simulated minute (6,000 fetches; ~31,000 in 200 ms of real time with the
// proactive timer).
func TestCacheRefreshHintNeverOutrunsTheBackoff(t *testing.T) {
	backoffSchedule := []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond, 3500 * time.Millisecond,
		7500 * time.Millisecond, 15500 * time.Millisecond, 30500 * time.Millisecond, 45500 * time.Millisecond}
	tests := []struct {
		name string
		hint time.Duration // RefreshAt relative to the fetch
	}{
		{name: "hint in the past", hint: -time.Minute},
		{name: "hint inside the backoff", hint: 100 * time.Millisecond},
		{name: "hint now", hint: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			expiry := clock.Now().Add(time.Hour)
			src := newFetchLog(clock, func(_ int, now time.Time) (*Token, error) {
				return &Token{Value: NewSecret("msal-cached"), Kind: KindBearer, Expiry: expiry, RefreshAt: now.Add(tc.hint)}, nil
			})
			c := NewCache(src, CacheOptions{Name: "msal", Now: clock.Now, Rand: func() float64 { return 0 }, Jitter: -1})
			for step := 0; step < 6000; step++ { // one simulated minute, a caller every 10 ms
				if got := mustToken(t, c); got != "msal-cached" {
					t.Fatalf("got %q", got)
				}
				settle(t, c)
				clock.Advance(10 * time.Millisecond)
			}
			checkFetchTimes(t, backoffSchedule, src.fetchTimes())
			if st := c.Stats(); !strings.Contains(st.LastError, "due for refresh") {
				t.Errorf("LastError = %q, want it to say the source's token was already due for refresh", st.LastError)
			}
		})
	}
}

// TestCacheRefreshHintRecoveryResetsTheBackoff: once the source hands out a
// token with a sane hint again, the backoff is over and the hint is
// followed.
func TestCacheRefreshHintRecoveryResetsTheBackoff(t *testing.T) {
	clock := newFakeClock()
	var healthy atomic.Bool
	src := newFetchLog(clock, func(n int, now time.Time) (*Token, error) {
		hint := now.Add(-time.Minute)
		if healthy.Load() {
			hint = now.Add(30 * time.Minute)
		}
		return &Token{Value: NewSecret(fmt.Sprintf("tok-%d", n)), Kind: KindBearer, Expiry: now.Add(time.Hour), RefreshAt: hint}, nil
	})
	c := NewCache(src, CacheOptions{Name: "msal", Now: clock.Now, Rand: func() float64 { return 0 }, Jitter: -1})
	mustToken(t, c)
	healthy.Store(true)
	clock.Advance(time.Second) // past the first backoff step (0.5 s)
	mustToken(t, c)            // starts the refresh in the background
	settle(t, c)
	if got := mustToken(t, c); got != "tok-2" {
		t.Fatalf("after recovery got %q, want tok-2", got)
	}
	if st := c.Stats(); st.LastError != "" || !st.RefreshAt.Equal(clock.Now().Add(30*time.Minute)) {
		t.Errorf("stats after recovery = %+v, want no error and the hint (in 30 min) followed", st)
	}
}

// TestCacheForegroundFetchesShareTheBackoff: with no valid token, 20
// callers every 10 ms against a source that fails make one fetch per
// backoff step, not one per caller; the callers in between get the last
// error at once, naming the provider and the cause, and do not count as
// waiting. Before the fix each failure was followed by a new fetch at once.
func TestCacheForegroundFetchesShareTheBackoff(t *testing.T) {
	clock := newFakeClock()
	src := newFetchLog(clock, func(int, time.Time) (*Token, error) {
		return nil, errors.New("identity endpoint: 503 Service Unavailable")
	})
	c := NewCache(src, CacheOptions{Name: "test-provider", Now: clock.Now, Rand: func() float64 { return 0 }, Jitter: -1})
	const callers = 20
	var errorsSeen atomic.Int64
	for step := 0; step < 6000; step++ { // one simulated minute
		var wg sync.WaitGroup
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := c.Token(context.Background())
				if err == nil {
					t.Error("got a token from a failing source")
					return
				}
				if !strings.Contains(err.Error(), "test-provider: no token") || !strings.Contains(err.Error(), "503 Service Unavailable") {
					t.Errorf("error %q does not name the provider and the cause", err)
				}
				errorsSeen.Add(1)
			}()
		}
		wg.Wait()
		clock.Advance(10 * time.Millisecond)
	}
	want := []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond, 3500 * time.Millisecond,
		7500 * time.Millisecond, 15500 * time.Millisecond, 30500 * time.Millisecond, 45500 * time.Millisecond}
	checkFetchTimes(t, want, src.fetchTimes())
	if st := c.Stats(); st.Waits > int64(len(want))*callers {
		t.Errorf("Waits = %d: callers that got the error at once were counted as waiting (at most %d can have waited)", st.Waits, len(want)*callers)
	}
	if got := errorsSeen.Load(); got != 6000*callers {
		t.Errorf("errors = %d, want every call (%d) to fail", got, 6000*callers)
	}
}

// gatedSource models a source with a cache of its own (azidentity): an
// unforced fetch returns the token it holds, a forced one mints a new one.
// Each call n blocks until release(n).
type gatedSource struct {
	mu     sync.Mutex
	held   *Token
	minted int
	calls  int
	gates  map[int]chan struct{}
}

func (s *gatedSource) gate(n int) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gates == nil {
		s.gates = map[int]chan struct{}{}
	}
	if s.gates[n] == nil {
		s.gates[n] = make(chan struct{})
	}
	return s.gates[n]
}

func (s *gatedSource) release(n int) { close(s.gate(n)) }

func (s *gatedSource) callCount() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

func (s *gatedSource) Token(ctx context.Context) (*Token, error) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	if s.held == nil || ForcedRefresh(ctx) {
		s.minted++
		s.held = &Token{Value: NewSecret(fmt.Sprintf("tok-%d", s.minted)), Kind: KindBearer, Expiry: time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC)}
	}
	answer := s.held // what it had when asked
	s.mu.Unlock()
	if n > 1 {
		select {
		case <-s.gate(n):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return answer, nil
}

// TestCacheInvalidateDuringBackgroundRefresh: a token rejected (Invalidate)
// while a background refresh is in flight is never handed out again: a
// caller arriving after the invalidation does not join the refresh that
// started before it (which the source answers from its cache with the
// rejected token), and that refresh, finishing last, does not put the
// rejected token back.
func TestCacheInvalidateDuringBackgroundRefresh(t *testing.T) {
	clock := newFakeClock()
	src := &gatedSource{}
	c := NewCache(src, CacheOptions{Name: "test-provider", Now: clock.Now, Rand: func() float64 { return 0 }, Jitter: -1})
	t.Cleanup(func() {
		for n := 2; n <= 4; n++ {
			select {
			case <-src.gate(n):
			default:
				src.release(n)
			}
		}
	})
	t1, err := c.Token(context.Background())
	if err != nil || t1.Value.Reveal() != "tok-1" {
		t.Fatalf("first token: %v, %v", t1, err)
	}
	clock.Advance(56 * time.Minute) // refresh window: a background refresh starts (call 2, held)
	if got := mustToken(t, c); got != "tok-1" {
		t.Fatalf("got %q", got)
	}
	eventually(t, "the background refresh to reach the source", func() bool { return src.callCount() == 2 })

	c.Invalidate(t1) // the endpoint rejected tok-1
	got := make(chan string, 1)
	go func() {
		tok, err := c.Token(context.Background())
		if err != nil {
			got <- err.Error()
			return
		}
		got <- tok.Value.Reveal()
	}()
	deadline := time.Now().Add(2 * time.Second)
	for src.callCount() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if src.callCount() < 3 {
		src.release(2)
		t.Fatalf("no new fetch after the invalidation; the caller got %q from the refresh started before it", <-got)
	}
	src.release(3) // the forced fetch: tok-2
	if v := <-got; v != "tok-2" {
		t.Fatalf("caller after Invalidate(tok-1) got %q, want tok-2", v)
	}
	src.release(2) // the old refresh finishes last, with tok-1 from the source's cache
	settle(t, c)
	for range 3 {
		if v := mustToken(t, c); v != "tok-2" {
			t.Fatalf("after the old refresh finished got %q, want tok-2", v)
		}
	}
}

// TestCacheInvalidateThenOldRefreshFinishes: with nobody asking in
// between, the refresh started before Invalidate(tok-1) must not store
// tok-1 as current when it finishes; the next caller gets a new token.
func TestCacheInvalidateThenOldRefreshFinishes(t *testing.T) {
	clock := newFakeClock()
	src := &gatedSource{}
	c := NewCache(src, CacheOptions{Name: "test-provider", Now: clock.Now, Rand: func() float64 { return 0 }, Jitter: -1})
	src.release(3)
	t1, _ := c.Token(context.Background())
	clock.Advance(56 * time.Minute)
	mustToken(t, c)
	eventually(t, "the background refresh to reach the source", func() bool { return src.callCount() == 2 })
	c.Invalidate(t1)
	src.release(2)
	settle(t, c)
	if v := mustToken(t, c); v != "tok-2" {
		t.Fatalf("after Invalidate(tok-1) and the old refresh finishing, got %q, want tok-2", v)
	}
}

// TestCacheCloseWaitsForTheFetchInFlight: Close returns only once the fetch
// goroutine has returned from the source, so that the source can be closed
// safely after it.
func TestCacheCloseWaitsForTheFetchInFlight(t *testing.T) {
	cancelled, release := make(chan struct{}), make(chan struct{})
	var returned atomic.Bool
	src := sourceFunc(func(ctx context.Context) (*Token, error) {
		<-ctx.Done()
		close(cancelled)
		<-release // the source takes a moment to wind down
		returned.Store(true)
		return nil, ctx.Err()
	})
	c := NewCache(src, CacheOptions{Name: "p"})
	ctx, cancel := context.WithCancel(context.Background())
	go c.Token(ctx)
	eventually(t, "the fetch", func() bool { return c.Stats().Fetches == 1 })
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	<-cancelled
	select {
	case <-closed:
		t.Error("Close returned while the fetch was still running in the source")
	case <-time.After(50 * time.Millisecond): // Close is blocked, as it should be
	}
	close(release)
	<-closed
	cancel()
	if !returned.Load() {
		t.Error("Close returned before the fetch goroutine")
	}
}

// TestCacheNoFetchAfterClose: a closed cache refuses callers with a clear
// error and never calls the source again.
func TestCacheNoFetchAfterClose(t *testing.T) {
	c, src, _ := newTestCache(time.Hour)
	c.Close()
	_, err := c.Token(context.Background())
	if err == nil || !strings.Contains(err.Error(), "test-provider") || !strings.Contains(err.Error(), "closed") {
		t.Errorf("err = %v, want one naming the provider and saying it is closed", err)
	}
	if n := src.calls.Load(); n != 0 {
		t.Errorf("source called %d times after Close", n)
	}
	if st := c.Stats(); st.Fetches != 0 || st.Waits != 0 {
		t.Errorf("stats after Close = %+v, want no fetch and no wait", st)
	}
}

// TestCacheTimerRechecksWhetherARefreshIsDue: the proactive timer runs on
// real time; when it fires and the cache's clock says the token is not due
// for refresh (the timer was overtaken by a newer token, or the clock is a
// fake one), it must not fetch. The timer here is due after 100 ms of real
// time; the fake clock never moves, so no refresh is ever due. A negative
// check needs a bound: 400 ms is four times the timer.
func TestCacheTimerRechecksWhetherARefreshIsDue(t *testing.T) {
	clock := newFakeClock()
	src := &scriptedSource{clock: clock, life: 200 * time.Millisecond}
	c := NewCache(src, CacheOptions{Name: "p", Now: clock.Now, Jitter: -1, Proactive: true})
	defer c.Close()
	mustToken(t, c)
	time.Sleep(400 * time.Millisecond)
	if n := src.calls.Load(); n != 1 {
		t.Errorf("fetches = %d, want 1: the timer refreshed a token that the cache's clock says is not due", n)
	}
}

// jwt builds an unsigned JWT with the given claims (the cache reads claims,
// it does not verify).
func jwt(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(claims) + ".sig"
}

// TestCacheTakesTheExpiryOfAJWTWithoutOne: a source that states no expiry
// but hands out a JWT (an exec plugin printing a bare token, a third-party
// plugin) gets the JWT's exp as expiry; a JWT whose exp is not after its
// iat or nbf is refused; an expiry the source states wins; an opaque token
// keeps no expiry.
func TestCacheTakesTheExpiryOfAJWTWithoutOne(t *testing.T) {
	clock := newFakeClock()
	now := clock.Now()
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	tests := []struct {
		name       string
		value      string
		expiry     time.Time // stated by the source
		wantExpiry time.Time
		wantErr    string
	}{
		{name: "exp only", value: jwt(map[string]any{"exp": at(8 * time.Second)}), wantExpiry: now.Add(8 * time.Second)},
		{name: "exp after iat and nbf", value: jwt(map[string]any{"iat": at(-time.Minute), "nbf": at(-time.Minute), "exp": at(time.Hour)}), wantExpiry: now.Add(time.Hour)},
		{name: "iat in the future (issuer's clock ahead) is tolerated", value: jwt(map[string]any{"iat": at(time.Minute), "exp": at(time.Hour)}), wantExpiry: now.Add(time.Hour)},
		{name: "stated expiry wins", value: jwt(map[string]any{"exp": at(time.Hour)}), expiry: now.Add(time.Minute), wantExpiry: now.Add(time.Minute)},
		{name: "opaque token: no expiry", value: "opaque-token", wantExpiry: time.Time{}},
		{name: "JWT without exp: no expiry", value: jwt(map[string]any{"sub": "x"}), wantExpiry: time.Time{}},
		{name: "exp already past", value: jwt(map[string]any{"exp": at(-time.Second)}), wantErr: "expired at 2026-01-01T11:59:59Z"},
		{name: "exp before iat", value: jwt(map[string]any{"iat": at(time.Hour), "exp": at(time.Minute)}), wantErr: "JWT whose exp (2026-01-01T12:01:00Z) is not after its iat (2026-01-01T13:00:00Z)"},
		{name: "exp before nbf", value: jwt(map[string]any{"nbf": at(time.Hour), "exp": at(time.Minute)}), wantErr: "JWT whose exp (2026-01-01T12:01:00Z) is not after its nbf (2026-01-01T13:00:00Z)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := &Token{Value: NewSecret(tc.value), Kind: KindBearer, Expiry: tc.expiry}
			c := NewCache(sourceFunc(func(context.Context) (*Token, error) { return orig, nil }), CacheOptions{Name: "p", Now: clock.Now})
			tok, err := c.Token(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "p: no token") {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), tc.value) {
					t.Errorf("error shows the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantExpiry, tok.Expiry); diff != "" {
				t.Errorf("expiry (-want +got):\n%s", diff)
			}
			if !orig.Expiry.Equal(tc.expiry) {
				t.Errorf("the source's token was modified: expiry %v", orig.Expiry)
			}
		})
	}
}

// TestCacheNeverServesAJWTPastItsExp: a bare JWT that lives 8 s is
// refreshed ahead of its exp and never served after it. Before the fix it
// was served forever.
func TestCacheNeverServesAJWTPastItsExp(t *testing.T) {
	clock := newFakeClock()
	var n atomic.Int64
	src := sourceFunc(func(context.Context) (*Token, error) {
		i := n.Add(1)
		return &Token{Value: NewSecret(jwt(map[string]any{"n": i, "exp": clock.Now().Add(8 * time.Second).Unix()})), Kind: KindBearer}, nil
	})
	c := NewCache(src, CacheOptions{Name: "p", Now: clock.Now, Jitter: -1})
	first, _ := c.Token(context.Background())
	for range 20 { // 20 s in steps of one second
		clock.Advance(time.Second)
		tok, err := c.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		claims, _ := ParseClaims(tok.Value)
		if !clock.Now().Before(claims.Expiry) {
			t.Fatalf("served a token past its exp (%s) at %s", claims.Expiry, clock.Now())
		}
		settle(t, c)
	}
	if tok, _ := c.Token(context.Background()); tok.Value.Equal(first.Value) {
		t.Error("still serving the first token")
	}
}

// TestCacheMaxAgeRefreshesOpaqueTokens: a token with no expiry is re-fetched
// in the background after MaxAge; a failed re-fetch keeps serving it and
// retries on the backoff; MaxAge 0 keeps it until invalidated.
func TestCacheMaxAgeRefreshesOpaqueTokens(t *testing.T) {
	tests := []struct {
		name   string
		maxAge time.Duration
		fail   bool
		want   []string // served at 0, 4 min, 6 min, 7 min
		// wantFetches: the refresh starts at 6 min in the background (the
		// caller then still gets the old token); a failed one is retried
		// at 7 min, past the backoff.
		wantFetches, wantFailures int64
	}{
		{name: "max age 5 min", maxAge: 5 * time.Minute, want: []string{"opaque-1", "opaque-1", "opaque-1", "opaque-2"}, wantFetches: 2},
		{name: "refresh fails: old token kept", maxAge: 5 * time.Minute, fail: true, want: []string{"opaque-1", "opaque-1", "opaque-1", "opaque-1"}, wantFetches: 3, wantFailures: 2},
		{name: "max age 0: never re-fetched", want: []string{"opaque-1", "opaque-1", "opaque-1", "opaque-1"}, wantFetches: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			var n atomic.Int64
			src := sourceFunc(func(context.Context) (*Token, error) {
				if n.Load() > 0 && tc.fail {
					n.Add(1)
					return nil, errors.New("gateway: 503")
				}
				return &Token{Value: NewSecret(fmt.Sprintf("opaque-%d", n.Add(1))), Kind: KindAPIKey}, nil
			})
			c := NewCache(src, CacheOptions{Name: "p", Now: clock.Now, Rand: func() float64 { return 0 }, Jitter: -1, MaxAge: tc.maxAge})
			var got []string
			for _, d := range []time.Duration{0, 4 * time.Minute, 2 * time.Minute, time.Minute} {
				clock.Advance(d)
				got = append(got, mustToken(t, c))
				settle(t, c)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("served (-want +got):\n%s", diff)
			}
			st := c.Stats()
			if diff := cmp.Diff([]int64{tc.wantFetches, tc.wantFailures}, []int64{st.Fetches, st.Failures}); diff != "" {
				t.Errorf("fetches, failures (-want +got):\n%s", diff)
			}
			if tc.fail && !strings.Contains(st.LastError, "503") {
				t.Errorf("LastError = %q, want the failed re-fetch", st.LastError)
			}
		})
	}
}

// TestCacheProactiveTimerFollowsTheBackoffOnAPastHint is the issue's
// observation on real time: with the proactive timer, a source that keeps
// answering with a past refresh hint made the timer fire at once after
// every fetch (~31,000 fetches in 200 ms). With the first backoff step
// (Rand 0: 500 ms) no second fetch may happen within 300 ms.
func TestCacheProactiveTimerFollowsTheBackoffOnAPastHint(t *testing.T) {
	var fetches atomic.Int64
	src := sourceFunc(func(context.Context) (*Token, error) {
		fetches.Add(1)
		now := time.Now()
		return &Token{Value: NewSecret("msal-cached"), Kind: KindBearer, Expiry: now.Add(time.Hour), RefreshAt: now.Add(-time.Minute)}, nil
	})
	c := NewCache(src, CacheOptions{Name: "msal", Proactive: true, Rand: func() float64 { return 0 }, Jitter: -1})
	mustToken(t, c)
	time.Sleep(300 * time.Millisecond)
	c.Close()
	if n := fetches.Load(); n != 1 {
		t.Errorf("fetches in 300 ms = %d, want 1 (the next is due after the 500 ms backoff)", n)
	}
}
