package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/byokcred/byokcred/credential"
)

// The identity provider's load during an outage (figures 9 and 10), on a
// simulated clock.
const (
	outageCallers = 100
	outageTick    = 200 * time.Millisecond // each caller asks once per tick
	outageLife    = time.Hour              // the token in hand when the outage begins
	outageLead    = 10 * time.Minute       // the source fails from this long before that token expires
	outageWindow  = 5 * time.Minute        // attempts are counted from the expiry for this long
	outageRecover = 2 * time.Minute        // after the window: how long the driver waits for a token

	pastHintRate   = 20 // requests per second
	pastHintWindow = 10 * time.Minute
)

// outageSource is an identity provider on the simulated clock that answers
// at once: healthy, a one-hour token; failing, an error. It records the
// simulated time of every attempt.
type outageSource struct {
	clk     *simClock
	failing atomic.Bool

	mu       sync.Mutex
	attempts []time.Time
}

func (s *outageSource) fetch() (string, time.Time, error) {
	now := s.clk.Now()
	s.mu.Lock()
	s.attempts = append(s.attempts, now)
	n := len(s.attempts)
	s.mu.Unlock()
	if s.failing.Load() {
		return "", time.Time{}, fmt.Errorf("identity endpoint: 503 Service Unavailable")
	}
	return fmt.Sprintf("outage-token-%d", n), now.Add(outageLife), nil
}

// Token implements credential.TokenSource.
func (s *outageSource) Token(context.Context) (*credential.Token, error) {
	v, exp, err := s.fetch()
	if err != nil {
		return nil, err
	}
	return &credential.Token{Value: credential.NewSecret(v), Kind: credential.KindBearer, Expiry: exp}, nil
}

// attemptsIn counts the attempts in [from, to).
func (s *outageSource) attemptsIn(from, to time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, at := range s.attempts {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// backoffMaxAttempts is the most fetch attempts the cache's backoff allows
// in window: one at its start, then one after each delay at its shortest
// (half the step; the step doubles from DefaultMinBackoff to
// DefaultMaxBackoff), as if the backoff started afresh at the window.
func backoffMaxAttempts(window time.Duration) int {
	n, step, t := 1, time.Duration(0), time.Duration(0)
	for {
		step = min(max(2*step, credential.DefaultMinBackoff), credential.DefaultMaxBackoff)
		t += step / 2
		if t >= window {
			return n
		}
		n++
	}
}

// BenchmarkOutageLoad is figure 9: outageCallers callers each ask for a
// token every outageTick of simulated time while the identity provider is
// down, from outageLead before the token in hand expires until outageWindow
// after. attempts is the number of fetch attempts the provider received in
// the outageWindow after expiry (when no caller holds a valid token);
// backoff-max is the most the cache's backoff schedule allows in that
// window; recovery-s is the simulated time from the provider's recovery
// until callers get a token again. ns/op is the real time one simulated
// outage took.
//
//   - byokcred-cache: credential.NewCache with the defaults the registry uses.
//   - oauth2-ReuseTokenSource: x/oauth2's ReuseTokenSource on the same
//     clock: no backoff, one attempt per call once the token has expired.
//   - azcore-BearerTokenPolicy-model: the azcore model of figure 3: its 30 s
//     spacing holds only while the token is valid.
func BenchmarkOutageLoad(b *testing.B) {
	b.Run("byokcred-cache", func(b *testing.B) {
		runOutages(b, func(clk *simClock, src *outageSource) (func() error, func()) {
			c, settle := newSimCache(src, "outage", clk)
			b.Cleanup(func() { c.Close() })
			ctx := context.Background()
			return func() error {
				_, err := c.Token(ctx)
				return err
			}, settle
		})
		b.ReportMetric(float64(backoffMaxAttempts(outageWindow)), "backoff-max")
	})
	b.Run("oauth2-ReuseTokenSource", func(b *testing.B) {
		runOutages(b, func(clk *simClock, src *outageSource) (func() error, func()) {
			old := oauth2Now
			oauth2Now = clk.Now
			b.Cleanup(func() { oauth2Now = old })
			ts := oauth2.ReuseTokenSource(nil, tokenSourceFunc(func() (*oauth2.Token, error) {
				v, exp, err := src.fetch()
				if err != nil {
					return nil, err
				}
				return &oauth2.Token{AccessToken: v, TokenType: "Bearer", Expiry: exp}, nil
			}))
			return func() error {
				_, err := ts.Token()
				return err
			}, func() {}
		})
	})
	b.Run("azcore-BearerTokenPolicy-model", func(b *testing.B) {
		runOutages(b, func(clk *simClock, src *outageSource) (func() error, func()) {
			m := newAzcoreRefreshModel(clk.Now, src.fetch)
			return func() error {
				_, err := m.Get()
				return err
			}, func() {}
		})
	})
}

// newSimCache is a credential.Cache with the registry's defaults on the
// simulated clock, and settle, which waits until every fetch the cache has
// started has read the clock at its end: a background refresh runs on its
// own goroutine, and the driver must not move the clock under it.
func newSimCache(src credential.TokenSource, name string, clk *simClock) (*credential.Cache, func()) {
	var ended atomic.Int64
	c := credential.NewCache(src, credential.CacheOptions{Name: name, Now: clk.Now, OnFetch: func(time.Duration, error) { ended.Add(1) }})
	return c, func() {
		for c.Stats().Fetches != ended.Load() {
			runtime.Gosched()
		}
	}
}

// runOutages simulates one outage per iteration, each with a fresh clock,
// source and implementation from setup (which returns the call and a
// function that waits for the work the call left running).
func runOutages(b *testing.B, setup func(*simClock, *outageSource) (func() error, func())) {
	var attempts, recovery float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		clk := newSimClock()
		src := &outageSource{clk: clk}
		get, settle := setup(clk, src)
		b.StartTimer()
		if err := get(); err != nil { // the token in hand
			b.Fatal(err)
		}
		expiry := clk.Now().Add(outageLife)
		src.failing.Store(true)
		clk.ns.Store(int64(outageLife - outageLead))
		end := expiry.Add(outageWindow)
		for clk.Now().Before(end) {
			askAll(get)
			settle()
			clk.ns.Add(int64(outageTick))
		}
		attempts += float64(src.attemptsIn(expiry, end))
		src.failing.Store(false)
		recovered := clk.Now()
		for askAll(get) > 0 {
			if clk.Now().Sub(recovered) > outageRecover {
				b.Fatalf("no token %s after the identity provider recovered", outageRecover)
			}
			settle()
			clk.ns.Add(int64(outageTick))
		}
		recovery += clk.Now().Sub(recovered).Seconds()
	}
	b.ReportMetric(attempts/float64(b.N), "attempts")
	b.ReportMetric(recovery/float64(b.N), "recovery-s")
	b.ReportMetric(outageCallers, "callers")
}

// askAll has every caller ask once, concurrently, and returns how many got
// an error.
func askAll(get func() error) int {
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range outageCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if get() != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(failed.Load())
}

// msalStyleSource is azidentity's credential while MSAL's own refresh
// fails: it answers at once, with no error, with its cached token — valid
// for another 30 minutes — and a RefreshOn that has already passed.
type msalStyleSource struct {
	token    *credential.Token
	attempts atomic.Int64
}

func (s *msalStyleSource) Token(context.Context) (*credential.Token, error) {
	s.attempts.Add(1)
	return s.token, nil
}

// BenchmarkPastRefreshHint is figure 10: pastHintRate requests per second
// for pastHintWindow of simulated time against an msalStyleSource.
// fetches/min is the source's calls per simulated minute; backoff-max/min is
// the most the cache's backoff schedule allows per minute over the window.
//
//   - byokcred-cache: credential.NewCache with the registry's defaults.
//   - per-request: every request asks the source (a token callback calling
//     GetToken itself; byokcred's cache did the same before issue 12 once
//     the hint had passed, from its background refresh).
func BenchmarkPastRefreshHint(b *testing.B) {
	b.Run("byokcred-cache", func(b *testing.B) {
		runPastHint(b, func(src credential.TokenSource, clk *simClock) (func() error, func()) {
			c, settle := newSimCache(src, "msal", clk)
			b.Cleanup(func() { c.Close() })
			ctx := context.Background()
			return func() error {
				_, err := c.Token(ctx)
				return err
			}, settle
		})
		b.ReportMetric(float64(backoffMaxAttempts(pastHintWindow))/pastHintWindow.Minutes(), "backoff-max/min")
	})
	b.Run("per-request", func(b *testing.B) {
		runPastHint(b, func(src credential.TokenSource, clk *simClock) (func() error, func()) {
			ctx := context.Background()
			return func() error {
				_, err := src.Token(ctx)
				return err
			}, func() {}
		})
	})
}

func runPastHint(b *testing.B, setup func(credential.TokenSource, *simClock) (func() error, func())) {
	var fetches float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		clk := newSimClock()
		now := clk.Now()
		src := &msalStyleSource{token: &credential.Token{Value: credential.NewSecret("msal-cached"), Kind: credential.KindBearer,
			Expiry: now.Add(30 * time.Minute), RefreshAt: now.Add(-time.Minute)}}
		get, settle := setup(src, clk)
		b.StartTimer()
		for clk.Now().Before(now.Add(pastHintWindow)) {
			if err := get(); err != nil {
				b.Fatal(err)
			}
			settle()
			clk.ns.Add(int64(time.Second / pastHintRate))
		}
		fetches += float64(src.attempts.Load())
	}
	b.ReportMetric(fetches/float64(b.N)/pastHintWindow.Minutes(), "fetches/min")
}
