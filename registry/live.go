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
type Live struct {
	path string
	opts Options

	cur atomic.Pointer[Set]
	mu  sync.Mutex // serialises reloads
}

// NewLive loads path.
func NewLive(path string, opts Options) (*Live, error) {
	opts.defaults()
	set, err := Load(path, opts)
	if err != nil {
		return nil, err
	}
	l := &Live{path: path, opts: opts}
	l.cur.Store(set)
	return l, nil
}

// Current returns the set in force.
func (l *Live) Current() *Set { return l.cur.Load() }

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
	set, err := newSet(cfg, l.opts, old)
	if err != nil {
		l.opts.Logger.Error("config reload rejected; the previous config keeps serving", "file", l.path, "err", err)
		return err
	}
	l.cur.Store(set)
	// Closes only what the new set did not take over (removed or changed
	// auth blocks).
	old.Close()
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

// Close closes the set in force.
func (l *Live) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur.Load().Close()
}
