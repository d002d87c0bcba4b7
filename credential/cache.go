package credential

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
	// Name identifies the cache in logs and errors (the provider name; it
	// is the Provider of the cache's [TokenError]s).
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
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// failed fetches, background and foreground alike.
	MinBackoff, MaxBackoff time.Duration
	// FetchTimeout bounds one fetch from the source.
	FetchTimeout time.Duration
	// MaxAge bounds how long a token that states no expiry (an opaque token
	// from a plugin) is served before it is re-fetched in the background.
	// A failed re-fetch keeps serving it (nothing says it has expired) and
	// is retried on the backoff. Zero keeps such a token until it is
	// invalidated. A JWT's exp counts as a stated expiry.
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
	// real time; when one fires, the cache checks with Now whether a
	// refresh is due, so a fake clock merely keeps them from fetching.
	Proactive bool
}

// CacheStats are counters for the CLI, metrics and benchmarks.
type CacheStats struct {
	// Fetches counts calls to the underlying source; Failures those that
	// failed.
	Fetches, Failures int64
	// Hits counts tokens served from memory; Waits counts callers that
	// waited for a fetch because no valid token was in hand (not those
	// answered at once with the last error during the backoff).
	Hits, Waits int64
	// Expiry is the current token's expiry (zero: none or never).
	Expiry time.Time
	// RefreshAt is when the next background refresh is due (zero: never).
	RefreshAt time.Time
	// LastError is why the last fetch made no progress: its failure, or a
	// token already due for refresh (see [Cache]). "" after a fetch that
	// made progress.
	LastError string
}

// never is the refresh and stale time of a token that does not expire.
var never = time.Unix(1<<62, 0)

// entry is an immutable snapshot of the cached token and its schedule. The
// warm path reads it with one atomic load.
type entry struct {
	tok       *Token
	refreshAt time.Time // start a background refresh from here on
	staleAt   time.Time // stop serving from here on
}

// flight is one fetch in progress; waiters block on done.
type flight struct {
	done   chan struct{}
	tok    *Token
	err    error
	gen    uint64 // the cache's generation when the fetch started
	forced bool
	// stale is set when Invalidate ran while the fetch was in flight: its
	// answer may be the rejected token, so nobody gets it and its waiters
	// ask again.
	stale bool
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
//     once the token has actually expired: a [*TokenError] naming the
//     cache, the cause and when the next attempt is due.
//
// Outages. The backoff paces every fetch, background and foreground: while
// no valid token is in hand, at most one fetch runs per backoff step
// however many callers ask, and a caller arriving between two steps gets
// the last error at once (naming the cache, the cause and when the next
// attempt is due) rather than waiting for the next step: the Copilot
// runtime retries a failed token callback on its own, and a request held
// for up to 30 s on a provider that is known to be down helps nobody. A
// fetch that returns a token whose refresh-at hint is sooner than the
// backoff allows — MSAL hands back its cached token with a RefreshOn in the
// past while its own refresh fails — counts as a refresh that made no
// progress: the token is served (it is valid) and the next attempt waits
// for the backoff.
//
// Lifetimes. A token whose source states no expiry gets the exp of its JWT,
// if it is one; an opaque one is re-fetched after [CacheOptions.MaxAge].
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
	gen         uint64    // bumped by Invalidate
	forced      bool      // the next fetch bypasses the source's own cache
	nextAttempt time.Time // no fetch before this (backoff)
	backoff     time.Duration
	lastErr     error

	timer  *time.Timer // the proactive refresh; guarded by mu
	closed bool
	// fetching counts fetch goroutines, for Close to wait on.
	fetching sync.WaitGroup

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
	if opts.MaxAge < 0 {
		opts.MaxAge = 0
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

// refreshInBackground starts a fetch unless one is running, backoff
// forbids it, or the token in hand is no longer due (a fetch replaced it).
func (c *Cache) refreshInBackground(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.inflight != nil || now.Before(c.nextAttempt) {
		return
	}
	if e := c.cur.Load(); e == nil || now.Before(e.refreshAt) {
		return
	}
	c.startLocked()
}

// wait serves a caller that holds no valid token: it joins the fetch in
// flight, starts one if the backoff allows, or else returns the last error
// at once. It blocks until the fetch ends or ctx is done.
func (c *Cache) wait(ctx context.Context) (*Token, error) {
	counted := false
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, &TokenError{Provider: c.opts.Name, Op: "token cache closed"}
		}
		now := c.opts.Now()
		// Another caller may have stored a token while we took the lock.
		e := c.cur.Load()
		if e != nil && now.Before(e.staleAt) {
			c.mu.Unlock()
			return e.tok, nil
		}
		f := c.inflight
		if f == nil {
			if now.Before(c.nextAttempt) && c.lastErr != nil {
				err := c.expiredError(e, c.lastErr)
				err.retryIn = c.nextAttempt.Sub(now)
				c.mu.Unlock()
				return nil, err
			}
			f = c.startLocked()
		}
		c.mu.Unlock()
		if !counted {
			c.waits.Add(1)
			counted = true
		}
		select {
		case <-f.done:
			if f.stale {
				continue // started before an Invalidate: ask again
			}
			if f.err != nil {
				return nil, f.err
			}
			return f.tok, nil
		case <-ctx.Done():
			return nil, &TokenError{Provider: c.opts.Name, Op: "waiting for a token", Err: ctx.Err()}
		}
	}
}

// startLocked starts a fetch; c.mu must be held and c not closed.
func (c *Cache) startLocked() *flight {
	f := &flight{done: make(chan struct{}), gen: c.gen, forced: c.forced}
	c.forced = false
	c.inflight = f
	c.fetches.Add(1)
	c.fetching.Add(1)
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
	defer c.fetching.Done()
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.FetchTimeout)
	began := time.Now()
	tok, err := c.src.Token(withForced(ctx, f.forced))
	took := time.Since(began)
	cancel()
	now := c.opts.Now()
	if err == nil {
		tok, err = c.check(tok, now)
	}

	if c.opts.OnFetch != nil {
		c.opts.OnFetch(took, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer close(f.done)
	if c.inflight == f {
		c.inflight = nil
	}
	if err != nil {
		c.failures.Add(1)
	}
	if f.gen != c.gen {
		// Invalidate ran meanwhile: this answer may be the rejected token
		// (a source with a cache of its own returns it to an unforced
		// fetch), so it is neither stored nor handed out.
		f.stale = true
		return
	}
	if err != nil {
		c.lastErr = err
		delay := c.backOffLocked(now)
		if e := c.cur.Load(); e != nil && now.Before(e.staleAt) {
			c.opts.Logger.Warn("token refresh failed; still serving the current token",
				"cache", c.name(), "expires_in", expiresIn(e.tok, now), "retry_in", delay.Round(time.Millisecond), "err", err)
			f.tok = e.tok
			c.armLocked(delay)
		} else {
			f.err = c.expiredError(e, err)
		}
		return
	}
	e := c.schedule(tok, now)
	if hint := tok.RefreshAt; !hint.IsZero() && hint.Before(now.Add(c.nextBackoff()/2)) {
		// The source's own refresh is failing (MSAL returns its cached
		// token with a past RefreshOn and no error): taking the hint would
		// refresh in a loop, so this counts as a refresh without progress.
		c.lastErr = fmt.Errorf("source returned a token already due for refresh (at %s): its own refresh is failing", hint.UTC().Format(time.RFC3339))
		delay := c.backOffLocked(now)
		e.refreshAt = later(e.refreshAt, c.nextAttempt)
		c.opts.Logger.Warn("token source returned a token due for refresh; retrying on the backoff",
			"cache", c.name(), "expires_in", expiresIn(tok, now), "retry_in", delay.Round(time.Millisecond))
	} else {
		c.lastErr, c.backoff, c.nextAttempt = nil, 0, time.Time{}
	}
	c.cur.Store(e)
	c.armLocked(e.refreshAt.Sub(now))
	f.tok = tok
}

// check refuses tokens that cannot be served and gives a JWT without a
// stated expiry its exp.
func (c *Cache) check(tok *Token, now time.Time) (*Token, error) {
	if tok == nil || tok.Value.IsZero() {
		return nil, errors.New("source returned an empty token")
	}
	if err := checkFetched(tok); err != nil {
		return nil, err
	}
	if tok.Expiry.IsZero() {
		exp, err := JWTExpiry(tok.Value)
		if err != nil {
			return nil, err
		}
		if !exp.IsZero() {
			withExpiry := *tok // the source's token is shared: never modify it
			withExpiry.Expiry = exp
			tok = &withExpiry
		}
	}
	if tok.Expired(now) {
		return nil, fmt.Errorf("source returned a token that expired at %s", tok.Expiry.UTC().Format(time.RFC3339))
	}
	return tok, nil
}

// nextBackoff is the backoff step after the current one.
func (c *Cache) nextBackoff() time.Duration {
	return min(max(c.backoff*2, c.opts.MinBackoff), c.opts.MaxBackoff)
}

// backOffLocked moves to the next backoff step and returns the delay until
// the next attempt; c.mu must be held.
func (c *Cache) backOffLocked(now time.Time) time.Duration {
	c.backoff = c.nextBackoff()
	// Full jitter on the upper half keeps retries spread out.
	delay := c.backoff/2 + time.Duration(c.opts.Rand()*float64(c.backoff/2))
	c.nextAttempt = now.Add(delay)
	return delay
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func expiresIn(tok *Token, now time.Time) any {
	if tok.Expiry.IsZero() {
		return "never"
	}
	return tok.Expiry.Sub(now).Round(time.Second)
}

// armLocked schedules the next proactive refresh; c.mu must be held.
func (c *Cache) armLocked(d time.Duration) {
	if !c.opts.Proactive || c.closed || d > 1<<61 {
		return
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.timer = time.AfterFunc(max(d, 0), c.timerFired)
}

// timerFired starts the proactive refresh if it is still due: a timer may
// fire after a newer token replaced the one it was armed for, or (real
// time against the cache's clock) before the refresh is due.
func (c *Cache) timerFired() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.inflight != nil {
		return // the fetch in flight arms the next timer
	}
	e := c.cur.Load()
	if e == nil {
		return // invalidated: the next caller fetches
	}
	now := c.opts.Now()
	if due := later(e.refreshAt, c.nextAttempt); now.Before(due) {
		c.armLocked(due.Sub(now))
		return
	}
	c.startLocked()
}

// expiredError is the error of a caller that holds no valid token (e, if
// not nil, expired) after the fetch that failed with cause; the next
// attempt is due at c.nextAttempt. c.mu must be held.
func (c *Cache) expiredError(e *entry, cause error) *TokenError {
	te := &TokenError{Provider: c.opts.Name, Op: "no token", Err: cause, Retry: c.nextAttempt}
	if e != nil {
		te.Op = "token expired at " + e.tok.Expiry.UTC().Format(time.RFC3339) + " and refresh failed"
	}
	return te
}

// schedule computes when tok is refreshed and when it stops being served.
func (c *Cache) schedule(tok *Token, now time.Time) *entry {
	if tok.Expiry.IsZero() {
		refreshAt := never
		if c.opts.MaxAge > 0 {
			age := c.opts.MaxAge
			if c.opts.Jitter > 0 {
				age -= time.Duration(c.opts.Rand() * c.opts.Jitter * float64(age))
			}
			refreshAt = now.Add(age)
		}
		if !tok.RefreshAt.IsZero() && tok.RefreshAt.Before(refreshAt) {
			refreshAt = tok.RefreshAt
		}
		return &entry{tok: tok, refreshAt: refreshAt, staleAt: never}
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
// source to bypass its own caches, without waiting for the backoff. A fetch
// already in flight then is disowned: its answer (possibly tok again, from
// the source's cache) is neither stored nor handed out, and its waiters
// ask again. Invalidating a token that has already been replaced does
// nothing, so a burst of rejections of one old token causes one refresh,
// not many. A nil tok drops whatever is current.
func (c *Cache) Invalidate(tok *Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cur.Load()
	if e == nil || (tok != nil && e.tok != tok && !e.tok.Value.Equal(tok.Value)) {
		return
	}
	c.cur.Store(nil)
	c.gen++
	c.forced = true
	c.inflight = nil
	if c.timer != nil {
		c.timer.Stop()
	}
	c.nextAttempt = time.Time{}
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() CacheStats {
	s := CacheStats{Fetches: c.fetches.Load(), Failures: c.failures.Load(), Hits: c.hits.Load(), Waits: c.waits.Load()}
	if e := c.cur.Load(); e != nil {
		s.Expiry = e.tok.Expiry
		if e.refreshAt.Before(never) {
			s.RefreshAt = e.refreshAt
		}
	}
	c.mu.Lock()
	if c.lastErr != nil {
		s.LastError = c.lastErr.Error()
	}
	c.mu.Unlock()
	return s
}

// Close cancels any fetch in progress, waits for its goroutine to return
// (so that no fetch runs after Close), and closes the wrapped source if it
// holds resources. Callers after Close get an error.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	c.cancel()
	c.fetching.Wait()
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
