// Package metrics exports byokcred's credential metrics through
// OpenTelemetry: token fetches, failures, refresh latency, seconds to
// expiry per provider, and plugin restarts. Wire it to any OpenTelemetry
// exporter (stdout, Prometheus, OTLP); examples/metrics shows stdout.
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
	meter         metric.Meter
}

// New creates the instruments on mp.
func New(mp metric.MeterProvider) (*Metrics, error) {
	m := &Metrics{meter: mp.Meter(Name)}
	var err error
	m.fetchDuration, err = m.meter.Float64Histogram("byokcred.token.fetch.duration",
		metric.WithUnit("s"), metric.WithDescription("Time one fetch from a provider's credential source took (identity provider, plugin, …)."),
		metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	if err != nil {
		return nil, err
	}
	return m, nil
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
	return m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		set := providers.Current()
		for _, name := range set.Names() {
			p, err := set.Provider(name)
			if err != nil || p.Cache == nil {
				continue
			}
			st := p.Cache.Stats()
			attrs := metric.WithAttributes(attribute.String("provider", name), attribute.String("auth", p.AuthType))
			o.ObserveInt64(fetches, st.Fetches, attrs)
			o.ObserveInt64(failures, st.Failures, attrs)
			o.ObserveInt64(hits, st.Hits, attrs)
			o.ObserveInt64(waits, st.Waits, attrs)
			if !st.Expiry.IsZero() {
				o.ObserveFloat64(expiry, time.Until(st.Expiry).Seconds(), attrs)
			}
		}
		for _, st := range set.Processes() {
			attrs := metric.WithAttributes(attribute.String("plugin", st.Name))
			o.ObserveInt64(starts, st.Starts, attrs)
			o.ObserveInt64(restarts, max(st.Starts-1, 0), attrs)
		}
		return nil
	}, fetches, failures, hits, waits, expiry, starts, restarts)
}
