package registry

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/byokcred/byokcred/config"
)

// Live is a config file that can be reloaded while sessions use it. Readers
// call Current for the set in force; Reload swaps in a new set atomically,
// so a request sees either the old config or the new one, never a mix.
//
// Sources whose auth block did not change are carried over into the new set
// — their caches stay warm and plugin processes keep running — so a reload
// costs no extra token fetch and fails no request. A file that does not
// load is rejected with its errors and the old set keeps serving.
//
// What the new set did not take over (a changed or removed auth block) is
// closed once no request holds the old set: a request that took it with
// Acquire finishes on it, even while it waits for a token being fetched
// (closing would cancel that fetch and fail the request).
type Live struct {
	path string
	opts Options

	cur atomic.Pointer[liveSet]
	mu  sync.Mutex // serialises reloads

	retiredMu sync.Mutex
	retired   map[*liveSet]bool // replaced sets not yet closed
}

// liveSet is a set of a Live with the requests that hold it.
type liveSet struct {
	set  *Set
	refs atomic.Int64
	// replaced is set once a newer set is in force: the last release
	// closes the set.
	replaced atomic.Bool
	closed   sync.Once
	live     *Live
}

// Acquirer is implemented by Providers whose set in force can be replaced
// (*Live): Acquire returns the set in force and keeps what it holds open
// until release is called. A consumer that serves a request over some time
// (the proxy) acquires the set for the request instead of calling Current,
// so that a reload meanwhile does not close the sources it is using.
type Acquirer interface {
	Acquire() (set *Set, release func())
}

var _ Acquirer = (*Live)(nil)

// Acquire returns the set in force of providers and the function that lets
// it go: the Acquirer's when providers has one, else Current with nothing
// to release (a fixed *Set is never replaced).
func Acquire(providers Providers) (set *Set, release func()) {
	if a, ok := providers.(Acquirer); ok {
		return a.Acquire()
	}
	return providers.Current(), func() {}
}

// NewLive loads path.
func NewLive(path string, opts Options) (*Live, error) {
	opts.defaults()
	set, err := Load(path, opts)
	if err != nil {
		return nil, err
	}
	l := &Live{path: path, opts: opts, retired: map[*liveSet]bool{}}
	l.cur.Store(&liveSet{set: set, live: l})
	return l, nil
}

// Current returns the set in force. A caller that uses it for longer than
// an instant (a token fetch, a request) should Acquire it instead: a reload
// meanwhile may close the sources of a replaced set that nothing acquired.
func (l *Live) Current() *Set { return l.cur.Load().set }

// Acquire returns the set in force and a function to call once the caller
// is done with it (exactly once). Until then a reload does not close the
// sources of that set that the new set did not take over.
func (l *Live) Acquire() (*Set, func()) {
	for {
		ls := l.cur.Load()
		ls.refs.Add(1)
		// A reload may have replaced ls between the load and the count;
		// then it may also have closed it: take the newer set.
		if l.cur.Load() == ls {
			return ls.set, ls.release
		}
		ls.release()
	}
}

func (ls *liveSet) release() {
	if ls.refs.Add(-1) == 0 && ls.replaced.Load() {
		ls.close()
	}
}

// close closes ls's set once, when it has been replaced and nothing holds
// it.
func (ls *liveSet) close() {
	ls.closed.Do(func() {
		ls.live.retiredMu.Lock()
		delete(ls.live.retired, ls)
		ls.live.retiredMu.Unlock()
		// Closes only what the newer set did not take over (removed or
		// changed auth blocks).
		ls.set.Close()
	})
}

// Reload re-reads the file. On error the old set stays in force and the
// error lists every problem.
func (l *Live) Reload() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.cur.Load()
	cfg, err := config.Load(l.path, l.opts.LookupEnv)
	if cfg == nil {
		l.opts.Logger.Error("config reload rejected; the previous config keeps serving", "file", l.path, "err", err)
		return err
	}
	set, err := newSet(cfg, l.opts, old.set, false)
	if err != nil {
		l.opts.Logger.Error("config reload rejected; the previous config keeps serving", "file", l.path, "err", err)
		return err
	}
	l.retiredMu.Lock()
	l.retired[old] = true
	l.retiredMu.Unlock()
	l.cur.Store(&liveSet{set: set, live: l})
	old.replaced.Store(true)
	// Requests that acquired the old set close it when they finish.
	if old.refs.Load() == 0 {
		old.close()
	}
	l.opts.Logger.Info("config reloaded", "file", l.path, "providers", len(set.Names()))
	return nil
}

// ReloadOnSignal reloads on each SIGHUP (or the given signals) until ctx is
// done.
func (l *Live) ReloadOnSignal(ctx context.Context, sigs ...os.Signal) {
	if len(sigs) == 0 {
		sigs = []os.Signal{syscall.SIGHUP}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		defer signal.Stop(ch)
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
				_ = l.Reload() // logged by Reload
			}
		}
	}()
}

// Close closes the set in force, and the sets it replaced that requests
// still held.
func (l *Live) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.retiredMu.Lock()
	var held []*liveSet
	for ls := range l.retired {
		held = append(held, ls)
	}
	l.retiredMu.Unlock()
	for _, ls := range held {
		ls.close()
	}
	return l.cur.Load().set.Close()
}
