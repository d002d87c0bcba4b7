package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"time"
)

// buffer reads r's body into memory, up to the replay bound, so that a
// request rejected with 401 can be sent again. The memory grows with the
// bytes that arrive, never with the length the client announces, and is
// reserved from the budget all requests share. A body larger than the
// bound, or one that finds the budget spent, is streamed through instead
// (the part already read first) and the request is not replayable: its 401
// reaches the client. Refusing it would turn a full budget into failed
// requests, while the replay it loses is needed only when a token was
// revoked early.
func (s *Server) buffer(w http.ResponseWriter, r *http.Request, x *exchange) error {
	if r.Body == nil || r.Body == http.NoBody {
		x.replay = true
		return nil
	}
	cb := &clientBody{ReadCloser: r.Body, rc: http.NewResponseController(w), timeout: s.opts.ReadTimeout}
	x.client = cb
	r.Body = cb
	limit := s.opts.MaxReplayBody
	if r.ContentLength > limit {
		return nil // known too large: do not hold it in memory
	}
	b := &replayBody{budget: &s.replay}
	x.buf = b
	for size := int64(firstChunk); ; size = min(2*size, maxChunk) {
		// One byte beyond the bound tells a body of exactly the bound
		// from a larger one.
		size = min(size, limit+1-b.size)
		if cl := r.ContentLength; cl >= 0 {
			size = min(size, max(cl-b.size, 1))
		}
		if !s.replay.reserve(size) {
			s.log.Debug("replay memory spent: streaming the request body without a replay", "max_replay_memory", s.opts.MaxReplayMemory)
			return s.stream(r, b)
		}
		b.held += size
		chunk := make([]byte, size)
		n, err := fill(cb, chunk)
		if n > 0 {
			b.chunks = append(b.chunks, chunk[:n])
			b.size += int64(n)
		}
		switch {
		case b.size > limit:
			return s.stream(r, b)
		case err == io.EOF:
			x.replay = true
			if b.size == 0 {
				b.drop()
				r.Body, r.ContentLength = http.NoBody, 0
				return nil
			}
			// The request is sent with a reader of b that rewrite opens:
			// ReverseProxy never closes the body it was given, the
			// transport closes the one it sends, which lets b go.
			r.ContentLength = b.size
			return nil
		case err != nil:
			return err
		}
	}
}

// fill reads into buf until it is full or the body ends (io.EOF). Unlike
// io.ReadFull it passes on io.ErrUnexpectedEOF, which is how net/http
// reports a client that hung up before sending its whole Content-Length:
// such a body is not complete and must not be forwarded as if it were.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// stream forwards r with the part of its body already read in b first.
func (s *Server) stream(r *http.Request, b *replayBody) error {
	if b.size == 0 {
		b.drop()
		return nil
	}
	prefix, err := b.reader()
	if err != nil {
		return err
	}
	b.finish() // released once the prefix has been sent
	r.Body = &prefixedBody{prefix: prefix.(*replayReader), rest: r.Body}
	return nil
}

// rewrite is the ReverseProxy's Rewrite hook: point the request at the
// provider, swap the client's credentials for the provider's, add the
// provider's headers. Forwarding headers (X-Forwarded-For and friends) are
// not added: the provider has no use for the client's loopback address.
func (s *Server) rewrite(pr *httputil.ProxyRequest) {
	x := pr.In.Context().Value(exchangeKey{}).(*exchange)
	u := *x.url
	// pr.Out's query is the client's, cleaned of unparsable parameters by
	// ReverseProxy.
	u.RawQuery = joinQuery(x.url.RawQuery, pr.Out.URL.RawQuery)
	pr.Out.URL = &u
	pr.Out.Host = ""
	h := pr.Out.Header
	for _, k := range clientCredentialHeaders {
		h.Del(k)
	}
	for k := range h {
		if routingHeader(k) {
			delete(h, k)
		}
	}
	// Model APIs read no request trailers, and a client could put in them
	// what the header checks removed (Authorization, the client token).
	pr.Out.Trailer = nil
	for k, v := range x.p.Headers {
		h.Set(k, v)
	}
	SetCredential(h, x.p.Type, x.tok)
	if b := x.buf; x.replay && b != nil {
		// A reader fails only once b is released, after the round trip.
		pr.Out.Body, _ = b.reader()
		// Lets the transport resend on a stale keep-alive connection too.
		pr.Out.GetBody = b.reader
	}
	if s.log.Enabled(pr.In.Context(), slog.LevelDebug) {
		s.log.Debug("forwarding", "provider", x.p.Name, "url", upstreamForLog(x.p, x.rest, u.RawQuery), "credential", x.tok, "headers", headerLog{h: h, extra: x.p.Headers})
	}
}

// roundTrip sends the request upstream; on a 401 it drops the rejected
// token from the provider's cache and sends the request once more with a
// fresh one, when it can.
func (s *Server) roundTrip(req *http.Request) (*http.Response, error) {
	if x, ok := req.Context().Value(exchangeKey{}).(*exchange); ok && x.buf != nil {
		// Once this returns, the body is needed no more for a replay: its
		// memory goes back to the budget as soon as the transport has sent
		// it, not when a long streamed answer ends.
		defer x.buf.finish()
	}
	resp, err := s.send(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	x, ok := req.Context().Value(exchangeKey{}).(*exchange)
	if !ok {
		return resp, nil
	}
	return s.retry(req, resp, x)
}

// send makes one round trip upstream, timed for the metrics.
func (s *Server) send(req *http.Request) (*http.Response, error) {
	m := s.opts.Metrics
	if m == nil {
		return s.next.RoundTrip(req)
	}
	start := time.Now()
	resp, err := s.next.RoundTrip(req)
	provider := ""
	if x, ok := req.Context().Value(exchangeKey{}).(*exchange); ok {
		provider = x.p.Name
	}
	status := 0
	if err == nil {
		status = resp.StatusCode
	}
	m.ProxyUpstream(provider, req.Method, status, time.Since(start), err)
	return resp, err
}

// refusedHold is how long the proxy stops invalidating and retrying for a
// provider after the upstream refused a freshly issued token too. Then the
// cause is not the token's age (a missing role assignment, a wrong
// audience), and forcing a new token for every request would only load the
// identity provider, which throttles.
const refusedHold = 30 * time.Second

func (s *Server) retry(req *http.Request, resp *http.Response, x *exchange) (*http.Response, error) {
	p := x.p
	if p.IsPerUser() {
		// The user's token was exchanged moments ago; a 401 for it is the
		// upstream's verdict on the user (no role assignment), which a new
		// exchange would not change.
		return resp, nil
	}
	log := s.log.With("provider", p.Name)
	if at, ok := s.refused.Load(p.Name); ok && time.Since(at.(time.Time)) < refusedHold {
		log.Debug("upstream rejected the credential; not retrying, it refused a fresh one moments ago", "rejected", x.tok)
		return resp, nil
	}
	if p.Cache != nil {
		// Invalidating a token that was already replaced does nothing, so a
		// burst of 401s for one token causes one refresh.
		p.Cache.Invalidate(x.tok)
	}
	if !x.replay {
		log.Warn("upstream rejected the credential; the request body was not kept (larger than max_replay_body, or the replay memory was in use), so the 401 goes to the client",
			"rejected", x.tok, "max_replay_body", s.opts.MaxReplayBody, "max_replay_memory", s.opts.MaxReplayMemory)
		return resp, nil
	}
	fresh, err := p.Token(req.Context())
	if err != nil {
		log.Warn("upstream rejected the credential and no fresh one is available", "rejected", x.tok, "err", err)
		return resp, nil
	}
	if fresh.Value.Equal(x.tok.Value) {
		// A static key: sending it again would be refused again.
		log.Warn("upstream rejected the credential and the source has no other", "rejected", x.tok)
		return resp, nil
	}
	log.Info("upstream rejected the credential; retrying once with a fresh one", "rejected", x.tok, "fresh", fresh)
	// The client sees only the retry's answer; drain a little of the 401 so
	// its connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	again := req.Clone(req.Context())
	if x.buf != nil {
		if again.Body, err = x.buf.reader(); err != nil {
			return nil, err
		}
	}
	SetCredential(again.Header, p.Type, fresh)
	x.tok, x.retried = fresh, true
	if m := s.opts.Metrics; m != nil {
		m.ProxyReplay(p.Name)
	}
	resp, err = s.send(again)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		s.refused.Store(p.Name, time.Now())
		log.Warn("upstream refused a freshly issued credential too: the token's age is not the cause (check the identity's role assignment and the token's audience); no more retries for a while",
			"fresh", fresh, "hold", refusedHold)
	}
	return resp, err
}

// modifyResponse records the upstream status and logs the response headers.
func (s *Server) modifyResponse(resp *http.Response) error {
	x, ok := resp.Request.Context().Value(exchangeKey{}).(*exchange)
	if !ok {
		return nil
	}
	x.status = resp.StatusCode
	if s.log.Enabled(resp.Request.Context(), slog.LevelDebug) {
		s.log.Debug("upstream response", "provider", x.p.Name, "status", resp.StatusCode, "headers", headerLog{h: resp.Header})
	}
	return nil
}

// upstreamError answers when the upstream could not be reached.
func (s *Server) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	name := "?"
	if x, ok := r.Context().Value(exchangeKey{}).(*exchange); ok {
		name = x.p.Name
		if x.client != nil && x.client.timedOut() {
			// The client stalled while its body streamed upstream (the
			// timeout also cancels the request's context).
			s.bodyTimeout(w)
			return
		}
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; nobody is left to answer.
		s.log.Debug("client cancelled the request", "provider", name)
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	s.log.Warn("upstream request failed", "provider", name, "err", err)
	writeError(w, http.StatusBadGateway, fmt.Sprintf("proxy: provider %s: upstream request failed: %v", name, err))
}

// bodyTimeout answers a request whose body stopped arriving.
func (s *Server) bodyTimeout(w http.ResponseWriter) {
	// The rest of the body will not be read: the connection cannot serve
	// another request.
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusRequestTimeout, fmt.Sprintf("proxy: the request body stalled: nothing arrived for %s", s.opts.ReadTimeout))
}
