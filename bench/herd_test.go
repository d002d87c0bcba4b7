package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/fakeidentity"
)

// Herd parameters: how many callers ask at once, the identity endpoint's
// latency per token request, and the connection pool the callers share.
const (
	herdCallers  = 10_000
	herdLatency  = 20 * time.Millisecond
	herdPoolSize = 256
)

// msiSource fetches a token from the App Service managed-identity endpoint
// (api-version 2019-08-01) on every call: an identity source with no cache.
// The herd's callers share one HTTP client with a pool of herdPoolSize
// connections, as a real client would; an unbounded pool would need two
// file descriptors per caller here (client and server share the process),
// beyond the machine's limit, and leave thousands of sockets in TIME_WAIT.
type msiSource struct {
	endpoint, header string
	client           *http.Client
	fetches          atomic.Int64
}

func newMSISource(idp *fakeidentity.Server) *msiSource {
	tr := &http.Transport{MaxConnsPerHost: herdPoolSize, MaxIdleConnsPerHost: herdPoolSize, IdleConnTimeout: time.Minute}
	q := url.Values{"resource": {"https://cognitiveservices.azure.com"}, "api-version": {"2019-08-01"}}
	return &msiSource{endpoint: idp.URL + "?" + q.Encode(), header: idp.Header, client: &http.Client{Transport: tr}}
}

func (s *msiSource) Token(ctx context.Context) (*credential.Token, error) {
	s.fetches.Add(1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.endpoint, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-IDENTITY-HEADER", s.header)
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("identity endpoint: %s", resp.Status)
	}
	var body struct {
		AccessToken string      `json:"access_token"`
		ExpiresOn   json.Number `json:"expires_on"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	exp, err := body.ExpiresOn.Int64()
	if err != nil {
		return nil, err
	}
	return &credential.Token{Value: credential.NewSecret(body.AccessToken), Kind: credential.KindBearer, Expiry: time.Unix(exp, 0)}, nil
}

func (s *msiSource) close() { s.client.CloseIdleConnections() }

// BenchmarkHerd is figure 2: herdCallers goroutines ask for a token at the
// same instant from a cold start. The upstream is the loopback fake
// managed-identity endpoint, answering each token request after
// herdLatency. ns/op is the time from the release of the callers until the
// last one holds a token; fetches is the number of token requests the
// endpoint received per herd.
//
//   - byokcred-cache: every caller asks a fresh credential.Cache around the
//     endpoint (Cache.Token).
//   - no-cache: every caller fetches from the endpoint itself.
func BenchmarkHerd(b *testing.B) {
	idp, err := fakeidentity.Start(fakeidentity.Options{Lifetime: time.Hour, Fault: func(int) int {
		time.Sleep(herdLatency)
		return 0
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer idp.Close()

	b.Run("byokcred-cache", func(b *testing.B) {
		src := newMSISource(idp)
		defer src.close()
		runHerd(b, src, func() credential.TokenSource {
			return credential.NewCache(src, credential.CacheOptions{Name: "herd"})
		})
	})
	b.Run("no-cache", func(b *testing.B) {
		src := newMSISource(idp)
		defer src.close()
		runHerd(b, src, func() credential.TokenSource { return src })
	})
}

// runHerd releases herdCallers goroutines on a fresh source from newSource
// per iteration and times them until all are served.
func runHerd(b *testing.B, upstream *msiSource, newSource func() credential.TokenSource) {
	ctx := context.Background()
	var failed atomic.Int64
	b.ResetTimer()
	b.StopTimer()
	before := upstream.fetches.Load()
	for i := 0; i < b.N; i++ {
		src := newSource()
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		ready.Add(herdCallers)
		done.Add(herdCallers)
		for range herdCallers {
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				if tok, err := src.Token(ctx); err != nil || tok.Value.IsZero() {
					failed.Add(1)
				}
			}()
		}
		ready.Wait()
		b.StartTimer()
		close(start)
		done.Wait()
		b.StopTimer()
		if c, ok := src.(*credential.Cache); ok {
			c.Close()
		}
	}
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d callers got no token", n)
	}
	b.ReportMetric(float64(upstream.fetches.Load()-before)/float64(b.N), "fetches")
	b.ReportMetric(float64(herdCallers), "callers")
}
