package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Cache defaults.
const (
	// DefaultRefreshMargin is how long before expiry a token is refreshed
	// (azcore uses the same five minutes). It is capped at half the token's
	// lifetime, so short-lived tokens are refreshed half way through.
	DefaultRefreshMargin = 5 * time.Minute
	// DefaultExpirySkew is how long before its expiry a token stops being
	// served, so that a token is still valid when the request carrying it
	// arrives. Capped at half the refresh margin.
	DefaultExpirySkew = 10 * time.Second
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait between failed
	// background refreshes.
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 30 * time.Second
	// DefaultFetchTimeout bounds one fetch from the underlying source.
	DefaultFetchTimeout = time.Minute
)

// CacheOptions configure a Cache. The zero value gives the defaults above.
type CacheOptions struct {
	// Name identifies the cache in errors and logs (the provider name).
	Name string
	// RefreshMargin: refresh this long before expiry (capped at half the
	// token's lifetime).
	RefreshMargin time.Duration
	// ExpirySkew: stop serving a token this long before its expiry.
	ExpirySkew time.Duration
	// Jitter is the fraction of the margin by which each refresh is moved
	// earlier at random, so that a fleet started together does not refresh
	// in lockstep. Default 0.1; negative disables.
	Jitter float64
	// MinBackoff and MaxBackoff bound the exponential backoff between failed
	// background refreshes.
	MinBackoff, MaxBackoff time.Duration
	// FetchTimeout bounds one fetch from the source.
	FetchTimeout time.Duration
	// MaxAge bounds how long a token that states no expiry (an opaque token
	// from a plugin) is served before it is re-fetched in the background.
	// Zero keeps such a token until it is invalidated.
	MaxAge time.Duration
	// Now is the clock; Rand returns a float in [0,1). Both injectable for
	// tests.
	Now  func() time.Time
	Rand func() float64
	// Logger receives refresh failures (never tokens).
	Logger *slog.Logger
	// OnFetch, when set, is called after every fetch from the source with
	// how long it took and its error (metrics).
	OnFetch func(took time.Duration, err error)
	// Proactive refreshes on a timer at the refresh time (and retries on
	// the backoff schedule) even when nobody asks, so that a session idle
	// for an hour still finds a valid token in hand. Without it, refresh is
	// started by the first caller inside the refresh window. Timers run on
	// real time, so leave it off with a fake clock.
	Proactive bool
}

// CacheStats are counters for the CLI, metrics and benchmarks.
type CacheStats struct {
	// Fetches counts calls to the underlying source; Failures those that
	// failed.
	Fetches, Failures int64
	// Hits counts tokens served from memory; Waits counts callers that had
	// to wait for a fetch because no valid token was in hand.
	Hits, Waits int64
	// Expiry is the current token's expiry (zero: none or never).
	Expiry time.Time
	// RefreshAt is when the next background refresh is due.
	RefreshAt time.Time
	// LastError is the last fetch failure's message, "" after a success.
	LastError string
}

// entry is an immutable snapshot of the cached token and its schedule. The
// warm path reads it with one atomic load.
type entry struct {
	tok       *Token
	refreshAt time.Time // start a background refresh from here on
	staleAt   time.Time // stop serving from here on
}

// flight is one fetch in progress; waiters block on done.
type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

// Cache wraps a TokenSource with the behaviour every caller of an identity
// provider needs, once:
//
//   - the current token is served from memory while fresh (one atomic load,
//     no allocation);
//   - ahead of expiry it is refreshed in the background, by one goroutine,
//     while callers keep getting the still-valid token;
//   - only a caller holding no valid token waits, and only as long as its
//     context allows; concurrent waiters share one fetch;
//   - a failed refresh keeps the valid token in service and is retried with
//     capped exponential backoff and jitter; the error reaches callers only
//     once the token has actually expired, naming the cache and the cause.
//
// It plays the role of x/oauth2's ReuseTokenSource, with refresh moved off
// the callers' path. A Cache is safe for concurrent use.
type Cache struct {
	src  TokenSource
	opts CacheOptions

	cur atomic.Pointer[entry]
	// hits is counted on every warm call, from every core at once.
	hits stripedCounter

	waits, fetches, failures atomic.Int64

	mu          sync.Mutex
	inflight    *flight
	nextAttempt time.Time // no background refresh before this (backoff)
	backoff     time.Duration
	lastErr     error
	forced      atomic.Bool // next fetch bypasses the source's own cache

	timer  *time.Timer // the proactive refresh; guarded by mu
	closed bool

	ctx    context.Context // cancelled by Close; parent of every fetch
	cancel context.CancelFunc
}

var _ TokenSource = (*Cache)(nil)

// NewCache wraps src.
func NewCache(src TokenSource, opts CacheOptions) *Cache {
	if opts.RefreshMargin <= 0 {
		opts.RefreshMargin = DefaultRefreshMargin
	}
	if opts.ExpirySkew <= 0 {
		opts.ExpirySkew = DefaultExpirySkew
	}
	if opts.Jitter == 0 {
		opts.Jitter = 0.1
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Cache{src: src, opts: opts, ctx: ctx, cancel: cancel}
}

// Fresh returns the cached token if it may be served now, without blocking
// and without starting a fetch. It is the allocation-free fast path for
// callers that have no context at hand.
func (c *Cache) Fresh() (*Token, bool) {
	e := c.cur.Load()
	if e == nil {
		return nil, false
	}
	now := c.opts.Now()
	if now.Before(e.refreshAt) {
		c.hits.Add()
		return e.tok, true
	}
	return nil, false
}

// Token implements TokenSource.
func (c *Cache) Token(ctx context.Context) (*Token, error) {
	e := c.cur.Load()
	if e != nil {
		now := c.opts.Now()
		if now.Before(e.refreshAt) {
			c.hits.Add()
			return e.tok, nil
		}
		if now.Before(e.staleAt) {
			// Due for refresh but still valid: refresh in the background
			// and serve what we have.
			c.refreshInBackground(now)
			c.hits.Add()
			return e.tok, nil
		}
	}
	return c.wait(ctx)
}

// refreshInBackground starts a fetch unless one is running or backoff
// forbids it.
func (c *Cache) refreshInBackground(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.inflight != nil || now.Before(c.nextAttempt) {
		return
	}
	c.startLocked()
}

// wait blocks until a fetch started by (or shared with) this caller ends, or
// ctx is done.
func (c *Cache) wait(ctx context.Context) (*Token, error) {
	c.waits.Add(1)
	c.mu.Lock()
	// Another caller may have stored a token while we took the lock.
	if e := c.cur.Load(); e != nil && c.opts.Now().Before(e.staleAt) {
		c.mu.Unlock()
		return e.tok, nil
	}
	f := c.inflight
	if f == nil {
		f = c.startLocked()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return nil, f.err
		}
		return f.tok, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("provider: %s: waiting for a token: %w", c.name(), ctx.Err())
	}
}

// startLocked starts a fetch; c.mu must be held.
func (c *Cache) startLocked() *flight {
	f := &flight{done: make(chan struct{})}
	c.inflight = f
	c.fetches.Add(1)
	go c.fetch(f)
	return f
}

func (c *Cache) name() string {
	if c.opts.Name == "" {
		return "token cache"
	}
	return c.opts.Name
}

// fetch runs one fetch with its own deadline: it is shared by every waiter,
// so no single caller's cancellation may abort it.
func (c *Cache) fetch(f *flight) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.FetchTimeout)
	began := time.Now()
	tok, err := c.src.Token(withForced(ctx, c.forced.Swap(false)))
	took := time.Since(began)
	cancel()
	now := c.opts.Now()
	if err == nil {
		switch {
		case tok == nil || tok.Value.IsZero():
			err = errors.New("source returned an empty token")
		case tok.Expired(now):
			err = fmt.Errorf("source returned a token that expired at %s", tok.Expiry.UTC().Format(time.RFC3339))
		default:
			err = checkFetched(tok)
		}
	}

	if c.opts.OnFetch != nil {
		c.opts.OnFetch(took, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight = nil
	if err != nil {
		c.failures.Add(1)
		c.lastErr = err
		c.backoff = min(max(c.backoff*2, c.opts.MinBackoff), c.opts.MaxBackoff)
		// Full jitter on the upper half keeps retries spread out.
		delay := c.backoff/2 + time.Duration(c.opts.Rand()*float64(c.backoff/2))
		c.nextAttempt = now.Add(delay)
		if e := c.cur.Load(); e != nil && now.Before(e.staleAt) {
			c.opts.Logger.Warn("token refresh failed; still serving the current token",
				"cache", c.name(), "expires_in", e.tok.Expiry.Sub(now).Round(time.Second), "retry_in", delay.Round(time.Millisecond), "err", err)
			f.tok = e.tok
			c.armLocked(delay)
		} else {
			f.err = c.expiredError(e, err)
		}
		close(f.done)
		return
	}
	c.lastErr, c.backoff, c.nextAttempt = nil, 0, time.Time{}
	e := c.schedule(tok, now)
	c.cur.Store(e)
	c.armLocked(e.refreshAt.Sub(now))
	f.tok = tok
	close(f.done)
}

// armLocked schedules the next proactive refresh; c.mu must be held.
func (c *Cache) armLocked(d time.Duration) {
	if !c.opts.Proactive || c.closed || d > 1<<61 {
		return
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer = time.AfterFunc(max(d, 0), func() {
		if e := c.cur.Load(); e != nil {
			c.refreshInBackground(c.opts.Now())
		}
	})
}

func (c *Cache) expiredError(e *entry, cause error) error {
	if e == nil {
		return fmt.Errorf("provider: %s: no token: %w", c.name(), cause)
	}
	return fmt.Errorf("provider: %s: token expired at %s and refresh failed: %w", c.name(), e.tok.Expiry.UTC().Format(time.RFC3339), cause)
}

// schedule computes when tok is refreshed and when it stops being served.
func (c *Cache) schedule(tok *Token, now time.Time) *entry {
	if tok.Expiry.IsZero() {
		never := time.Unix(1<<62, 0)
		return &entry{tok: tok, refreshAt: never, staleAt: never}
	}
	life := tok.Expiry.Sub(now)
	margin := min(c.opts.RefreshMargin, life/2)
	skew := min(c.opts.ExpirySkew, margin/2)
	if c.opts.Jitter > 0 {
		margin += time.Duration(c.opts.Rand() * c.opts.Jitter * float64(margin))
	}
	refreshAt := tok.Expiry.Add(-margin)
	if !tok.RefreshAt.IsZero() && tok.RefreshAt.Before(refreshAt) {
		refreshAt = tok.RefreshAt
	}
	return &entry{tok: tok, refreshAt: refreshAt, staleAt: tok.Expiry.Add(-skew)}
}

// Invalidate tells the cache that tok was rejected (an upstream 401): if it
// is still the current token, it is dropped and the next fetch asks the
// source to bypass its own caches. Invalidating a token that has already
// been replaced does nothing, so a burst of rejections of one old token
// causes one refresh, not many. A nil tok drops whatever is current.
func (c *Cache) Invalidate(tok *Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cur.Load()
	if e == nil || (tok != nil && e.tok != tok && !e.tok.Value.Equal(tok.Value)) {
		return
	}
	c.cur.Store(nil)
	c.forced.Store(true)
	if c.timer != nil {
		c.timer.Stop()
	}
	c.nextAttempt = time.Time{}
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() CacheStats {
	s := CacheStats{Fetches: c.fetches.Load(), Failures: c.failures.Load(), Hits: c.hits.Load(), Waits: c.waits.Load()}
	if e := c.cur.Load(); e != nil && e.tok.Expiry.Unix() > 0 {
		s.Expiry, s.RefreshAt = e.tok.Expiry, e.refreshAt
	}
	c.mu.Lock()
	if c.lastErr != nil {
		s.LastError = c.lastErr.Error()
	}
	c.mu.Unlock()
	return s
}

// Close cancels any fetch in progress and closes the wrapped source if it
// holds resources.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	c.cancel()
	if cl, ok := c.src.(Closer); ok {
		return cl.Close()
	}
	return nil
}

type forcedKey struct{}

func withForced(ctx context.Context, forced bool) context.Context {
	if !forced {
		return ctx
	}
	return context.WithValue(ctx, forcedKey{}, true)
}

// ForcedRefresh reports whether the fetch running under ctx was caused by an
// invalidation: a source with a cache of its own (azidentity's) should
// bypass it.
func ForcedRefresh(ctx context.Context) bool {
	v, _ := ctx.Value(forcedKey{}).(bool)
	return v
}
