package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// maxHeaderBytes bounds a request's header block.
const maxHeaderBytes = 64 << 10

// LoopbackAddr reports whether a listen address host:port binds to this
// machine only: a loopback IP or "localhost". An empty host (":8080") binds
// every interface and is not loopback.
func LoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	return loopbackHost(host)
}

// Listen opens addr for Serve. Unless AllowRemote is set, addr must be a
// loopback address, and the address actually bound is checked too (a host
// name could resolve elsewhere).
func (s *Server) Listen(addr string) (net.Listener, error) {
	if !s.opts.AllowRemote && !LoopbackAddr(addr) {
		return nil, fmt.Errorf("proxy: %s is not a loopback address; listening there needs AllowRemote and a client token", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if !s.opts.AllowRemote {
		if ta, ok := ln.Addr().(*net.TCPAddr); !ok || !ta.IP.IsLoopback() {
			ln.Close()
			return nil, fmt.Errorf("proxy: %s bound %s, which is not a loopback address", addr, ln.Addr())
		}
	}
	return ln, nil
}

// Serve serves requests on ln until ctx is done, then stops accepting and
// lets in-flight requests — model responses still streaming — finish,
// for at most the drain timeout, before closing what remains. It returns
// nil after a shutdown that drained everything.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler: s,
		// Slow clients must not pin connections before sending a request.
		// There is no write timeout: a response streams as long as the
		// model writes.
		ReadHeaderTimeout: s.opts.ReadTimeout,
		// Model API requests carry a few small headers; the default of
		// 1 MiB per connection is memory any client could make the proxy
		// hold.
		MaxHeaderBytes: maxHeaderBytes,
		IdleTimeout:    2 * time.Minute,
		ErrorLog:       slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("proxy: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down; draining in-flight requests", "timeout", s.opts.DrainTimeout)
	drainCtx, cancel := context.WithTimeout(context.Background(), s.opts.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(drainCtx)
	if err != nil {
		srv.Close()
		err = fmt.Errorf("proxy: requests still running after %s were cut off: %w", s.opts.DrainTimeout, err)
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("proxy: %w", serr))
	}
	return err
}
