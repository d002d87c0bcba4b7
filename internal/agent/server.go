package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byokcred/byokcred/provider"
)

// Server answers helpers' requests from a config's token caches.
type Server struct {
	// Config is the absolute path of the config file served.
	Config string
	// Token returns the named provider's credential ("" names the default
	// provider) and the provider's name. An *Error return keeps its code;
	// any other error is answered with CodeToken.
	Token func(ctx context.Context, name string) (*provider.Token, string, error)
	// Logger gets one line per request at debug and refused peers at warn;
	// never a credential.
	Logger *slog.Logger

	served atomic.Int64
}

// Served counts the credentials handed out.
func (s *Server) Served() int64 { return s.served.Load() }

// readTimeout bounds how long a connected peer may take to send its
// request: a stuck client must not pin a goroutine forever.
const readTimeout = 5 * time.Second

// maxRequest bounds a request's size.
const maxRequest = 64 << 10

// Listener is a listening agent socket and the lock that keeps a second
// agent off it.
type Listener struct {
	net.Listener
	lock *os.File
}

// Close stops listening, removes the socket and releases the lock. The
// lock file stays: removing it would let two agents lock different files.
func (l *Listener) Close() error {
	err := l.Listener.Close()
	if l.lock != nil {
		err = errors.Join(err, l.lock.Close())
	}
	return err
}

// Listen creates the socket at path: its directory 0700 if it has to be
// created, the socket 0600. A socket left by an agent that was killed is
// replaced; one a live agent answers on is an error.
func Listen(path string) (*Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: socket directory: %w", err)
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("agent: %s: another agent is running or starting (%w)", path, err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		lock.Close()
		return nil, fmt.Errorf("agent: %s: an agent is already listening", path)
	}
	// Not answered: a stale socket (the lock says no agent holds it).
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		lock.Close()
		return nil, fmt.Errorf("agent: removing stale socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("agent: %w", err)
	}
	// The directory is private when we made it; the mode closes the window
	// for sockets in shared directories, and SO_PEERCRED backs both.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		lock.Close()
		return nil, fmt.Errorf("agent: %w", err)
	}
	return &Listener{Listener: ln, lock: lock}, nil
}

// Serve answers requests on ln until ctx is done, then closes ln and waits
// for the requests in flight.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("agent: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			s.handle(ctx, conn)
		}()
	}
}

func (s *Server) handle(ctx context.Context, conn net.Conn) {
	uid, err := peerUID(conn)
	if err != nil {
		s.Logger.Warn("agent: refused a peer whose uid could not be read", "err", err)
		return
	}
	if uid != os.Geteuid() {
		s.Logger.Warn("agent: refused a peer of another uid", "peer_uid", uid, "agent_uid", os.Geteuid())
		return
	}
	conn.SetReadDeadline(time.Now().Add(readTimeout))
	var req Request
	resp := Response{V: Version}
	if err := json.NewDecoder(io.LimitReader(conn, maxRequest)).Decode(&req); errors.Is(err, io.EOF) {
		return // connected and left without asking (a liveness probe)
	} else if err != nil {
		resp.Code, resp.Error = CodeBadInput, "unreadable request"
	} else {
		resp = s.answer(ctx, req)
	}
	conn.SetWriteDeadline(time.Now().Add(readTimeout))
	if err := json.NewEncoder(conn).Encode(resp); err != nil {
		s.Logger.Debug("agent: answer not delivered", "provider", req.Provider, "err", err)
	}
}

func (s *Server) answer(ctx context.Context, req Request) Response {
	resp := Response{V: Version}
	switch {
	case req.V != Version:
		resp.Code, resp.Error = CodeVersion, fmt.Sprintf("protocol version %d not supported (agent speaks %d); restart the agent with this byokcred", req.V, Version)
		return resp
	case req.Op != OpToken:
		resp.Code, resp.Error = CodeBadInput, fmt.Sprintf("unknown op %q", req.Op)
		return resp
	case req.Config != "" && req.Config != s.Config:
		resp.Code, resp.Error = CodeConfig, fmt.Sprintf("the agent serves %s, not %s", s.Config, req.Config)
		return resp
	}
	start := time.Now()
	tok, name, err := s.Token(ctx, req.Provider)
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			resp.Code, resp.Error = ae.Code, ae.Msg
		} else {
			resp.Code, resp.Error = CodeToken, err.Error()
		}
		s.Logger.Warn("agent: no credential", "provider", req.Provider, "err", resp.Error)
		return resp
	}
	s.served.Add(1)
	resp.Provider, resp.Kind, resp.Token = name, tok.Kind.String(), tok.Value.Reveal()
	if !tok.Expiry.IsZero() {
		resp.Expiry = tok.Expiry.UnixMilli()
	}
	s.Logger.Debug("agent: served", "provider", name, "token", tok, "took", time.Since(start))
	return resp
}
