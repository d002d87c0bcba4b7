// Package metrics exports byokcred's credential metrics through
// OpenTelemetry: token fetches, failures, refresh latency, seconds to
// expiry per provider, plugin restarts, per-user caches and, for the proxy,
// requests, upstream latency, 401 replays and replay memory. Wire it to any
// OpenTelemetry exporter (stdout, Prometheus, OTLP); examples/metrics shows
// stdout, `byokcred proxy --admin-addr` serves Prometheus.
package metrics

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/byokcred/byokcred/registry"
)

// Meter name used for every instrument.
const Name = "github.com/byokcred/byokcred"

// Metrics holds the instruments.
type Metrics struct {
	fetchDuration metric.Float64Histogram
	// The proxy's: http.server.request.duration and
	// http.client.request.duration are OpenTelemetry's semantic-convention
	// names; their counts are the requests.
	requestDuration  metric.Float64Histogram
	upstreamDuration metric.Float64Histogram
	replays          metric.Int64Counter
	meter            metric.Meter
	now              func() time.Time
}

// Option configures New.
type Option func(*Metrics)

// WithClock sets the clock the seconds-to-expiry gauge is read against
// (default time.Now): pass the registry's registry.Options.Now.
func WithClock(now func() time.Time) Option { return func(m *Metrics) { m.now = now } }

// latencyBuckets suit both a token fetch and a model's time to its
// response headers: milliseconds to tens of seconds.
var latencyBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// New creates the instruments on mp.
func New(mp metric.MeterProvider, opts ...Option) (*Metrics, error) {
	m := &Metrics{meter: mp.Meter(Name), now: time.Now}
	for _, o := range opts {
		o(m)
	}
	var err error
	m.fetchDuration, err = m.meter.Float64Histogram("byokcred.token.fetch.duration",
		metric.WithUnit("s"), metric.WithDescription("Time one fetch from a provider's credential source took (identity provider, plugin, …)."),
		metric.WithExplicitBucketBoundaries(latencyBuckets[:12]...))
	if err != nil {
		return nil, err
	}
	m.requestDuration, err = m.meter.Float64Histogram("http.server.request.duration",
		metric.WithUnit("s"), metric.WithDescription("Requests the proxy answered, per provider and status, and how long each took to finish (streams included)."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	if err != nil {
		return nil, err
	}
	m.upstreamDuration, err = m.meter.Float64Histogram("http.client.request.duration",
		metric.WithUnit("s"), metric.WithDescription("Requests the proxy sent to a provider (401 replays included), per provider and status: time until the response headers arrived."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	if err != nil {
		return nil, err
	}
	m.replays, err = m.meter.Int64Counter("byokcred.proxy.replays",
		metric.WithDescription("Requests the proxy sent again with a fresh token after the provider answered 401, per provider."))
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ProxyRequest records one request the proxy answered; provider is "" when
// the request named none. It is one of the methods proxy.Options.Metrics
// calls.
func (m *Metrics) ProxyRequest(provider, method string, status int, took time.Duration) {
	m.requestDuration.Record(context.Background(), took.Seconds(), metric.WithAttributes(
		attribute.String("provider", provider), attribute.String("http.request.method", knownMethod(method)), attribute.Int("http.response.status_code", status)))
}

// knownMethod is method when it is a standard HTTP method, else "_OTHER"
// (as OpenTelemetry's HTTP conventions say): any client can send any method
// name, and each would otherwise be a series of its own held forever.
func knownMethod(method string) string {
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE":
		return method
	}
	return "_OTHER"
}

// ProxyUpstream records one request sent to a provider: status 0 and
// error.type when no response came.
func (m *Metrics) ProxyUpstream(provider, method string, status int, took time.Duration, err error) {
	attrs := []attribute.KeyValue{attribute.String("provider", provider), attribute.String("http.request.method", knownMethod(method))}
	if err != nil {
		attrs = append(attrs, attribute.String("error.type", "transport"))
	} else {
		attrs = append(attrs, attribute.Int("http.response.status_code", status))
	}
	m.upstreamDuration.Record(context.Background(), took.Seconds(), metric.WithAttributes(attrs...))
}

// ProxyReplay records one request sent again after a 401.
func (m *Metrics) ProxyReplay(provider string) {
	m.replays.Add(context.Background(), 1, metric.WithAttributes(attribute.String("provider", provider)))
}

// ObserveReplayMemory registers the gauge of the request bodies the proxy
// holds for replay (proxy.Server.ReplayMemory). Unregister the returned
// registration when done.
func (m *Metrics) ObserveReplayMemory(held func() int64) (metric.Registration, error) {
	g, err := m.meter.Int64ObservableGauge("byokcred.proxy.replay.memory", metric.WithUnit("By"),
		metric.WithDescription("Bytes of request bodies the proxy holds so that it can send them again after a 401 (bounded by max_replay_memory)."))
	if err != nil {
		return nil, err
	}
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(g, held())
		return nil
	}, g)
}

// OnFetch records one fetch; pass it as registry.Options.OnFetch.
func (m *Metrics) OnFetch(providerName string, took time.Duration, err error) {
	m.fetchDuration.Record(context.Background(), took.Seconds(), metric.WithAttributes(
		attribute.String("provider", providerName), attribute.Bool("error", err != nil)))
}

// Observe registers the observable instruments, read from the providers'
// caches and plugin processes at each collection. Unregister the returned
// registration when done.
func (m *Metrics) Observe(providers registry.Providers) (metric.Registration, error) {
	fetches, err := m.meter.Int64ObservableCounter("byokcred.token.fetches", metric.WithDescription("Fetches from the credential source, per provider."))
	if err != nil {
		return nil, err
	}
	failures, err := m.meter.Int64ObservableCounter("byokcred.token.fetch.failures", metric.WithDescription("Failed fetches, per provider."))
	if err != nil {
		return nil, err
	}
	hits, err := m.meter.Int64ObservableCounter("byokcred.token.cache.hits", metric.WithDescription("Tokens served from memory, per provider."))
	if err != nil {
		return nil, err
	}
	waits, err := m.meter.Int64ObservableCounter("byokcred.token.waits", metric.WithDescription("Callers that had no valid token and waited for a fetch, per provider."))
	if err != nil {
		return nil, err
	}
	expiry, err := m.meter.Float64ObservableGauge("byokcred.token.expiry", metric.WithUnit("s"), metric.WithDescription("Seconds until the current token expires, per provider (negative: expired)."))
	if err != nil {
		return nil, err
	}
	starts, err := m.meter.Int64ObservableCounter("byokcred.plugin.starts", metric.WithDescription("Plugin processes started, per plugin."))
	if err != nil {
		return nil, err
	}
	restarts, err := m.meter.Int64ObservableCounter("byokcred.plugin.restarts", metric.WithDescription("Plugin processes restarted after a crash or hang, per plugin."))
	if err != nil {
		return nil, err
	}
	users, err := m.meter.Int64ObservableGauge("byokcred.peruser.users", metric.WithDescription("Users whose token has a cache now, per per-user provider."))
	if err != nil {
		return nil, err
	}
	userBytes, err := m.meter.Int64ObservableGauge("byokcred.peruser.memory", metric.WithUnit("By"), metric.WithDescription("Estimated memory of the per-user caches, per per-user provider."))
	if err != nil {
		return nil, err
	}
	evictions, err := m.meter.Int64ObservableCounter("byokcred.peruser.evictions", metric.WithDescription("Per-user caches dropped (the user's token expired, or a bound was reached), per per-user provider."))
	if err != nil {
		return nil, err
	}
	refused, err := m.meter.Int64ObservableCounter("byokcred.peruser.refused", metric.WithDescription("User tokens the identity provider refused, per per-user provider."))
	if err != nil {
		return nil, err
	}
	limited, err := m.meter.Int64ObservableCounter("byokcred.peruser.limited", metric.WithDescription("Requests with a new user token turned away by the new-user rate, per per-user provider."))
	if err != nil {
		return nil, err
	}
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		set := providers.Current()
		now := m.now()
		for _, name := range set.Names() {
			p, err := set.Provider(name)
			if err != nil {
				continue
			}
			attrs := metric.WithAttributes(attribute.String("provider", name), attribute.String("auth", p.AuthType))
			if p.IsPerUser() {
				st := p.UserStats()
				o.ObserveInt64(users, int64(st.Users), attrs)
				o.ObserveInt64(userBytes, st.Bytes, attrs)
				o.ObserveInt64(evictions, st.Evicted, attrs)
				o.ObserveInt64(refused, st.Refused, attrs)
				o.ObserveInt64(limited, st.Limited, attrs)
			}
			if p.Cache == nil {
				continue
			}
			st := p.Cache.Stats()
			o.ObserveInt64(fetches, st.Fetches, attrs)
			o.ObserveInt64(failures, st.Failures, attrs)
			o.ObserveInt64(hits, st.Hits, attrs)
			o.ObserveInt64(waits, st.Waits, attrs)
			if !st.Expiry.IsZero() {
				o.ObserveFloat64(expiry, st.Expiry.Sub(now).Seconds(), attrs)
			}
		}
		for _, st := range set.Processes() {
			attrs := metric.WithAttributes(attribute.String("plugin", st.Name))
			o.ObserveInt64(starts, st.Starts, attrs)
			o.ObserveInt64(restarts, max(st.Starts-1, 0), attrs)
		}
		return nil
	}, fetches, failures, hits, waits, expiry, starts, restarts, users, userBytes, evictions, refused, limited)
}
