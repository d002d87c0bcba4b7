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
	resp.Error = capError(resp.Error)
	conn.SetWriteDeadline(time.Now().Add(readTimeout))
	enc := json.NewEncoder(conn)
	// Unescaped <, > and &: the answer's size is then at most twice the
	// token's (a quote or a backslash), which maxResponse allows for.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(resp); err != nil {
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
