package bench

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	copilot "github.com/github/copilot-sdk/go"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakeentra"
	"github.com/byokcred/byokcred/registry"
	"github.com/byokcred/byokcred/session"
)

type benchUser struct{ tok *credential.Token }

func (u benchUser) Token(context.Context) (*credential.Token, error) { return u.tok, nil }

func oboSet(b *testing.B, fe *fakeentra.Server, maxUsers int) *registry.Set {
	return loadSet(b, `providers:
  foundry:
    type: azure
    base_url: http://127.0.0.1:9
    model: gpt-4.1
    auth: {type: entra, credential: on_behalf_of, tenant_id: contoso, client_id: bench-app, client_secret_env: BENCH_APP_SECRET, scope: "https://obo-bench.example/.default"}
`, registry.Options{PerUser: true, MaxUsers: maxUsers, HTTPClient: fe.Client(), LookupEnv: func(k string) (string, bool) { return "bench-app-secret", k == "BENCH_APP_SECRET" }})
}

// BenchmarkPerUserWarmToken compares the runtime's per-request callback for
// a session created for a user (on-behalf-of, the user's OBO token cached)
// with figure 1's single-identity callback shape, on all cores, 64 users'
// sessions interleaved.
func BenchmarkPerUserWarmToken(b *testing.B) {
	fe := fakeentra.Start(fakeentra.Options{TenantID: "contoso", ClientID: "bench-app", ClientSecret: "bench-app-secret"})
	defer fe.Close()
	set := oboSet(b, fe, 0)
	f := session.NewFactory(set, session.Options{})
	const users = 64
	cbs := make([]copilot.BearerTokenProvider, users)
	for i := range cbs {
		ut := &credential.Token{Value: credential.NewSecret(fe.UserToken(fmt.Sprintf("user-%d", i), time.Hour)), Kind: credential.KindBearer}
		cfg, err := f.SessionConfigFor(context.Background(), "foundry", benchUser{ut}, nil)
		if err != nil {
			b.Fatal(err)
		}
		cbs[i] = cfg.Provider.BearerTokenProvider
	}
	args := copilot.ProviderTokenArgs{ProviderName: "default"}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if tok, err := cbs[i%users](args); err != nil || tok == "" {
				b.Errorf("callback: %v", err)
				return
			}
			i++
		}
	})
}

// BenchmarkPerUserFootprint measures the heap a cached user costs (its
// on-behalf-of credential and token cache) and the Entra requests per user
// within one token lifetime, for 10,000 users (200 with -short).
func BenchmarkPerUserFootprint(b *testing.B) {
	users := 10000
	if testing.Short() {
		users = 200
	}
	const asksPerUser = 5
	for range b.N {
		fe := fakeentra.Start(fakeentra.Options{TenantID: "contoso", ClientID: "bench-app", ClientSecret: "bench-app-secret"})
		set := oboSet(b, fe, users)
		p, err := set.Provider("foundry")
		if err != nil {
			b.Fatal(err)
		}
		toks := make([]*credential.Token, users)
		for i := range toks {
			toks[i] = &credential.Token{Value: credential.NewSecret(fe.UserToken(fmt.Sprintf("user-%05d", i), time.Hour)), Kind: credential.KindBearer}
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range users {
			us, err := p.ForUser(benchUser{toks[i]})
			if err != nil {
				b.Fatal(err)
			}
			for range asksPerUser {
				if _, err := us.Token(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if got := p.UserStats().Users; got != users {
			b.Fatalf("%d users cached, want %d", got, users)
		}
		total := 0
		for i := range users {
			total += fe.Requests(fmt.Sprintf("user-%05d", i))
		}
		perUser := float64(after.HeapAlloc-before.HeapAlloc) / float64(users)
		b.ReportMetric(perUser, "heap-B/user")
		b.ReportMetric(perUser*10000/(1<<20), "heap-MiB@10k-users")
		b.ReportMetric(float64(total)/float64(users), "entra-requests/user/lifetime")
		// Without a per-user cache every ask would be an Entra request.
		b.ReportMetric(asksPerUser, "asks/user/lifetime")
		runtime.KeepAlive(toks)
		set.Close()
		fe.Close()
	}
}

// junkToken is a bearer token that looks like a user's access token but
// was never issued: the fake authority refuses it (invalid_grant).
func junkToken(i int) *credential.Token {
	enc := base64.RawURLEncoding
	body := fmt.Sprintf(`{"aud":"api://bench-app","oid":"junk-%06d","exp":%d}`, i, time.Now().Add(time.Hour).Unix())
	return &credential.Token{Value: credential.NewSecret(enc.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." + enc.EncodeToString([]byte(body)) + ".c2ln"), Kind: credential.KindBearer}
}

// BenchmarkPerUserJunkTokens measures what a client inventing bearer tokens
// costs a per-user provider: 10,000 distinct junk tokens (1,000 with
// -short), each sent twice, against a fake authority that refuses them,
// after 100 real users (20) were cached. It reports the heap the per-user
// caches still hold afterwards, how many real users kept their cache, and
// the authority's requests per junk token (the new-user rate spends at most
// registry.DefaultNewUserBurst plus DefaultNewUserRate a second).
func BenchmarkPerUserJunkTokens(b *testing.B) {
	junk, real := 10000, 100
	if testing.Short() {
		junk, real = 1000, 20
	}
	const sends = 2
	for range b.N {
		fe := fakeentra.Start(fakeentra.Options{TenantID: "contoso", ClientID: "bench-app", ClientSecret: "bench-app-secret"})
		set := oboSet(b, fe, 0)
		p, err := set.Provider("foundry")
		if err != nil {
			b.Fatal(err)
		}
		ask := func(ut *credential.Token) error {
			us, err := p.ForUser(benchUser{ut})
			if err != nil {
				b.Fatal(err)
			}
			_, err = us.Token(context.Background())
			return err
		}
		reals := make([]*credential.Token, real)
		for i := range reals {
			reals[i] = &credential.Token{Value: credential.NewSecret(fe.UserToken(fmt.Sprintf("real-%03d", i), time.Hour)), Kind: credential.KindBearer}
			if err := ask(reals[i]); err != nil {
				b.Fatal(err)
			}
		}
		toks := make([]*credential.Token, junk)
		for i := range toks {
			toks[i] = junkToken(i)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range sends {
			for _, ut := range toks {
				var limit *registry.UserLimitError
				if err := ask(ut); !errors.Is(err, registry.ErrUserRejected) && !errors.As(err, &limit) {
					b.Fatalf("junk token: err = %v, want refused or limited", err)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if st := p.UserStats(); st.Users != real {
			b.Fatalf("%d users cached after the junk, want the %d real ones", st.Users, real)
		}
		// A real user kept its cache if asking again costs no exchange.
		kept := 0
		for i, ut := range reals {
			if err := ask(ut); err != nil {
				b.Fatal(err)
			}
			if fe.Requests(fmt.Sprintf("real-%03d", i)) == 1 {
				kept++
			}
		}
		held := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
		b.ReportMetric(max(held, 0), "heap-MiB-after-junk")
		b.ReportMetric(float64(kept), "real-users-kept")
		b.ReportMetric(float64(real), "real-users")
		b.ReportMetric(float64(len(fe.Refused()))/float64(junk), "entra-requests/junk-token")
		b.ReportMetric(sends, "sends/junk-token")
		runtime.KeepAlive(toks)
		set.Close()
		fe.Close()
	}
}
