package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	_ "unsafe" // go:linkname, for x/oauth2's clock

	copilot "github.com/github/copilot-sdk/go"
	"golang.org/x/oauth2"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

// The simulated day of figure 3.
const (
	stallRate       = 20                      // requests per second
	stallInterval   = time.Second / stallRate // between requests
	stallDay        = 24 * time.Hour
	stallShortDay   = 3 * time.Hour // with -short (bench-smoke)
	stallTokenLife  = time.Hour
	stallIdPLatency = 500 * time.Millisecond
)

// simIdP is an identity provider on the simulated clock: each fetch takes
// stallIdPLatency of simulated time and returns a token valid for
// stallTokenLife from then.
type simIdP struct {
	clk     *simClock
	fetches atomic.Int64
}

func (p *simIdP) fetch(ctx context.Context) (string, time.Time, error) {
	n := p.fetches.Add(1)
	now, err := p.clk.Sleep(ctx, stallIdPLatency)
	if err != nil {
		return "", time.Time{}, err
	}
	return fmt.Sprintf("sim-token-%d", n), now.Add(stallTokenLife), nil
}

// Token implements credential.TokenSource.
func (p *simIdP) Token(ctx context.Context) (*credential.Token, error) {
	v, exp, err := p.fetch(ctx)
	if err != nil {
		return nil, err
	}
	return &credential.Token{Value: credential.NewSecret(v), Kind: credential.KindBearer, Expiry: exp}, nil
}

// simAuth is the auth type `bench-sim`: a provider whose source is the simIdP
// registered under its `idp:` key, so the stall benchmark drives byokcred
// through the registry and the session factory like any other provider.
type simAuth struct {
	IdP string `yaml:"idp"`
}

var simIdPs sync.Map // idp key → *simIdP

func (a *simAuth) Validate(b *kind.Build) {
	if _, ok := simIdPs.Load(a.IdP); !ok {
		b.Errorf("idp", "no simulated identity provider %q", a.IdP)
	}
}

func (a *simAuth) Source(*kind.Build) (kind.Result, error) {
	p, _ := simIdPs.Load(a.IdP)
	return kind.Result{Source: p.(*simIdP)}, nil
}

func init() {
	kind.Register("bench-sim", func() kind.AuthConfig { return new(simAuth) })
}

// BenchmarkRefreshStalls is figure 3: a simulated day of stallRate requests
// per second, one-hour tokens, and an identity provider that takes 500 ms
// per token. It reports the longest any request waited for its token
// (max-wait-ns), how many waited over 1 ms (waited>1ms), the identity
// fetches of the day and the requests. ns/op is the real time one simulated
// day took.
//
// Time is simulated (simClock): the clock is injected into byokcred
// (registry.Options.Now → credential.CacheOptions.Now, session.Options.Now),
// into x/oauth2 (its package clock, the hook its own tests use) and into the
// azcore model. The identity provider's 500 ms are simulated time too; a
// request's wait is the simulated time that passed while it ran, or its
// real duration when none did. The first token of each is fetched before
// the day starts and not counted.
//
//   - byokcred: session.Factory.Callback over a bench-sim provider (its
//     source wrapped in credential.Cache by the registry).
//   - oauth2-ReuseTokenSource: x/oauth2's ReuseTokenSource over the same
//     identity provider.
//   - azcore-BearerTokenPolicy-model: azcoreRefreshModel, a line-by-line
//     model of azcore's BearerTokenPolicy refresh (see below).
func BenchmarkRefreshStalls(b *testing.B) {
	day := stallDay
	if testing.Short() {
		day = stallShortDay
	}
	b.Run("byokcred", func(b *testing.B) {
		runStallDays(b, day, func(clk *simClock, idp *simIdP) func() error {
			key := fmt.Sprintf("%p", idp)
			simIdPs.Store(key, idp)
			b.Cleanup(func() { simIdPs.Delete(key) })
			set := loadSet(b, fmt.Sprintf(`providers:
  foundry:
    type: openai
    base_url: http://127.0.0.1:9/v1
    model: gpt-4.1
    auth: {type: bench-sim, idp: %q}
`, key), registry.Options{Now: clk.Now})
			cb := session.NewFactory(set, session.Options{}).Callback("foundry")
			args := copilot.ProviderTokenArgs{ProviderName: "foundry"}
			return func() error {
				_, err := cb(args)
				return err
			}
		})
	})
	b.Run("control-noop", func(b *testing.B) {
		runStallDays(b, day, func(clk *simClock, idp *simIdP) func() error {
			idp.fetches.Add(1) // no warm-up fetch to discount
			return func() error { return nil }
		})
	})
	b.Run("oauth2-ReuseTokenSource", func(b *testing.B) {
		runStallDays(b, day, func(clk *simClock, idp *simIdP) func() error {
			old := oauth2Now
			oauth2Now = clk.Now
			b.Cleanup(func() { oauth2Now = old })
			ts := oauth2.ReuseTokenSource(nil, tokenSourceFunc(func() (*oauth2.Token, error) {
				v, exp, err := idp.fetch(context.Background())
				if err != nil {
					return nil, err
				}
				return &oauth2.Token{AccessToken: v, TokenType: "Bearer", Expiry: exp}, nil
			}))
			return func() error {
				_, err := ts.Token()
				return err
			}
		})
	})
	b.Run("azcore-BearerTokenPolicy-model", func(b *testing.B) {
		runStallDays(b, day, func(clk *simClock, idp *simIdP) func() error {
			m := newAzcoreRefreshModel(clk.Now, func() (string, time.Time, error) {
				return idp.fetch(context.Background())
			})
			return func() error {
				_, err := m.Get()
				return err
			}
		})
	})
}

// runStallDays simulates one day per iteration, each with a fresh clock,
// identity provider and implementation from setup.
func runStallDays(b *testing.B, day time.Duration, setup func(*simClock, *simIdP) func() error) {
	var total stallResult
	var fetches int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		clk := newSimClock()
		idp := &simIdP{clk: clk}
		get := setup(clk, idp)
		b.StartTimer()
		// Warm-up fetch excluded.
		res, err := simulateStalls(clk, get, stallInterval, day)
		if err != nil {
			b.Fatal(err)
		}
		fetches += idp.fetches.Load() - 1
		total.Requests += res.Requests
		total.Waited += res.Waited
		total.Stalls += res.Stalls
		total.MaxWait = max(total.MaxWait, res.MaxWait)
		total.MaxStall = max(total.MaxStall, res.MaxStall)
	}
	n := float64(b.N)
	b.ReportMetric(float64(total.MaxWait.Nanoseconds()), "max-wait-ns")
	b.ReportMetric(float64(total.Waited)/n, "waited>1ms")
	b.ReportMetric(float64(total.MaxStall.Nanoseconds()), "max-stall-ns")
	b.ReportMetric(float64(total.Stalls)/n, "stalls")
	b.ReportMetric(float64(fetches)/n, "fetches")
	b.ReportMetric(float64(total.Requests)/n, "requests")
	b.ReportMetric(day.Hours(), "sim-hours")
}

type tokenSourceFunc func() (*oauth2.Token, error)

func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

// oauth2Now is x/oauth2's package clock (token.go: `var timeNow =
// time.Now`, "pulled out as a variable for tests"). The benchmark points it
// at the simulated clock while the oauth2 baseline runs, so that the real
// ReuseTokenSource and Token.Valid code decide when to refresh. A rename in
// x/oauth2 makes this fail to link, never silently measure something else.
//
//go:linkname oauth2Now golang.org/x/oauth2.timeNow
var oauth2Now func() time.Time

// azcoreRefreshModel reproduces, with an injectable clock, how azcore's
// BearerTokenPolicy (azcore v1.23.3 runtime/policy_bearer_token.go over
// sdk/internal v1.13.0 temporal/resource.go) hands out tokens. azcore's
// clock cannot be injected (temporal.Resource calls time.Now), and its
// refresh window is five minutes of real time, so a simulated day needs a
// model. The rules, as in that code:
//
//   - A token that has expired (or none yet): the first caller fetches;
//     every other caller waits for it (sync.Cond).
//   - A token within 5 minutes of expiry (ExpiresOn - 5 min, or the
//     RefreshOn hint when the credential gives one): the first caller, if
//     no fetch is running and none was attempted in the last 30 s, fetches
//     on its own path and waits for it; the others keep getting the current
//     token meanwhile.
//   - Otherwise the current token is returned.
//
// azidentity's own cache underneath (MSAL) treats a token as expired 5
// minutes before its expiry too, so the policy's refresh reaches the
// identity provider: modelled here by calling it directly.
type azcoreRefreshModel struct {
	now     func() time.Time
	acquire func() (string, time.Time, error)

	cond        *sync.Cond
	acquiring   bool
	token       string
	expiration  time.Time
	lastAttempt time.Time
}

func newAzcoreRefreshModel(now func() time.Time, acquire func() (string, time.Time, error)) *azcoreRefreshModel {
	return &azcoreRefreshModel{now: now, acquire: acquire, cond: sync.NewCond(&sync.Mutex{})}
}

const (
	azcoreRefreshWindow = 5 * time.Minute  // policy_bearer_token.go shouldRefresh
	azcoreBackoff       = 30 * time.Second // temporal.backoff
)

// Get is temporal.Resource.Get with shouldRefresh inlined.
func (r *azcoreRefreshModel) Get() (string, error) {
	now := r.now()
	acquire, expired := false, false
	r.cond.L.Lock()
	token := r.token
	for {
		expired = r.expiration.IsZero() || r.expiration.Before(now)
		if expired {
			if !r.acquiring {
				r.acquiring, acquire = true, true
				break
			}
		} else if r.expiration.Add(-azcoreRefreshWindow).Before(r.now()) {
			if !r.acquiring && !r.lastAttempt.Add(azcoreBackoff).After(now) {
				r.acquiring, acquire = true, true
				break
			}
			token = r.token
			break
		} else {
			token = r.token
			break
		}
		r.cond.Wait()
	}
	r.cond.L.Unlock()
	var err error
	if acquire {
		r.lastAttempt = now
		var v string
		var exp time.Time
		v, exp, err = r.acquire()
		r.cond.L.Lock()
		if err == nil {
			token = v
			r.token, r.expiration = v, exp
		} else if !expired {
			err = nil
		}
		r.acquiring = false
		r.cond.L.Unlock()
		r.cond.Broadcast()
	}
	return token, err
}
