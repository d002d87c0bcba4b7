// Package fakemodel is a loopback model endpoint that speaks just enough of
// the OpenAI chat-completions and responses APIs, Azure OpenAI's routes and
// Anthropic's messages API for the Copilot runtime to complete a turn. It
// records every request, so tests and the demo can show which header carried
// the credential.
package fakemodel

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Request is one request the endpoint received.
type Request struct {
	Time     time.Time
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	// Model is the "model" field of the JSON body (empty for Azure
	// deployment routes, which carry it in the path).
	Model string
	// Stream reports whether the body asked for streaming.
	Stream bool
	// Status is what the endpoint answered.
	Status int
}

// Credential returns the header that carried a credential and its value:
// Authorization (without "Bearer "), api-key or x-api-key.
func (r Request) Credential() (header, value string) {
	if v := r.Header.Get("Authorization"); v != "" {
		return "Authorization", strings.TrimPrefix(v, "Bearer ")
	}
	for _, h := range []string{"api-key", "x-api-key"} {
		if v := r.Header.Get(h); v != "" {
			return h, v
		}
	}
	return "", ""
}

// Options configure a Server.
type Options struct {
	// Reply is the assistant text every turn returns. Default "Hello".
	Reply string
	// Check, when set, decides the status of each request before it is
	// answered: return 0 (or 200) to answer normally, or an HTTP status such
	// as 401 to refuse.
	Check func(r *Request) int
	// ChunkDelay is slept between streamed chunks.
	ChunkDelay time.Duration
}

// Server is a running fake endpoint.
type Server struct {
	URL  string
	opts Options
	srv  *http.Server
	ln   net.Listener

	mu   sync.Mutex
	reqs []Request
}

// Start listens on 127.0.0.1 on a free port.
func Start(opts Options) (*Server, error) {
	if opts.Reply == "" {
		opts.Reply = "Hello"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakemodel: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), opts: opts, ln: ln}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Reset forgets the recorded requests.
func (s *Server) Reset() {
	s.mu.Lock()
	s.reqs = nil
	s.mu.Unlock()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	var in struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	_ = json.Unmarshal(body, &in)
	req := Request{Time: time.Now(), Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Model: in.Model, Stream: in.Stream, Status: http.StatusOK}
	if s.opts.Check != nil {
		if st := s.opts.Check(&req); st != 0 {
			req.Status = st
		}
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	s.mu.Unlock()
	if req.Status != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(req.Status)
		fmt.Fprintf(w, `{"error":{"message":"fakemodel: refused with %d","type":"invalid_request_error","code":"%d"}}`, req.Status, req.Status)
		return
	}
	switch p := r.URL.Path; {
	case strings.HasSuffix(p, "/chat/completions"):
		s.chat(w, in.Stream)
	case strings.HasSuffix(p, "/responses"):
		s.responses(w, in.Stream)
	case strings.HasSuffix(p, "/v1/messages"):
		s.anthropic(w)
	case strings.HasSuffix(p, "/models"):
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"object":"list","data":[{"id":"fake-model","object":"model"}]}`)
	default:
		http.NotFound(w, r)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (s *Server) chat(w http.ResponseWriter, stream bool) {
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-fake","object":"chat.completion","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":%s}}]}`, jsonString(s.opts.Reply))
		return
	}
	sse(w)
	// One chunk per word, flushed, so streaming clients see the reply
	// arrive in pieces; the last chunk carries finish_reason.
	words := strings.SplitAfter(s.opts.Reply, " ")
	for i, word := range words {
		finish := "null"
		if i == len(words)-1 {
			finish = `"stop"`
		}
		fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-fake\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":%s},\"finish_reason\":%s}]}\n\n", jsonString(word), finish)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if s.opts.ChunkDelay > 0 {
			time.Sleep(s.opts.ChunkDelay)
		}
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func (s *Server) responses(w http.ResponseWriter, stream bool) {
	out := fmt.Sprintf(`{"id":"resp-fake","object":"response","status":"completed","output":[{"type":"message","id":"msg-fake","status":"completed","role":"assistant","content":[{"type":"output_text","text":%s,"annotations":[]}]}]}`, jsonString(s.opts.Reply))
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, out)
		return
	}
	sse(w)
	fmt.Fprintf(w, "data: {\"type\":\"response.completed\",\"response\":%s}\n\n", out)
}

func (s *Server) anthropic(w http.ResponseWriter) {
	sse(w)
	fmt.Fprintf(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_fake\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":%s}],\"stop_reason\":\"end_turn\"}}\n\n", jsonString(s.opts.Reply))
	fmt.Fprint(w, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
}

func sse(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
}
