package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/byokcred/byokcred/internal/admin"
	"github.com/byokcred/byokcred/metrics"
	"github.com/byokcred/byokcred/registry"
)

// adminAddrUsage is the --admin-addr flag's help, shared by proxy and agent.
const adminAddrUsage = "serve /healthz, /readyz and /metrics (Prometheus) on this address (host:port); off when empty. It serves no credential, but shows provider names and counts: keep it off the public network. Metrics also go over OTLP, with or without it, when OTEL_EXPORTER_OTLP_ENDPOINT (or _METRICS_ENDPOINT) is set"

// adminServer is the admin address of a long-running command
// (--admin-addr) and the metrics it and OTLP export: its listener (nil
// with OTLP alone), the metrics, and the server's goroutine. A nil
// *adminServer (neither --admin-addr nor OTLP) does nothing.
type adminServer struct {
	ln      net.Listener
	otlp    string // the OTLP protocol, "" when the metrics are not exported over OTLP
	mp      *sdkmetric.MeterProvider
	reg     *prometheus.Registry
	metrics *metrics.Metrics
	regs    []metric.Registration
	done    chan error
}

// openAdmin listens on addr and creates the metrics, before the config is
// loaded: a wrong address fails at once, and the registry's fetches are
// timed from the first (a.onFetch). The metrics are exported on addr and,
// when the standard OTEL_EXPORTER_OTLP_* variables ask for it, over OTLP,
// either without the other.
func (a *app) openAdmin(addr string) (*adminServer, error) {
	if addr != "" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, usagef("--admin-addr %q: want host:port (for example 0.0.0.0:9090 in a container, 127.0.0.1:9090 on a workstation)", addr)
		}
	}
	otlp, proto, err := admin.OTLPReader(context.Background(), a.env.LookupEnv)
	if err != nil {
		return nil, usageError{err}
	}
	if addr == "" && otlp == nil {
		return nil, nil
	}
	var readers []sdkmetric.Reader
	if otlp != nil {
		readers = append(readers, otlp)
	}
	mp, reg, err := admin.NewMeterProvider(readers...)
	if err != nil {
		if otlp != nil {
			otlp.Shutdown(context.Background())
		}
		return nil, err
	}
	m, err := metrics.New(mp)
	if err != nil {
		mp.Shutdown(context.Background())
		return nil, fmt.Errorf("admin: %w", err)
	}
	var ln net.Listener
	if addr != "" {
		if ln, err = admin.Listen(addr); err != nil {
			mp.Shutdown(context.Background())
			return nil, err
		}
	}
	a.onFetch = m.OnFetch
	return &adminServer{ln: ln, otlp: proto, mp: mp, reg: reg, metrics: m}, nil
}

// observe adds an observable registration to unregister at stop.
func (s *adminServer) observe(r metric.Registration, err error) error {
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	s.regs = append(s.regs, r)
	return nil
}

// start serves the admin address until ctx is done: readiness of live's
// providers, and their metrics.
func (a *app) startAdmin(ctx context.Context, s *adminServer, command string, live registry.Providers) error {
	if s == nil {
		return nil
	}
	if err := s.observe(s.metrics.Observe(live)); err != nil {
		return err
	}
	if s.otlp != "" {
		fmt.Fprintf(a.env.Stderr, "byokcred %s: exporting metrics over OTLP (%s)\n", command, s.otlp)
	}
	if s.ln == nil {
		return nil
	}
	ready := &admin.Readiness{Providers: live}
	if err := s.reg.Register(ready.Collector()); err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	h := admin.Handler(ready.Check, s.reg)
	s.done = make(chan error, 1)
	go func() { s.done <- admin.Serve(ctx, s.ln, h, a.logger) }()
	fmt.Fprintf(a.env.Stderr, "byokcred %s: admin on http://%s (/healthz, /readyz, /metrics)\n", command, s.ln.Addr())
	return nil
}

// stop waits for the admin server (its context must be done) and releases
// the metrics: shutting the meter provider down sends OTLP its last
// export.
func (s *adminServer) stop() error {
	if s == nil {
		return nil
	}
	var err error
	if s.done != nil {
		err = <-s.done
	} else if s.ln != nil {
		s.ln.Close()
	}
	for _, r := range s.regs {
		r.Unregister()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(err, s.mp.Shutdown(sctx))
}
