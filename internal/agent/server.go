package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/byokcred/byokcred/credential"
)

// Server answers helpers' requests from a config's token caches.
type Server struct {
	// Config is the absolute path of the config file served.
	Config string
	// Token returns the named provider's credential ("" names the default
	// provider) and the provider's name. An *Error return keeps its code;
	// any other error is answered with CodeToken.
	Token func(ctx context.Context, name string) (*credential.Token, string, error)
	// Describe returns the named provider's description and the credential
	// kind it serves, for OpProvider; nil answers OpProvider as an unknown
	// op. It must put no secret in the ProviderInfo.
	Describe func(ctx context.Context, name string) (*ProviderInfo, credential.Kind, string, error)
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

// idleTimeout bounds how long a kept connection (Request.Keep) may wait for
// its next request; the client reconnects after it.
const idleTimeout = 2 * time.Minute

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

// ErrRunning wraps Listen's refusal when an agent already holds the socket.
var ErrRunning = errors.New("agent: another agent holds the socket")

// Listen creates the socket at path: its directory 0700 if it has to be
// created (an existing one must be ours and private, see [CheckDir]), the
// socket 0600. A socket left by an agent that was killed is replaced; one a
// live agent answers on is an error, and so is anything at path that is not
// a socket of ours: it is never removed.
func Listen(path string) (*Listener, error) {
	if err := PrepareDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s: another agent is running or starting (%w)", ErrRunning, path, err)
		}
		return nil, fmt.Errorf("agent: lock file: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		lock.Close()
		return nil, fmt.Errorf("%w: %s: an agent is already listening", ErrRunning, path)
	}
	// Not answered: a stale socket (the lock says no agent holds it), or
	// something that is no socket at all, such as a mistyped --socket.
	if err := removeStale(path); err != nil {
		lock.Close()
		return nil, err
	}
	ln, err := listenPrivate(path)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("agent: %w", err)
	}
	return &Listener{Listener: ln, lock: lock}, nil
}

// removeStale removes a killed agent's socket at path, and nothing else.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("agent: %w", err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("agent: %s is %s, not a socket: it is left alone; choose another --socket or $%s", path, fileKind(fi), SocketEnv)
	}
	if uid, ok := fileOwner(fi); !ok || uid != os.Geteuid() {
		return fmt.Errorf("%w: %s is a socket not owned by this user (uid %d): it is left alone; remove it", ErrUntrusted, path, os.Geteuid())
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("agent: removing stale socket: %w", err)
	}
	return nil
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
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Out of file descriptors (EMFILE, ENFILE), an aborted
			// connection: wait and accept again, as net/http's Server does,
			// instead of stopping the agent every helper depends on.
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, minBackoff), maxBackoff)
				s.Logger.Warn("agent: accept failed; retrying", "err", err, "in", backoff)
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(backoff):
				}
				continue
			}
			return fmt.Errorf("agent: %w", err)
		}
		backoff = 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			s.handle(ctx, conn)
		}()
	}
}

// The accept back-off: net/http's, 5 ms doubling to 1 s.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

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
	// One space, before the request is read: JSON allows it before the
	// answer, and it tells the client within firstByteTimeout that a live
	// agent has its request, however long the answer takes (a cold fetch).
	conn.SetWriteDeadline(time.Now().Add(readTimeout))
	if _, err := conn.Write([]byte{' '}); err != nil {
		return // the peer left (a liveness probe)
	}
	// A kept connection waits for its next request until the client leaves,
	// idleTimeout passes, or the agent stops: stopping interrupts the wait
	// for a request, never an answer being written.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Now()) })
	defer stop()
	lr := &io.LimitedReader{R: conn, N: maxRequest}
	dec := json.NewDecoder(lr)
	wait := readTimeout
	for {
		conn.SetReadDeadline(time.Now().Add(wait))
		if ctx.Err() != nil {
			return
		}
		lr.N = maxRequest // per request: dec may hold the next one's start
		var req Request
		resp := Response{V: Version}
		if err := dec.Decode(&req); errors.Is(err, io.EOF) {
			return // connected and left without asking (a liveness probe), or done
		} else if err != nil {
			var ne net.Error
			if ctx.Err() != nil || (wait == idleTimeout && (errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF))) {
				return // stopping, or a kept connection's wait ended (idle, or the client left)
			}
			resp.Code, resp.Error = CodeBadInput, "unreadable request"
			req.Keep = false // the stream is lost: no next request to find
		} else {
			if wait == idleTimeout {
				// A kept connection's request gets the accept's space too, before
				// any fetch: without it a stopped or wedged agent would be noticed
				// only at the client's call timeout, not its first-byte limit.
				conn.SetWriteDeadline(time.Now().Add(readTimeout))
				if _, err := conn.Write([]byte{' '}); err != nil {
					return // the client left
				}
			}
			resp = s.answer(ctx, req)
			resp.Keep = req.Keep && req.V == Version
		}
		resp.Error = capError(resp.Error)
		conn.SetWriteDeadline(time.Now().Add(readTimeout))
		enc := json.NewEncoder(conn)
		// Unescaped <, > and &: the answer's size is then at most twice the
		// token's (a quote or a backslash), which maxResponse allows for.
		enc.SetEscapeHTML(false)
		if err := enc.Encode(resp); err != nil {
			s.Logger.Debug("agent: answer not delivered", "provider", req.Provider, "err", err)
			return
		}
		if !resp.Keep {
			return
		}
		wait = idleTimeout
	}
}

func (s *Server) answer(ctx context.Context, req Request) Response {
	resp := Response{V: Version}
	switch {
	case req.V != Version:
		resp.Code, resp.Error = CodeVersion, fmt.Sprintf("protocol version %d not supported (agent speaks %d); restart the agent with this byokcred", req.V, Version)
		return resp
	case req.Op != OpToken && (req.Op != OpProvider || s.Describe == nil):
		resp.Code, resp.Error = CodeBadInput, fmt.Sprintf("unknown op %q", req.Op)
		return resp
	case req.Config != "" && req.Config != s.Config:
		resp.Code, resp.Error = CodeConfig, fmt.Sprintf("the agent serves %s, not %s", s.Config, req.Config)
		return resp
	case req.Op == OpProvider:
		return s.describe(ctx, req)
	}
	start := time.Now()
	tok, name, err := s.Token(ctx, req.Provider)
	if err != nil {
		resp.Code, resp.Error = errorCode(err)
		s.Logger.Warn("agent: no credential", "provider", req.Provider, "err", resp.Error)
		return resp
	}
	// Whatever the source, never send what the client must refuse: more
	// than a credential's size, or bytes a header cannot carry.
	if v := tok.Value.Reveal(); len(v) > maxToken {
		resp.Code, resp.Error = CodeToken, fmt.Sprintf("provider %s returned a credential of %d bytes; an agent answer carries at most %d", name, len(v), maxToken)
		return resp
	} else if err := credential.CheckHeaderValue(v, tok.Kind); err != nil {
		resp.Code, resp.Error = CodeToken, fmt.Sprintf("provider %s returned a credential that cannot be sent: %v", name, err)
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

// describe answers OpProvider.
func (s *Server) describe(ctx context.Context, req Request) Response {
	resp := Response{V: Version}
	info, kind, name, err := s.Describe(ctx, req.Provider)
	if err != nil {
		resp.Code, resp.Error = errorCode(err)
		s.Logger.Warn("agent: no provider description", "provider", req.Provider, "err", resp.Error)
		return resp
	}
	resp.Provider, resp.Kind, resp.ProviderConfig = name, kind.String(), info
	s.Logger.Debug("agent: described", "provider", name)
	return resp
}

// errorCode is the code and message an error is answered with: an *Error
// keeps its code, anything else is CodeToken.
func errorCode(err error) (code, msg string) {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Code, ae.Msg
	}
	return CodeToken, err.Error()
}
