package proxy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/registry"
)

// DefaultMaxReplayBody bounds the request body kept in memory so that a
// request rejected with 401 can be sent again with a fresh token. Model
// requests are JSON of a few megabytes at most; a larger body is streamed
// through, and its 401 reaches the client.
const DefaultMaxReplayBody = 10 << 20

// DefaultMaxReplayMemory bounds the request bodies that all requests
// together hold for replay.
const DefaultMaxReplayMemory = 64 << 20

// DefaultReadTimeout bounds how long a client may take to send its request
// headers, and any pause while it sends a body.
const DefaultReadTimeout = 30 * time.Second

// DefaultDrainTimeout bounds how long Serve waits for in-flight requests
// (model responses stream for a while) once its context is done.
const DefaultDrainTimeout = 30 * time.Second

// Options configure a Server.
type Options struct {
	// Providers is required: read on every request, so a *registry.Live
	// reload reaches the next request.
	Providers registry.Providers
	// Default names the provider that also serves paths without a provider
	// prefix, for clients that cannot add one. Empty: every path must start
	// with /PROVIDER.
	Default string
	// ClientToken, when set, must accompany every request: as
	// `X-Byokcred-Token`, `Authorization: Bearer`, `api-key` or `x-api-key`
	// (so that any client's own key setting can carry it). It is compared
	// in constant time and never forwarded.
	ClientToken credential.Secret
	// AllowRemote permits a listen address that is not loopback and
	// requests whose Host is not a loopback name. It requires ClientToken:
	// anyone who can reach the port would otherwise spend the providers'
	// credentials.
	AllowRemote bool
	// Logger receives request logs: headers with credential values
	// redacted, never bodies. Default: discard.
	Logger *slog.Logger
	// Transport sends requests upstream. Default: a clone of
	// http.DefaultTransport (which honours HTTPS_PROXY) without transparent
	// compression, so bytes pass through as the upstream sent them.
	Transport http.RoundTripper
	// MaxReplayBody overrides DefaultMaxReplayBody.
	MaxReplayBody int64
	// MaxReplayMemory overrides DefaultMaxReplayMemory: the memory all
	// requests together may hold for replay. A body that finds it spent is
	// streamed through without a replay (its 401 reaches the client).
	MaxReplayMemory int64
	// ReadTimeout overrides DefaultReadTimeout: the time a client may take
	// to send its request headers (Serve) and the longest pause in its
	// body, after which the request ends with 408.
	ReadTimeout time.Duration
	// AllowOrigins lists web origins (scheme://host[:port]) whose pages may
	// use the proxy, such as a local web UI. Requests from every other
	// origin, loopback ones included, and requests a browser marks as
	// coming from another site are refused.
	AllowOrigins []string
	// DrainTimeout overrides DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Metrics, when set, is told of every request, upstream round trip
	// and 401 replay (a *metrics.Metrics).
	Metrics Observer
}

// Observer receives the proxy's measurements. *metrics.Metrics implements
// it with OpenTelemetry instruments; the proxy itself links no metrics
// library.
type Observer interface {
	// ProxyRequest: one request answered (provider "" when it named none),
	// took until the response ended.
	ProxyRequest(provider, method string, status int, took time.Duration)
	// ProxyUpstream: one request sent to a provider, took until its
	// response headers arrived (err when none did).
	ProxyUpstream(provider, method string, status int, took time.Duration, err error)
	// ProxyReplay: a request sent again with a fresh token after a 401.
	ProxyReplay(provider string)
}

// Server is the proxy. It is an http.Handler; Listen and Serve run it with
// the address checks and graceful shutdown the command line uses. It is
// safe for concurrent use.
type Server struct {
	opts Options
	rp   *httputil.ReverseProxy
	next http.RoundTripper
	log  *slog.Logger
	// clientSum is the SHA-256 of the client token: comparing digests keeps
	// the comparison constant-time even for candidates of another length.
	clientSum [sha256.Size]byte
	// origins are the allowed web origins, normalised.
	origins map[string]bool
	// replay is the memory budget for request bodies kept for replay.
	replay replayBudget
	// refused maps a provider name to when its upstream last refused a
	// freshly issued token (see refusedHold).
	refused sync.Map
}

var _ http.Handler = (*Server)(nil)

// New checks opts and returns a Server.
func New(opts Options) (*Server, error) {
	if opts.Providers == nil {
		return nil, errors.New("proxy: Options.Providers is required")
	}
	if opts.AllowRemote && opts.ClientToken.IsZero() {
		return nil, errors.New("proxy: a remote listener needs a client token: anyone who can reach it would otherwise use the providers' credentials")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Default != "" {
		set := opts.Providers.Current()
		if _, err := set.Provider(opts.Default); err != nil {
			return nil, fmt.Errorf("proxy: default provider %q is not configured (configured: %s)", opts.Default, strings.Join(set.Names(), ", "))
		}
		for _, name := range shadowed(set, opts.Default) {
			opts.Logger.Warn("provider cannot be reached by its prefix: its name is a path the default provider's clients send, so those requests go to the default provider",
				"provider", name, "path", "/"+name+"/", "default", opts.Default)
		}
	}
	if opts.MaxReplayBody <= 0 {
		opts.MaxReplayBody = DefaultMaxReplayBody
	}
	if opts.MaxReplayMemory <= 0 {
		opts.MaxReplayMemory = DefaultMaxReplayMemory
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	origins, err := parseOrigins(opts.AllowOrigins)
	if err != nil {
		return nil, err
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	if opts.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableCompression = true
		// Many concurrent model streams go to the same few hosts; the
		// default of 2 idle connections per host would redial constantly.
		t.MaxIdleConnsPerHost = 64
		opts.Transport = t
	}
	s := &Server{
		opts:    opts,
		next:    opts.Transport,
		log:     opts.Logger,
		origins: origins,
		replay:  replayBudget{limit: opts.MaxReplayMemory},
	}
	if !opts.ClientToken.IsZero() {
		s.clientSum = sha256.Sum256([]byte(opts.ClientToken.Reveal()))
	}
	s.rp = &httputil.ReverseProxy{
		Rewrite:        s.rewrite,
		Transport:      roundTripFunc(s.roundTrip),
		FlushInterval:  -1, // server-sent events: every write reaches the client at once
		ModifyResponse: s.modifyResponse,
		ErrorHandler:   s.upstreamError,
		ErrorLog:       slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
		// Without a pool ReverseProxy allocates 32 KiB per response: two
		// thirds of the proxy's allocation on small model answers.
		BufferPool: bufferPool{},
	}
	return s, nil
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// bufferPool implements httputil.BufferPool over sync.Pool.
type bufferPool struct{}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// exchange is one proxied request's state, carried in its context from the
// handler to the rewrite and transport hooks.
type exchange struct {
	p    *registry.Provider
	url  *url.URL // the upstream URL, without the client's query
	rest string   // the request's path after the provider's prefix
	tok  *credential.Token
	// client is the client's request body, nil without one.
	client *clientBody
	// buf holds the request body, or the part of it read before it turned
	// out too large to keep; replay says whether the request can be sent
	// again (its whole body is in buf, or it has none).
	buf     *replayBody
	replay  bool
	retried bool
	status  int
	// user is the claims of the caller's token, once the identity provider
	// accepted it in an exchange (per-user providers only).
	user *credential.Claims
}

type exchangeKey struct{}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	x := &exchange{}
	method, path := r.Method, r.URL.EscapedPath()
	defer func() {
		if x.buf != nil {
			x.buf.drop()
		}
		// ReverseProxy aborts a broken stream by panicking with
		// http.ErrAbortHandler; log it, then let net/http see the panic.
		v := recover()
		s.logDone(method, path, x, rec, start, v)
		if v != nil {
			panic(v)
		}
	}()
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("proxy request", "method", r.Method, "path", r.URL.EscapedPath(), "query", redactQuery(r.URL.RawQuery),
			"remote", r.RemoteAddr, "headers", headerLog{h: r.Header})
	}
	if msg := s.checkOrigin(r); msg != "" {
		writeError(rec, http.StatusForbidden, msg)
		return
	}
	if !forwardedMethods[r.Method] {
		rec.Header().Set("Allow", allowedMethods)
		writeError(rec, http.StatusMethodNotAllowed, fmt.Sprintf("proxy: method %q is not forwarded; model APIs use %s", r.Method, allowedMethods))
		return
	}
	if !s.authorized(r) {
		rec.Header().Set("WWW-Authenticate", `Bearer realm="byokcred proxy"`)
		writeError(rec, http.StatusUnauthorized, "proxy: missing or wrong client token (send it as X-Byokcred-Token or Authorization: Bearer)")
		return
	}
	set, release := registry.Acquire(s.opts.Providers)
	// Held until the response is done: a reload meanwhile must not close
	// the sources this request is using (it may be waiting on a fetch, or
	// ask again after a 401).
	defer release()
	p, rest, status, err := s.route(set, r)
	if err != nil {
		writeError(rec, status, err.Error())
		return
	}
	x.p = p
	x.rest = rest
	x.url, err = targetURL(p.BaseURL, rest)
	if err != nil {
		writeError(rec, http.StatusBadGateway, fmt.Sprintf("proxy: provider %s: %v", p.Name, err))
		return
	}
	if err := s.buffer(rec, r, x); err != nil {
		if x.client.timedOut() {
			s.bodyTimeout(rec)
			return
		}
		writeError(rec, http.StatusBadRequest, fmt.Sprintf("proxy: reading the request body: %v", err))
		return
	}
	if p.IsPerUser() {
		x.tok, err = s.userToken(r, p, x)
		if err != nil {
			// The details (the identity provider's answer) go to the log;
			// the client gets a plain reason.
			status, msg, wait := userError(p, err)
			if wait > 0 {
				s.log.Warn("user token not exchanged: too many new user tokens at once", "provider", p.Name, "err", err)
				// Whole seconds, rounded up: a client that retries at once
				// would be turned away again.
				rec.Header().Set("Retry-After", strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10))
			} else {
				s.log.Warn("user token not accepted", "provider", p.Name, "err", err)
			}
			writeError(rec, status, msg)
			return
		}
		s.rp.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
		return
	}
	x.tok, err = p.Token(r.Context())
	if err != nil {
		s.log.Warn("no credential for a request", "provider", p.Name, "err", err)
		writeError(rec, http.StatusServiceUnavailable, "proxy: "+err.Error())
		return
	}
	s.rp.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
}

func (s *Server) logDone(method, path string, x *exchange, rec *recorder, start time.Time, panicked any) {
	status := x.status
	if status == 0 {
		status = rec.status
	}
	took := time.Since(start)
	provider := ""
	if x.p != nil {
		provider = x.p.Name
	}
	if m := s.opts.Metrics; m != nil {
		m.ProxyRequest(provider, method, status, took)
	}
	attrs := []any{"method", method, "path", path, "status", status, "bytes", rec.bytes, "duration", took.Round(time.Microsecond)}
	if provider != "" {
		attrs = append(attrs, "provider", provider)
	}
	if u := x.user; u != nil {
		attrs = append(attrs, userAttr(u))
	}
	if x.retried {
		attrs = append(attrs, "retried", true)
	}
	if panicked != nil {
		s.log.Warn("proxied response aborted mid-stream", attrs...)
		return
	}
	s.log.Info("proxied", attrs...)
}

// userAttr names the caller for the audit line: the oid (else sub) and
// tenant of a token the identity provider accepted, never the token.
func userAttr(c *credential.Claims) slog.Attr {
	var attrs []any
	if c.ObjectID != "" {
		attrs = append(attrs, "oid", c.ObjectID)
	} else if c.Subject != "" {
		attrs = append(attrs, "sub", c.Subject)
	}
	if c.TenantID != "" {
		attrs = append(attrs, "tid", c.TenantID)
	}
	return slog.Group("user", attrs...)
}

// recorder remembers the status and counts the body bytes for the access
// log. Unwrap lets http.ResponseController (which ReverseProxy uses to
// flush and hijack) reach the real writer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
