package admin

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/byokcred/byokcred/registry"
)

// Defaults of Readiness.
const (
	// DefaultCheckTimeout bounds one provider's check: a probe must answer
	// before the orchestrator's own timeout (Kubernetes: 1 s by default;
	// the manifests set more).
	DefaultCheckTimeout = 3 * time.Second
	// DefaultCheckTTL is how long a report is reused, so that probes of
	// several kinds and replicas' scrapes do not make each a request to the
	// identity provider.
	DefaultCheckTTL = 5 * time.Second
)

// maxReason bounds a reason's length in the report.
const maxReason = 300

// Report is the readiness of a replica: ready when every provider it
// serves is.
type Report struct {
	Ready     bool             `json:"ready"`
	Providers []ProviderStatus `json:"providers"`
}

// ProviderStatus is one provider's readiness, with a one-line reason. It
// never carries a credential: the reasons are token errors, which name the
// provider and the cause, never a secret.
type ProviderStatus struct {
	Name   string `json:"name"`
	Ready  bool   `json:"ready"`
	Reason string `json:"reason"`
}

// Readiness checks that every provider of Providers can produce a
// credential now: a valid cached token, or one fetched within Timeout.
// A per-user provider has no token of its own; it is ready when the
// service's own credential works (registry.Provider.Check: for
// on-behalf-of, the application credential accepted by the authority), or,
// for a kind with no such check, once its source is built. It is safe for
// concurrent use; concurrent checks share one round of fetches.
type Readiness struct {
	Providers registry.Providers
	// Timeout overrides DefaultCheckTimeout; TTL DefaultCheckTTL.
	Timeout, TTL time.Duration
	// Now is the clock of the TTL (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	last *Report
	at   time.Time
}

// Check returns the readiness report, reusing one younger than TTL.
func (r *Readiness) Check(ctx context.Context) Report {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	ttl := r.TTL
	if ttl <= 0 {
		ttl = DefaultCheckTTL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last != nil && now().Sub(r.at) < ttl {
		return *r.last
	}
	rep := r.check(ctx)
	r.last, r.at = &rep, now()
	return rep
}

func (r *Readiness) check(ctx context.Context) Report {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	if r.Providers == nil || r.Providers.Current() == nil {
		return Report{Providers: []ProviderStatus{}}
	}
	set, release := registry.Acquire(r.Providers)
	defer release()
	names := set.Names()
	out := make([]ProviderStatus, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			out[i] = checkProvider(cctx, set, name)
		})
	}
	wg.Wait()
	rep := Report{Ready: len(out) > 0, Providers: out}
	for _, st := range out {
		rep.Ready = rep.Ready && st.Ready
	}
	return rep
}

func checkProvider(ctx context.Context, set *registry.Set, name string) ProviderStatus {
	st := ProviderStatus{Name: name}
	p, err := set.Provider(name)
	if err != nil {
		st.Reason = oneLine(err.Error())
		return st
	}
	if p.IsPerUser() {
		if p.Source == nil {
			st.Reason = "no credential source: the config was loaded offline"
			return st
		}
		return checkPerUser(ctx, p, st)
	}
	tok, err := p.Token(ctx)
	switch {
	case err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		st.Reason = "no credential within the readiness check's timeout: " + oneLine(err.Error())
	case err != nil:
		st.Reason = oneLine(err.Error())
	case tok.Expiry.IsZero():
		st.Ready, st.Reason = true, "credential in hand (does not expire)"
	default:
		st.Ready, st.Reason = true, "token valid until "+tok.Expiry.UTC().Format(time.RFC3339)
	}
	return st
}

// checkPerUser reports a per-user provider ready when the service's own
// credential works (registry.Provider.Check: the on-behalf-of application
// credential accepted by its authority), since it has no token of its own
// to fetch; a provider whose kind has no such check counts as ready once
// built, and is exercised by each new user's first request.
func checkPerUser(ctx context.Context, p *registry.Provider, st ProviderStatus) ProviderStatus {
	err := p.Check(ctx)
	switch {
	case errors.Is(err, registry.ErrNoCheck):
		st.Ready, st.Reason = true, "acts on behalf of each user: no token of its own, and its kind has no check of the service's credential; each new user's first request uses it"
	case err != nil && errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		st.Reason = "the service's credential was not confirmed within the readiness check's timeout: " + oneLine(err.Error())
	case err != nil:
		st.Reason = "the service's credential does not work: " + oneLine(err.Error())
	default:
		st.Ready, st.Reason = true, "acts on behalf of each user: the service's credential is accepted by its issuer"
	}
	return st
}

// oneLine folds an error's text to one bounded line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxReason {
		s = s[:maxReason] + "…"
	}
	return s
}

// readyDesc is the readiness gauge, per provider: 1 ready, 0 not.
var readyDesc = prometheus.NewDesc("byokcred_provider_ready",
	"Whether the provider can produce a credential now (1) or not (0), as /readyz reports it.", []string{"provider"}, nil)

// Collector exports the readiness report as the byokcred_provider_ready
// gauge, so that an alert can fire on it (a scrape reuses a report younger
// than TTL, as probes do). Register it on the admin registry.
func (r *Readiness) Collector() prometheus.Collector { return readyCollector{r} }

type readyCollector struct{ r *Readiness }

func (c readyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- readyDesc }

func (c readyCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.r.Check(context.Background()).Providers {
		v := 0.0
		if st.Ready {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, v, st.Name)
	}
}
