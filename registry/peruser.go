package registry

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byokcred/byokcred/credential"
)

// DefaultMaxUsers bounds the per-user caches of one per-user source.
const DefaultMaxUsers = 10000

// DefaultMaxUserBytes bounds the memory the per-user caches of one per-user
// source hold, as estimated per user: the user's token, the token minted
// for it and userEntryOverhead. 10,000 users with typical Entra tokens
// (1.5 to 3 KB each) take about 150 MiB, so with ordinary tokens the count
// bound is reached first; the byte bound is what stops clients sending
// large tokens (net/http admits a megabyte of headers, the proxy 64 KiB)
// from filling the heap by the gigabyte.
const DefaultMaxUserBytes = 256 << 20

// userEntryOverhead is the estimated heap of one user's cache besides the
// two tokens: its credential (an azidentity on-behalf-of credential with its
// own token cache), the token cache and the bookkeeping here.
// BenchmarkPerUserFootprint measures about 10.9 KB per cached user, tokens
// included; this rounds up.
const userEntryOverhead = 12 << 10

// DefaultNewUserRate and DefaultNewUserBurst limit how fast a per-user
// source exchanges user tokens it has not seen before (a token bucket per
// provider): each such token costs a request to the identity provider, and
// anyone who can reach the proxy can invent tokens. An exchange that
// succeeds gives its draw back, so the bucket is spent by refused and
// unfinished exchanges: a client sending junk tokens spends at most 20 of
// the application's identity-provider requests a second (the identity
// provider throttles the whole application, not one user), while real
// users signing in are limited only by such a flood or more than 100 of
// them at the same instant. Users whose token is cached are never limited.
const (
	DefaultNewUserRate  = 20
	DefaultNewUserBurst = 100
)

// refusedTTL is how long a user token the identity provider refused is
// answered from a digest without another exchange; maxRefused bounds how
// many digests are kept (about 100 bytes each).
const (
	refusedTTL = 5 * time.Minute
	maxRefused = 4096
)

// ErrNeedsUser is returned (wrapped) when a per-user provider is asked for a
// token with no user: such a provider has no identity of its own to serve.
var ErrNeedsUser = errors.New("the credential acts on behalf of a user: create the session for a user (session.Factory.SessionConfigFor)")

// ErrUserRejected is wrapped by errors of per-user sources when the user's
// token itself was not accepted (expired, revoked, not for this
// application), as opposed to the identity provider failing: a proxy answers
// the first with 401 so the client signs in again.
var ErrUserRejected = errors.New("the user's token was not accepted")

// UserLimitError is returned (wrapped) when a per-user source was asked to
// exchange a user token it has not seen before faster than
// DefaultNewUserRate allows. Try again after RetryAfter.
type UserLimitError struct {
	RetryAfter time.Duration
}

func (e *UserLimitError) Error() string {
	return fmt.Sprintf("too many new user tokens to exchange at once (at most %d per second); try again in %s", DefaultNewUserRate, e.RetryAfter.Round(time.Millisecond))
}

// needsUser is the Source of a per-user provider.
type needsUser struct{}

func (needsUser) Token(context.Context) (*credential.Token, error) { return nil, ErrNeedsUser }

// IsPerUser reports whether p mints tokens on behalf of users: such a
// provider serves only sessions created for a user (ForUser).
func (p *Provider) IsPerUser() bool { return p.users != nil }

// ForUser returns p's token source for one user's sessions: each token it
// returns was minted on behalf of the user whose current token user returns
// (the application keeps that token fresh). Hold one per session; the
// per-user caches behind it are shared by every session of the same user
// token. user is asked before every model request and should answer from
// memory, like x/oauth2's ReuseTokenSource; the token_timeout bounds only
// the exchange, not user.
func (p *Provider) ForUser(user credential.TokenSource) (*UserSource, error) {
	if user == nil {
		return nil, fmt.Errorf("provider %s: ForUser with a nil user token source", p.Name)
	}
	if p.users == nil {
		return nil, fmt.Errorf("provider %s: its credential does not act on behalf of users; its tokens are the program's own identity (create the session without a user)", p.Name)
	}
	return &UserSource{p: p, user: user}, nil
}

// UserSource is one user's view of a per-user provider. It is safe for
// concurrent use.
type UserSource struct {
	p    *Provider
	user credential.TokenSource
	// last remembers the user token seen last and its cache, so that the
	// warm path of a session whose user token has not changed skips the
	// hash and the shared map.
	last atomic.Pointer[userMemo]
}

type userMemo struct {
	userTok *credential.Token
	expiry  time.Time // the user token's, read once
	cache   *credential.Cache
}

var _ credential.TokenSource = (*UserSource)(nil)

// Token returns a currently valid token minted on behalf of the user, within
// ctx and the config's token_timeout. Its errors are *credential.TokenError
// naming the provider and the user (never the user's token); a refused user
// token wraps ErrUserRejected, the new-user limit *UserLimitError (and
// sets Retry).
func (u *UserSource) Token(ctx context.Context) (*credential.Token, error) {
	p := u.p
	// The user's source is asked under the caller's context: it answers
	// from memory (the application holds the user's token), and a timer
	// per call would cost more than the rest of the warm path.
	ut, err := u.user.Token(ctx)
	if err != nil {
		return nil, &credential.TokenError{Provider: p.Name, Kind: p.AuthType, Op: "the user's own token", Err: err}
	}
	if ut == nil || ut.Value.IsZero() {
		return nil, &credential.TokenError{Provider: p.Name, Kind: p.AuthType, Op: "the user's token source returned an empty token"}
	}
	if m := u.last.Load(); m != nil && m.userTok == ut {
		if m.expiry.IsZero() || p.users.opts.Now().Before(m.expiry) {
			if tok, ok := m.cache.Fresh(); ok {
				return tok, nil
			}
		}
	}
	timeout := p.timeout()
	fetchCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Looked up again rather than taken from the memo: the memo's cache may
	// have been evicted (and closed) since.
	e, err := p.users.cacheFor(ut)
	if err != nil {
		te := p.tokenError(ctx, timeout, "", err)
		if limit := (*UserLimitError)(nil); errors.As(err, &limit) {
			te.Retry = p.users.opts.Now().Add(limit.RetryAfter)
		}
		return nil, te
	}
	m := &userMemo{userTok: ut, expiry: userExpiry(ut), cache: e.cache}
	u.last.Store(m)
	tok, err := m.cache.Token(fetchCtx)
	if err == nil {
		p.users.account(e, tok)
	}
	if err != nil {
		// Kept, a refused token would hold a cache until evicted: a client
		// inventing tokens would push every real user out. So would one
		// whose exchanges fail otherwise (a source that does not say the
		// user's token was the problem): a cache that never minted a token
		// goes too. Not when only this caller gave up waiting: the
		// exchange may still succeed.
		if rejected := errors.Is(err, ErrUserRejected); rejected || fetchCtx.Err() == nil {
			if p.users.failed(e, rejected) {
				u.last.CompareAndSwap(m, nil)
			}
		}
		return nil, p.tokenError(ctx, timeout, userName(ut), err)
	}
	return tok, nil
}

// userCaches holds one token cache per user token for a per-user source,
// least recently used first out, and drops a user's cache once the user's
// token has expired (nothing can be minted from it any more).
type userCaches struct {
	// mint returns the source of tokens minted for one user (the kind's
	// Result.PerUser); src is the kind's source, closed with the caches.
	mint     func(user credential.TokenSource) credential.TokenSource
	src      credential.TokenSource
	opts     credential.CacheOptions
	max      int
	maxBytes int64
	// rate (tokens per second) and burst shape the bucket new user tokens
	// draw from.
	rate, burst float64

	mu        sync.Mutex
	byKey     map[[sha256.Size]byte]*list.Element
	lru       *list.List // of *userEntry, most recently used at the front
	bytes     int64      // the entries' estimated sizes, summed
	nextSweep time.Time
	evicted   int64
	// refused holds digests of user tokens the identity provider refused,
	// oldest at the back, so they are answered without another exchange.
	refused    map[[sha256.Size]byte]*list.Element
	refusedLRU *list.List // of *refusedEntry
	nRefused   int64
	// bucket and filled are the new-user token bucket: tokens available
	// when last filled.
	bucket  float64
	filled  time.Time
	limited int64
}

type userEntry struct {
	key    [sha256.Size]byte
	expiry time.Time // of the user's token: the entry is useless after it
	cache  *credential.Cache
	// size is the entry's estimated heap; guarded by userCaches.mu.
	size int64
	// minted is the length of the token last minted, counted in size.
	minted int
}

type refusedEntry struct {
	key   [sha256.Size]byte
	until time.Time
}

func newUserCaches(mint func(credential.TokenSource) credential.TokenSource, src credential.TokenSource, opts credential.CacheOptions, max int) *userCaches {
	if max <= 0 {
		max = DefaultMaxUsers
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	// No timer per user: thousands of users would mean thousands of timers.
	// A user's token is refreshed ahead when the user's session asks inside
	// the refresh window.
	opts.Proactive = false
	return &userCaches{
		mint: mint, src: src, opts: opts, max: max, maxBytes: DefaultMaxUserBytes,
		rate: DefaultNewUserRate, burst: DefaultNewUserBurst, bucket: DefaultNewUserBurst,
		byKey: map[[sha256.Size]byte]*list.Element{}, lru: list.New(),
		refused: map[[sha256.Size]byte]*list.Element{}, refusedLRU: list.New(),
	}
}

// userName names a user in errors and logs by the token's digest and the
// oid or sub it claims, never by the token. The claims are not verified
// here (only the identity provider can): a forged token may claim anyone,
// so the claim is never presented as who the user is.
func userName(ut *credential.Token) string {
	c, ok := credential.ParseClaims(ut.Value)
	switch {
	case !ok:
		return "user (opaque token " + ut.Value.Fingerprint() + ")"
	case c.ObjectID != "":
		return "token " + ut.Value.Fingerprint() + " claiming user oid=" + claimValue(c.ObjectID)
	case c.Subject != "":
		return "token " + ut.Value.Fingerprint() + " claiming user sub=" + claimValue(c.Subject)
	}
	return "user (token " + ut.Value.Fingerprint() + ")"
}

// claimValue renders an unverified claim for a log line: as it is when it
// is plain, quoted when it holds anything (a newline, a quote, a space)
// that could pass for more of the line.
func claimValue(v string) string {
	if q := strconv.Quote(v); q[1:len(q)-1] != v || strings.ContainsAny(v, " =") {
		return q
	}
	return v
}

// userExpiry is when the user's token stops being usable as an assertion.
func userExpiry(ut *credential.Token) time.Time {
	if !ut.Expiry.IsZero() {
		return ut.Expiry
	}
	if c, ok := credential.ParseClaims(ut.Value); ok {
		return c.Expiry
	}
	return time.Time{}
}

func (uc *userCaches) checkUserToken(ut *credential.Token) error {
	if exp := userExpiry(ut); !exp.IsZero() && !uc.opts.Now().Before(exp) {
		return fmt.Errorf("%s: the user's token expired at %s; the application must hand in a fresh one: %w", userName(ut), exp.UTC().Format(time.RFC3339), ErrUserRejected)
	}
	return nil
}

// cacheFor returns the cache entry for the user token ut, creating it.
// Caches are keyed by a hash of the whole token, not by its claims: the
// claims are not verified here, and a token forged with another user's oid
// must never be served that user's cached token. Each distinct user token is
// checked by the identity provider once: a token it refused is answered
// from its digest for refusedTTL, and tokens not seen before are exchanged
// at most at the new-user rate.
func (uc *userCaches) cacheFor(ut *credential.Token) (*userEntry, error) {
	if err := uc.checkUserToken(ut); err != nil {
		return nil, err
	}
	key := sha256.Sum256([]byte(ut.Value.Reveal()))
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if el, ok := uc.byKey[key]; ok {
		uc.lru.MoveToFront(el)
		return el.Value.(*userEntry), nil
	}
	now := uc.opts.Now()
	if el, ok := uc.refused[key]; ok {
		if r := el.Value.(*refusedEntry); now.Before(r.until) {
			return nil, fmt.Errorf("%s: the identity provider refused this token less than %s ago; not asking again: %w", userName(ut), refusedTTL, ErrUserRejected)
		}
		uc.refusedLRU.Remove(el)
		delete(uc.refused, key)
	}
	if !now.Before(uc.nextSweep) {
		uc.sweepLocked(now)
	}
	if wait := uc.takeLocked(now); wait > 0 {
		uc.limited++
		return nil, fmt.Errorf("%s: %w", userName(ut), &UserLimitError{RetryAfter: wait})
	}
	opts := uc.opts
	// The provider's name comes with the caller's error; the cache names
	// the user.
	opts.Name = userName(ut)
	e := &userEntry{
		key: key, expiry: userExpiry(ut), cache: credential.NewCache(uc.mint(fixedToken{ut}), opts),
		size: userEntryOverhead + int64(ut.Value.Len()),
	}
	uc.byKey[key] = uc.lru.PushFront(e)
	uc.bytes += e.size
	uc.boundLocked()
	return e, nil
}

// boundLocked evicts the least recently used entries while the count or the
// estimated bytes are over their bounds; the most recent entry stays.
func (uc *userCaches) boundLocked() {
	for uc.lru.Len() > 1 && (uc.lru.Len() > uc.max || uc.bytes > uc.maxBytes) {
		uc.removeLocked(uc.lru.Back())
		uc.evicted++
	}
}

// takeLocked takes one token from the new-user bucket, returning 0, or
// returns how long until one is available.
func (uc *userCaches) takeLocked(now time.Time) time.Duration {
	if uc.rate <= 0 {
		return 0
	}
	if !uc.filled.IsZero() && now.After(uc.filled) {
		uc.bucket = min(uc.burst, uc.bucket+now.Sub(uc.filled).Seconds()*uc.rate)
	}
	uc.filled = now
	if uc.bucket >= 1 {
		uc.bucket--
		return 0
	}
	return time.Duration((1 - uc.bucket) / uc.rate * float64(time.Second))
}

// account adds the token minted for e to e's estimated size, evicting other
// users if that crosses the bound.
func (uc *userCaches) account(e *userEntry, tok *credential.Token) {
	n := tok.Value.Len()
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if e.minted == n {
		return
	}
	if el, ok := uc.byKey[e.key]; !ok || el.Value != e {
		return // evicted meanwhile: no longer counted
	}
	uc.bytes += int64(n - e.minted)
	e.size += int64(n - e.minted)
	if e.minted == 0 {
		// The first token minted for this user: the exchange it drew from
		// the new-user bucket goes back, so only refused (and unfinished)
		// exchanges spend it and real users signing in are not limited by
		// one another.
		uc.bucket = min(uc.burst, uc.bucket+1)
	}
	e.minted = n
	uc.boundLocked()
}

// failed drops e after a failed exchange when its user token was refused
// (rejected), remembering the token's digest for refusedTTL, or when e never
// minted a token. It reports whether e was dropped.
func (uc *userCaches) failed(e *userEntry, rejected bool) bool {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	el, ok := uc.byKey[e.key]
	if !ok || el.Value != e {
		return true // another waiter on the same exchange got here first
	}
	if !rejected {
		if e.minted > 0 {
			return false // a known user: its cache backs off and retries
		}
		uc.removeLocked(el)
		return true
	}
	uc.removeLocked(el)
	uc.nRefused++
	until := uc.opts.Now().Add(refusedTTL)
	if rel, ok := uc.refused[e.key]; ok {
		rel.Value.(*refusedEntry).until = until
		uc.refusedLRU.MoveToFront(rel)
		return true
	}
	uc.refused[e.key] = uc.refusedLRU.PushFront(&refusedEntry{key: e.key, until: until})
	for uc.refusedLRU.Len() > maxRefused {
		delete(uc.refused, uc.refusedLRU.Remove(uc.refusedLRU.Back()).(*refusedEntry).key)
	}
	return true
}

// sweepLocked drops every entry whose user token has expired. It runs at
// most once a minute, so the cost of a full pass stays off most inserts.
func (uc *userCaches) sweepLocked(now time.Time) {
	uc.nextSweep = now.Add(time.Minute)
	for el := uc.lru.Back(); el != nil; {
		prev := el.Prev()
		if e := el.Value.(*userEntry); !e.expiry.IsZero() && !now.Before(e.expiry) {
			uc.removeLocked(el)
			uc.evicted++
		}
		el = prev
	}
}

func (uc *userCaches) removeLocked(el *list.Element) {
	e := uc.lru.Remove(el).(*userEntry)
	delete(uc.byKey, e.key)
	uc.bytes -= e.size
	// A session still holding this cache keeps using it; closing only
	// stops its refreshes from starting anew, and it has no timer.
	go e.cache.Close()
}

// Len returns how many users have a cache (for tests and metrics).
func (uc *userCaches) Len() int {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	return uc.lru.Len()
}

// Close closes every user's cache and the per-user source.
func (uc *userCaches) Close() error {
	uc.mu.Lock()
	var caches []*credential.Cache
	for el := uc.lru.Front(); el != nil; el = el.Next() {
		caches = append(caches, el.Value.(*userEntry).cache)
	}
	uc.lru.Init()
	clear(uc.byKey)
	uc.bytes = 0
	uc.mu.Unlock()
	for _, c := range caches {
		c.Close()
	}
	if c, ok := uc.src.(credential.Closer); ok {
		return c.Close()
	}
	return nil
}

// UserStats are counters of a per-user provider's caches.
type UserStats struct {
	// Users is how many user tokens have a cache now; Evicted how many
	// caches were dropped (expired user token or over a bound).
	Users   int
	Evicted int64
	// Bytes is the caches' estimated heap (see DefaultMaxUserBytes).
	Bytes int64
	// Refused counts user tokens the identity provider refused (their
	// caches are dropped at once); Limited the requests for a new user
	// token turned away by the new-user rate.
	Refused, Limited int64
}

// UserStats returns p's per-user counters (zero for other providers).
func (p *Provider) UserStats() UserStats {
	if p.users == nil {
		return UserStats{}
	}
	p.users.mu.Lock()
	defer p.users.mu.Unlock()
	uc := p.users
	return UserStats{Users: uc.lru.Len(), Evicted: uc.evicted, Bytes: uc.bytes, Refused: uc.nRefused, Limited: uc.limited}
}

// fixedToken is the user-token source a PerUser source is built on: the
// one user token a cache entry belongs to.
type fixedToken struct{ tok *credential.Token }

func (f fixedToken) Token(context.Context) (*credential.Token, error) { return f.tok, nil }
