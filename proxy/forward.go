package proxy

import (
	"bytes"
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
// request rejected with 401 can be sent again. A larger body is streamed
// through untouched (the part already read first) and the request is
// marked as not replayable.
func (s *Server) buffer(r *http.Request, x *exchange) error {
	if r.Body == nil || r.Body == http.NoBody {
		x.replay = true
		return nil
	}
	limit := s.opts.MaxReplayBody
	if r.ContentLength > limit {
		return nil // known too large: do not hold it in memory
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		return err
	}
	if int64(buf.Len()) > limit {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf.Bytes()), r.Body), r.Body}
		return nil
	}
	x.body, x.replay = buf.Bytes(), true
	r.Body = io.NopCloser(bytes.NewReader(x.body))
	r.ContentLength = int64(len(x.body))
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
	for k, v := range x.p.Headers {
		h.Set(k, v)
	}
	SetCredential(h, x.p.Type, x.tok)
	if body := x.body; body != nil {
		// Lets the transport resend on a stale keep-alive connection too.
		pr.Out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	if s.log.Enabled(pr.In.Context(), slog.LevelDebug) {
		s.log.Debug("forwarding", "provider", x.p.Name, "url", redactURL(&u), "credential", x.tok, "headers", headerLog{h: h, extra: x.p.Headers})
	}
}

// roundTrip sends the request upstream; on a 401 it drops the rejected
// token from the provider's cache and sends the request once more with a
// fresh one, when it can.
func (s *Server) roundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	x, ok := req.Context().Value(exchangeKey{}).(*exchange)
	if !ok {
		return resp, nil
	}
	return s.retry(req, resp, x)
}

// refusedHold is how long the proxy stops invalidating and retrying for a
// provider after the upstream refused a freshly issued token too. Then the
// cause is not the token's age (a missing role assignment, a wrong
// audience), and forcing a new token for every request would only load the
// identity provider, which throttles.
const refusedHold = 30 * time.Second

func (s *Server) retry(req *http.Request, resp *http.Response, x *exchange) (*http.Response, error) {
	p := x.p
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
		log.Warn("upstream rejected the credential; the request body was too large to keep, so the 401 goes to the client", "rejected", x.tok, "max_replay_body", s.opts.MaxReplayBody)
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
	if x.body != nil {
		again.Body = io.NopCloser(bytes.NewReader(x.body))
	}
	SetCredential(again.Header, p.Type, fresh)
	x.tok, x.retried = fresh, true
	resp, err = s.next.RoundTrip(again)
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
