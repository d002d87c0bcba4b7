package registry

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
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/kind"
)

// exchangeAuth is a per-user auth type: its "identity provider" mints a
// token naming the user whose token it was handed.
type exchangeAuth struct {
	Scope string `yaml:"scope"`
}

func (a *exchangeAuth) Validate(*kind.Build) {}

func (a *exchangeAuth) Source(*kind.Build) (kind.Result, error) {
	f := &fakeExchange{scope: a.Scope, perUser: map[string]int{}}
	return kind.Result{Source: f, PerUser: f.SourceFor}, nil
}

func init() { kind.Register("test-exchange", func() kind.AuthConfig { return new(exchangeAuth) }) }

// fakeExchange stands for an on-behalf-of endpoint.
type fakeExchange struct {
	scope string
	now   func() time.Time // set by the test; nil means time.Now
	mu    sync.Mutex
	// perUser counts exchanges per user oid; attempts counts every
	// exchange asked for, refused ones included.
	perUser  map[string]int
	attempts int
	revoked  map[string]bool
	failing  map[string]bool // the identity provider fails for these oids
}

func (f *fakeExchange) Token(context.Context) (*credential.Token, error) { return nil, ErrNeedsUser }

type sourceFunc func(context.Context) (*credential.Token, error)

func (f sourceFunc) Token(ctx context.Context) (*credential.Token, error) { return f(ctx) }

func (f *fakeExchange) SourceFor(user credential.TokenSource) credential.TokenSource {
	return sourceFunc(func(ctx context.Context) (*credential.Token, error) {
		ut, err := user.Token(ctx)
		if err != nil {
			return nil, err
		}
		c, _ := credential.ParseClaims(ut.Value)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.attempts++
		if f.revoked[c.ObjectID] {
			return nil, fmt.Errorf("invalid_grant: the assertion was revoked (%w)", ErrUserRejected)
		}
		if f.failing[c.ObjectID] {
			return nil, errors.New("temporarily_unavailable: try again")
		}
		f.perUser[c.ObjectID]++
		now := time.Now()
		if f.now != nil {
			now = f.now()
		}
		return &credential.Token{
			Value:  credential.NewSecret(fmt.Sprintf("obo-%s-for-%s-%d", f.scope, c.ObjectID, f.perUser[c.ObjectID])),
			Kind:   credential.KindBearer,
			Expiry: now.Add(time.Hour),
		}, nil
	})
}

func (f *fakeExchange) attempted() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts
}

func (f *fakeExchange) exchanges(oid string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.perUser[oid]
}

func mintUserJWT(claims map[string]any) string {
	enc := base64.RawURLEncoding
	body, _ := json.Marshal(claims)
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString(body) + ".sig"
}

// userToken is a user's access token as the application holds it.
func userToken(oid string, exp time.Time) *credential.Token {
	return &credential.Token{
		Value:  credential.NewSecret(mintUserJWT(map[string]any{"oid": oid, "tid": "t1", "exp": exp.Unix(), "canary": "USER-CANARY-" + oid})),
		Kind:   credential.KindBearer,
		Expiry: exp,
	}
}

type fixedUser struct{ tok *credential.Token }

func (u fixedUser) Token(context.Context) (*credential.Token, error) { return u.tok, nil }

const exchangeConfig = `providers:
  gw:
    type: openai
    base_url: https://gw.example/v1
    model: m
    auth:
      type: test-exchange
      scope: s1
`

func loadPerUser(t *testing.T, opts Options) (*Set, *Provider, *fakeExchange) {
	t.Helper()
	opts.PerUser = true
	set, err := Load(configtest.Write(t, exchangeConfig), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { set.Close() })
	p, err := set.Provider("gw")
	if err != nil {
		t.Fatal(err)
	}
	return set, p, p.users.src.(*fakeExchange)
}

func TestPerUserRefusedWithoutUsers(t *testing.T) {
	path := configtest.Write(t, exchangeConfig)
	_, err := Load(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "providers.gw.auth") || !strings.Contains(err.Error(), "acts on behalf of each user") {
		t.Fatalf("err = %v, want a refusal at providers.gw.auth naming the per-user credential", err)
	}
	// A program (the CLI's chat) that can supply a user recognises the
	// refusal through the file's problem list, not by its words; the
	// library's words give a library caller no command-line advice.
	if !errors.Is(err, ErrNeedsUser) {
		t.Errorf("errors.Is(%v, ErrNeedsUser) = false, want true", err)
	}
	if strings.Contains(err.Error(), "byokcred ") {
		t.Errorf("err = %v, gives a library caller command-line advice", err)
	}
}

func TestPerUserProviderServesOnlyUsers(t *testing.T) {
	_, p, _ := loadPerUser(t, Options{})
	if _, err := p.Token(context.Background()); !errors.Is(err, ErrNeedsUser) {
		t.Errorf("Token without a user: err = %v, want ErrNeedsUser", err)
	}
	set, err := Load(configtest.Write(t, `providers:
  plain:
    type: openai
    base_url: https://gw.example/v1
    model: m
    auth: {type: test-echo, value: k}
`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	plain, _ := set.Provider("plain")
	if _, err := plain.ForUser(fixedUser{userToken("a", time.Now().Add(time.Hour))}); err == nil || !strings.Contains(err.Error(), "does not act on behalf of users") {
		t.Errorf("ForUser on a provider with its own identity: err = %v", err)
	}
}

// TestPerUserNeverCrossesUsers runs hundreds of users' sessions at once
// (-race) and checks each token names its own user, and each user costs one
// exchange however many sessions and requests it makes.
func TestPerUserNeverCrossesUsers(t *testing.T) {
	_, p, fx := loadPerUser(t, Options{})
	p.users.rate = 0 // hundreds of new users at the same instant
	const users, sessionsPerUser, requests = 300, 2, 20
	exp := time.Now().Add(time.Hour)
	toks := make([]*credential.Token, users)
	for i := range toks {
		toks[i] = userToken(fmt.Sprintf("oid-%03d", i), exp)
	}
	var wrong atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, users*sessionsPerUser)
	for i := range users * sessionsPerUser {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := i % users
			us, err := p.ForUser(fixedUser{toks[u]})
			if err != nil {
				errs <- err
				return
			}
			want := fmt.Sprintf("-for-oid-%03d-", u)
			for range requests {
				tok, err := us.Token(context.Background())
				if err != nil {
					errs <- err
					return
				}
				if !strings.Contains(tok.Value.Reveal(), want) {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := wrong.Load(); n != 0 {
		t.Errorf("%d tokens were minted for another user", n)
	}
	for i := range users {
		if n := fx.exchanges(fmt.Sprintf("oid-%03d", i)); n != 1 {
			t.Errorf("user %d: %d exchanges, want 1", i, n)
		}
	}
}

// TestPerUserForgedClaimsGetNoCachedToken: a token claiming a cached user's
// oid but differing in any byte is a different key, so it goes to the
// identity provider (which would reject a forgery) instead of being served
// the victim's token.
func TestPerUserForgedClaimsGetNoCachedToken(t *testing.T) {
	_, p, fx := loadPerUser(t, Options{})
	exp := time.Now().Add(time.Hour)
	victim := userToken("victim", exp)
	forged := &credential.Token{Value: credential.NewSecret(victim.Value.Reveal() + "x"), Kind: credential.KindBearer, Expiry: exp}
	for _, ut := range []*credential.Token{victim, forged} {
		us, _ := p.ForUser(fixedUser{ut})
		if _, err := us.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := fx.exchanges("victim"); n != 2 {
		t.Errorf("exchanges for victim's oid = %d, want 2 (the forged token must not share the victim's cache)", n)
	}
}

var ignoreBytes = cmpopts.IgnoreFields(UserStats{}, "Bytes")

func TestPerUserCachesBoundedAndEvictedAtExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, p, fx := loadPerUser(t, Options{Now: clock, MaxUsers: 3})
	fx.now = clock
	tokenFor := func(oid string, exp time.Time) {
		t.Helper()
		us, _ := p.ForUser(fixedUser{userToken(oid, exp)})
		if _, err := us.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	soon, later := now.Add(10*time.Minute), now.Add(2*time.Hour)
	tokenFor("a", soon)
	tokenFor("b", later)
	tokenFor("c", later)
	tokenFor("d", later) // over the bound: a (least recently used) goes
	if diff := cmp.Diff(UserStats{Users: 3, Evicted: 1}, p.UserStats(), ignoreBytes); diff != "" {
		t.Errorf("after 4 users with room for 3 (-want +got):\n%s", diff)
	}
	tokenFor("b", later) // b is now the most recently used
	mu.Lock()
	now = now.Add(90 * time.Minute) // past nobody's expiry but a's (gone)
	mu.Unlock()
	tokenFor("e", now.Add(time.Minute)) // c goes (least recently used)
	if diff := cmp.Diff(UserStats{Users: 3, Evicted: 2}, p.UserStats(), ignoreBytes); diff != "" {
		t.Errorf("after e (-want +got):\n%s", diff)
	}
	mu.Lock()
	now = now.Add(5 * time.Minute) // e's user token has expired
	mu.Unlock()
	tokenFor("f", now.Add(time.Hour))
	if diff := cmp.Diff(UserStats{Users: 3, Evicted: 3}, p.UserStats(), ignoreBytes); diff != "" {
		t.Errorf("after e expired and f arrived (-want +got):\n%s", diff)
	}
	if n := fx.exchanges("b"); n != 1 {
		t.Errorf("b: %d exchanges, want 1 (its cache survived as recently used)", n)
	}
}

func TestPerUserErrorsNameTheUser(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, p, fx := loadPerUser(t, Options{Now: clock})
	fx.now = clock
	fx.revoked = map[string]bool{"revoked-user": true, "x\nlevel=INFO msg=ok user oid=admin": true}
	expiring := userToken("expiring-user", now.Add(time.Minute))
	live, _ := p.ForUser(fixedUser{expiring})
	if _, err := live.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		advance time.Duration
		user    *credential.Token
		want    []string
	}{
		{"revoked", 0, userToken("revoked-user", now.Add(time.Hour)), []string{"provider gw", "claiming user oid=revoked-user", "invalid_grant"}},
		{"claim that could pass for more of the line", 0, userToken("x\nlevel=INFO msg=ok user oid=admin", now.Add(time.Hour)), []string{`claiming user oid="x\nlevel=INFO msg=ok user oid=admin":`}},
		{"expired before the first request", 0, userToken("old-user", now.Add(-time.Second)), []string{"provider gw", "claiming user oid=old-user", "expired at 2025-12-31T23:59:59Z", "fresh one"}},
		{"expired mid-session", 2 * time.Minute, expiring, []string{"provider gw", "claiming user oid=expiring-user", "expired at 2026-01-01T00:01:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			now = now.Add(tc.advance)
			mu.Unlock()
			us := live
			if tc.user != expiring {
				us, _ = p.ForUser(fixedUser{tc.user})
			}
			_, err := us.Token(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "USER-CANARY") || strings.Contains(err.Error(), tc.user.Value.Reveal()) {
				t.Errorf("error shows the user's token: %q", err)
			}
		})
	}
}

// TestPerUserRefusedTokensLeaveNoEntry: user tokens the identity provider
// refused hold no cache (a client inventing tokens would otherwise push
// every real user out), and the same refused token is answered without
// another exchange.
func TestPerUserRefusedTokensLeaveNoEntry(t *testing.T) {
	_, p, fx := loadPerUser(t, Options{})
	exp := time.Now().Add(time.Hour)
	fx.mu.Lock()
	fx.revoked = map[string]bool{}
	for i := range 50 {
		fx.revoked[fmt.Sprintf("junk-%02d", i)] = true
	}
	fx.mu.Unlock()
	real, _ := p.ForUser(fixedUser{userToken("real", exp)})
	if _, err := real.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	junk := make([]*credential.Token, 50)
	for i := range junk {
		junk[i] = userToken(fmt.Sprintf("junk-%02d", i), exp)
	}
	for round := range 2 {
		for _, ut := range junk {
			us, _ := p.ForUser(fixedUser{ut})
			if _, err := us.Token(context.Background()); !errors.Is(err, ErrUserRejected) {
				t.Fatalf("round %d: err = %v, want ErrUserRejected", round, err)
			}
		}
	}
	if diff := cmp.Diff(UserStats{Users: 1, Refused: 50}, p.UserStats(), ignoreBytes); diff != "" {
		t.Errorf("after 50 refused tokens, each sent twice (-want +got):\n%s", diff)
	}
	if got := fx.attempted(); got != 51 {
		t.Errorf("%d exchanges asked for; want 51 (the real user and each refused token once)", got)
	}
	if _, err := real.Token(context.Background()); err != nil || fx.exchanges("real") != 1 {
		t.Errorf("the real user: err = %v, %d exchanges; want its cached token", err, fx.exchanges("real"))
	}
}

// TestPerUserMemoryBoundEvicts: the caches are bounded by their estimated
// bytes as well as their count, the least recently used user going first,
// so a client sending large tokens cannot fill the heap.
func TestPerUserMemoryBoundEvicts(t *testing.T) {
	_, p, fx := loadPerUser(t, Options{})
	exp := time.Now().Add(time.Hour)
	p.users.maxBytes = 4 * (userEntryOverhead + 1024)
	tokenFor := func(ut *credential.Token) {
		t.Helper()
		us, _ := p.ForUser(fixedUser{ut})
		if _, err := us.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	small := func(oid string) *credential.Token { return userToken(oid, exp) }
	tokenFor(small("a"))
	tokenFor(small("b"))
	tokenFor(small("c"))
	tokenFor(small("d"))
	if diff := cmp.Diff(UserStats{Users: 4}, p.UserStats(), ignoreBytes); diff != "" {
		t.Errorf("four small users within the bound (-want +got):\n%s", diff)
	}
	tokenFor(small("a")) // a is now the most recently used
	// One large token (as a header may carry) costs the room of several.
	big := &credential.Token{Value: credential.NewSecret(mintUserJWT(map[string]any{"oid": "big", "exp": exp.Unix(), "pad": strings.Repeat("x", userEntryOverhead)})), Kind: credential.KindBearer}
	tokenFor(big)
	st := p.UserStats()
	if diff := cmp.Diff(UserStats{Users: 2, Evicted: 3}, st, ignoreBytes); diff != "" {
		t.Errorf("after a large token (-want +got):\n%s", diff)
	}
	if st.Bytes > p.users.maxBytes {
		t.Errorf("estimated bytes %d over the bound %d", st.Bytes, p.users.maxBytes)
	}
	tokenFor(small("a"))
	if n := fx.exchanges("a"); n != 1 {
		t.Errorf("a: %d exchanges, want 1 (the most recently used user survives)", n)
	}
	if n := fx.exchanges("b"); n != 1 {
		t.Fatalf("b: %d exchanges", n)
	}
	tokenFor(small("b"))
	if n := fx.exchanges("b"); n != 2 {
		t.Errorf("b: %d exchanges, want 2 (evicted as least recently used)", n)
	}
}

// TestPerUserNewTokensRateLimited: exchanges of tokens not seen before draw
// on a bucket per provider that refused exchanges spend (a successful one
// gives its draw back); a new token over the limit gets a UserLimitError
// with the wait and no exchange, while a user whose token is cached keeps
// being served.
func TestPerUserNewTokensRateLimited(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, p, fx := loadPerUser(t, Options{Now: clock})
	fx.now = clock
	fx.revoked = map[string]bool{"j1": true, "j2": true, "j3": true, "j4": true}
	p.users.rate, p.users.burst, p.users.bucket = 2, 3, 3
	exp := now.Add(time.Hour)
	var got []string
	ask := func(oid string) {
		us, _ := p.ForUser(fixedUser{userToken(oid, exp)})
		_, err := us.Token(context.Background())
		var le *UserLimitError
		switch {
		case err == nil:
			got = append(got, oid+": ok")
		case errors.As(err, &le):
			got = append(got, fmt.Sprintf("%s: limited, retry in %s", oid, le.RetryAfter))
		case errors.Is(err, ErrUserRejected):
			got = append(got, oid+": refused")
		default:
			t.Fatalf("%s: %v", oid, err)
		}
	}
	for _, oid := range []string{"cached", "j1", "j2", "j3", "n1", "cached", "j1"} {
		ask(oid)
	}
	mu.Lock()
	now = now.Add(500 * time.Millisecond)
	mu.Unlock()
	for _, oid := range []string{"n1", "n2", "j4", "n3"} {
		ask(oid)
	}
	want := []string{
		"cached: ok", "j1: refused", "j2: refused", "j3: refused", "n1: limited, retry in 500ms", "cached: ok", "j1: refused",
		"n1: ok", "n2: ok", "j4: refused", "n3: limited, retry in 500ms",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(UserStats{Users: 3, Refused: 4, Limited: 2}, p.UserStats(), ignoreBytes); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := fx.attempted(); n != 7 {
		t.Errorf("%d exchanges asked for, want 7 (cached, j1-j4, n1, n2 once each)", n)
	}
}

// TestPerUserFailedFirstExchangeLeavesNoEntry: a user token whose first
// exchange failed for another reason than a refusal (a source that cannot
// tell, an identity provider failing) holds no cache either, and is
// exchanged again when asked again; a user whose token was minted before
// keeps its cache through a failing refresh.
func TestPerUserFailedFirstExchangeLeavesNoEntry(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	_, p, fx := loadPerUser(t, Options{Now: clock})
	fx.now = clock
	known := userToken("known", now.Add(3*time.Hour))
	us, _ := p.ForUser(fixedUser{known})
	if _, err := us.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	fx.mu.Lock()
	fx.failing = map[string]bool{"known": true, "new": true}
	fx.mu.Unlock()
	mu.Lock()
	now = now.Add(2 * time.Hour) // known's minted token has expired
	mu.Unlock()
	if _, err := us.Token(context.Background()); err == nil {
		t.Fatal("known: no error while the identity provider fails")
	}
	for range 2 {
		nu, _ := p.ForUser(fixedUser{userToken("new", now.Add(time.Hour))})
		if _, err := nu.Token(context.Background()); err == nil || errors.Is(err, ErrUserRejected) {
			t.Fatalf("new: err = %v, want the identity provider's failure", err)
		}
	}
	if diff := cmp.Diff(UserStats{Users: 1}, p.UserStats(), ignoreBytes); diff != "" {
		t.Errorf("only the known user keeps a cache (-want +got):\n%s", diff)
	}
	if n := fx.attempted(); n != 4 {
		t.Errorf("%d exchanges asked for, want 4 (known twice, new twice: no digest for a failure)", n)
	}
}
