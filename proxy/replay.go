package proxy

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Replay buffers grow in chunks as the body arrives: the first is small, so
// that a client announcing a large Content-Length and sending little makes
// the proxy hold little, and each next one is twice as large (copying
// nothing), up to maxChunk.
const (
	firstChunk = 4 << 10
	maxChunk   = 1 << 20
)

// replayBudget is the memory all requests together may hold for replay.
type replayBudget struct {
	limit int64
	held  atomic.Int64
}

// reserve takes n bytes from the budget, or reports that they are not left.
func (b *replayBudget) reserve(n int64) bool {
	for {
		h := b.held.Load()
		if h+n > b.limit {
			return false
		}
		if b.held.CompareAndSwap(h, h+n) {
			return true
		}
	}
}

func (b *replayBudget) release(n int64) { b.held.Add(-n) }

// replayBody is a request body, or its first part, kept in memory. Its
// chunks are reachable only through it, never through the readers it hands
// out, so that releasing it (returning its bytes to the budget) really lets
// them go, even while the request, which references its readers, lives on
// for a long streamed response.
type replayBody struct {
	budget   *replayBudget
	mu       sync.Mutex
	chunks   [][]byte
	size     int64 // bytes of body held
	held     int64 // bytes reserved from the budget (chunk capacity)
	open     int   // readers handed out and not closed yet
	done     bool  // no further reader will be needed
	released bool
}

var errReplayReleased = errors.New("proxy: request body already released")

// reader returns a new reader over the whole body.
func (b *replayBody) reader() (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.released {
		return nil, errReplayReleased
	}
	b.open++
	return &replayReader{b: b}, nil
}

// finish says that no further reader will be needed: the body is released
// once the readers handed out are closed (the transport closes a request
// body when it has sent it).
func (b *replayBody) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	b.releaseLocked()
}

// drop releases the body now, whatever its readers still want: the request
// is over.
func (b *replayBody) drop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done, b.open = true, 0
	b.releaseLocked()
}

func (b *replayBody) releaseLocked() {
	if b.done && b.open == 0 && !b.released {
		b.released = true
		b.chunks = nil
		b.budget.release(b.held)
		b.held = 0
	}
}

// replayReader reads a replayBody from the start.
type replayReader struct {
	b      *replayBody
	chunk  int // index of the chunk being read
	off    int // offset in that chunk
	closed bool
}

func (r *replayReader) Read(p []byte) (int, error) {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.closed || b.released {
		return 0, errReplayReleased
	}
	for r.chunk < len(b.chunks) {
		c := b.chunks[r.chunk]
		if r.off < len(c) {
			n := copy(p, c[r.off:])
			r.off += n
			return n, nil
		}
		r.chunk, r.off = r.chunk+1, 0
	}
	return 0, io.EOF
}

func (r *replayReader) Close() error {
	b := r.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if !r.closed {
		r.closed = true
		b.open--
		b.releaseLocked()
	}
	return nil
}

// prefixedBody is a body that did not fit for replay: the part already read
// (held until it has been sent), then the rest straight from the client.
type prefixedBody struct {
	prefix *replayReader
	rest   io.ReadCloser
	sent   bool // the prefix is sent and released
}

func (p *prefixedBody) Read(b []byte) (int, error) {
	if !p.sent {
		n, err := p.prefix.Read(b)
		if err != io.EOF {
			return n, err
		}
		p.prefix.Close()
		p.sent = true
		if n > 0 {
			return n, nil
		}
	}
	return p.rest.Read(b)
}

func (p *prefixedBody) Close() error {
	p.prefix.Close()
	return p.rest.Close()
}

// clientBody is the client's request body with a read timeout: each read
// must make progress within the timeout, or the request ends. A client
// that announces a body and then sends it slowly, or not at all, must not
// keep a connection, and a part of the replay budget, for as long as it
// likes.
type clientBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	// eof is set once the body has ended: from then on the server reads
	// the connection in the background to notice a client that goes away,
	// and a read deadline set now would end that read, and the request.
	eof bool
	mu  sync.Mutex
	err error // the first read error
}

func (c *clientBody) Read(p []byte) (int, error) {
	if c.eof {
		return 0, io.EOF
	}
	// The server does not support deadlines on every connection type
	// (http.ErrNotSupported); then only the header timeout applies.
	c.rc.SetReadDeadline(time.Now().Add(c.timeout))
	n, err := c.ReadCloser.Read(p)
	if err == io.EOF {
		c.eof = true
	} else if err != nil {
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	return n, err
}

// timedOut reports whether a read of the body hit the timeout (false
// without a body).
func (c *clientBody) timedOut() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Is(c.err, os.ErrDeadlineExceeded)
}

// ReplayMemory returns the bytes of request bodies held for replay now
// (at most Options.MaxReplayMemory): the metrics' replay memory gauge.
func (s *Server) ReplayMemory() int64 { return s.replay.held.Load() }
