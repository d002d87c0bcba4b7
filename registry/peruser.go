package registry

import (
	"container/list"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byokcred/byokcred/config"
	"github.com/byokcred/byokcred/provider"
)

// PerUser is implemented by token sources that mint tokens on behalf of a
// user (OAuth 2.0 on-behalf-of, RFC 8693 token exchange) instead of as the
// program's own identity. The registry never asks such a source for a token
// of its own: it calls SourceFor with one user's current token (a source
// that always returns that token) and caches what the returned source mints,
// per user token.
type PerUser interface {
	SourceFor(user provider.TokenSource) provider.TokenSource
}

// DefaultMaxUsers bounds the per-user caches of one per-user source.
const DefaultMaxUsers = 10000

// ErrNeedsUser is returned (wrapped) when a per-user provider is asked for a
// token with no user: such a provider has no identity of its own to serve.
var ErrNeedsUser = errors.New("the credential acts on behalf of a user: create the session for a user (session.Factory.SessionConfigFor)")

// ErrUserRejected is wrapped by errors of per-user sources when the user's
// token itself was not accepted (expired, revoked, not for this
// application), as opposed to the identity provider failing: a proxy answers
// the first with 401 so the client signs in again.
var ErrUserRejected = errors.New("the user's token was not accepted")

// needsUser is the Source of a per-user provider.
type needsUser struct{}

func (needsUser) Token(context.Context) (*provider.Token, error) { return nil, ErrNeedsUser }

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
func (p *Provider) ForUser(user provider.TokenSource) (*UserSource, error) {
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
	user provider.TokenSource
	// last remembers the user token seen last and its cache, so that the
	// warm path of a session whose user token has not changed skips the
	// hash and the shared map.
	last atomic.Pointer[userMemo]
}

type userMemo struct {
	userTok *provider.Token
	expiry  time.Time // the user token's, read once
	cache   *provider.Cache
}

var _ provider.TokenSource = (*UserSource)(nil)

// Token returns a currently valid token minted on behalf of the user, within
// ctx and the config's token_timeout.
func (u *UserSource) Token(ctx context.Context) (*provider.Token, error) {
	p := u.p
	// The user's source is asked under the caller's context: it answers
	// from memory (the application holds the user's token), and a timer
	// per call would cost more than the rest of the warm path.
	ut, err := u.user.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("provider %s: the user's own token: %w", p.Name, err)
	}
	if ut == nil || ut.Value.IsZero() {
		return nil, fmt.Errorf("provider %s: the user's token source returned an empty token", p.Name)
	}
	if m := u.last.Load(); m != nil && m.userTok == ut {
		if m.expiry.IsZero() || p.users.opts.Now().Before(m.expiry) {
			if tok, ok := m.cache.Fresh(); ok {
				return tok, nil
			}
		}
	}
	timeout := p.tokenTimeout
	if timeout <= 0 {
		timeout = config.DefaultTokenTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Looked up again rather than taken from the memo: the memo's cache may
	// have been evicted (and closed) since.
	c, err := p.users.cacheFor(ut)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", p.Name, err)
	}
	m := &userMemo{userTok: ut, expiry: userExpiry(ut), cache: c}
	u.last.Store(m)
	tok, err := m.cache.Token(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("provider %s: no credential within %s (token_timeout): %w", p.Name, timeout, err)
		}
		return nil, fmt.Errorf("provider %s: %w", p.Name, err)
	}
	return tok, nil
}

// userCaches holds one token cache per user token for a per-user source,
// least recently used first out, and drops a user's cache once the user's
// token has expired (nothing can be minted from it any more).
type userCaches struct {
	src  PerUser
	opts provider.CacheOptions
	max  int

	mu        sync.Mutex
	byKey     map[[sha256.Size]byte]*list.Element
	lru       *list.List // of *userEntry, most recently used at the front
	nextSweep time.Time
	evicted   int64
}

type userEntry struct {
	key    [sha256.Size]byte
	expiry time.Time // of the user's token: the entry is useless after it
	cache  *provider.Cache
}

func newUserCaches(src PerUser, opts provider.CacheOptions, max int) *userCaches {
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
	return &userCaches{src: src, opts: opts, max: max, byKey: map[[sha256.Size]byte]*list.Element{}, lru: list.New()}
}

// userName names a user in errors and logs by the token's oid or sub claim,
// never by the token.
func userName(ut *provider.Token) string {
	c, ok := provider.ParseClaims(ut.Value)
	switch {
	case !ok:
		return "user (opaque token " + ut.Value.Fingerprint() + ")"
	case c.ObjectID != "":
		return "user oid=" + c.ObjectID
	case c.Subject != "":
		return "user sub=" + c.Subject
	}
	return "user (token " + ut.Value.Fingerprint() + ")"
}

// userExpiry is when the user's token stops being usable as an assertion.
func userExpiry(ut *provider.Token) time.Time {
	if !ut.Expiry.IsZero() {
		return ut.Expiry
	}
	if c, ok := provider.ParseClaims(ut.Value); ok {
		return c.Expiry
	}
	return time.Time{}
}

func (uc *userCaches) checkUserToken(ut *provider.Token) error {
	if exp := userExpiry(ut); !exp.IsZero() && !uc.opts.Now().Before(exp) {
		return fmt.Errorf("%s: the user's token expired at %s; the application must hand in a fresh one: %w", userName(ut), exp.UTC().Format(time.RFC3339), ErrUserRejected)
	}
	return nil
}

// cacheFor returns the cache for the user token ut, creating it. Caches are
// keyed by a hash of the whole token, not by its claims: the claims are not
// verified here, and a token forged with another user's oid must never be
// served that user's cached token. Each distinct user token is checked by
// the identity provider once.
func (uc *userCaches) cacheFor(ut *provider.Token) (*provider.Cache, error) {
	if err := uc.checkUserToken(ut); err != nil {
		return nil, err
	}
	key := sha256.Sum256([]byte(ut.Value.Reveal()))
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if el, ok := uc.byKey[key]; ok {
		uc.lru.MoveToFront(el)
		return el.Value.(*userEntry).cache, nil
	}
	now := uc.opts.Now()
	if !now.Before(uc.nextSweep) {
		uc.sweepLocked(now)
	}
	opts := uc.opts
	// The provider's name comes with the caller's error; the cache names
	// the user.
	opts.Name = userName(ut)
	e := &userEntry{key: key, expiry: userExpiry(ut), cache: provider.NewCache(uc.src.SourceFor(fixedToken{ut}), opts)}
	uc.byKey[key] = uc.lru.PushFront(e)
	for uc.lru.Len() > uc.max {
		uc.removeLocked(uc.lru.Back())
	}
	return e.cache, nil
}

// sweepLocked drops every entry whose user token has expired. It runs at
// most once a minute, so the cost of a full pass stays off most inserts.
func (uc *userCaches) sweepLocked(now time.Time) {
	uc.nextSweep = now.Add(time.Minute)
	for el := uc.lru.Back(); el != nil; {
		prev := el.Prev()
		if e := el.Value.(*userEntry); !e.expiry.IsZero() && !now.Before(e.expiry) {
			uc.removeLocked(el)
		}
		el = prev
	}
}

func (uc *userCaches) removeLocked(el *list.Element) {
	e := uc.lru.Remove(el).(*userEntry)
	delete(uc.byKey, e.key)
	uc.evicted++
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
	var caches []*provider.Cache
	for el := uc.lru.Front(); el != nil; el = el.Next() {
		caches = append(caches, el.Value.(*userEntry).cache)
	}
	uc.lru.Init()
	clear(uc.byKey)
	uc.mu.Unlock()
	for _, c := range caches {
		c.Close()
	}
	if c, ok := uc.src.(provider.Closer); ok {
		return c.Close()
	}
	return nil
}

// UserStats are counters of a per-user provider's caches.
type UserStats struct {
	// Users is how many user tokens have a cache now; Evicted how many
	// caches were dropped (expired user token or over the bound).
	Users   int
	Evicted int64
}

// UserStats returns p's per-user counters (zero for other providers).
func (p *Provider) UserStats() UserStats {
	if p.users == nil {
		return UserStats{}
	}
	p.users.mu.Lock()
	defer p.users.mu.Unlock()
	return UserStats{Users: p.users.lru.Len(), Evicted: p.users.evicted}
}

// fixedToken is the user-token source a PerUser source is built on: the
// one user token a cache entry belongs to.
type fixedToken struct{ tok *provider.Token }

func (f fixedToken) Token(context.Context) (*provider.Token, error) { return f.tok, nil }
