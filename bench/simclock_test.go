package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// simClock is the simulated time of the refresh-stall benchmark. It moves
// only when the driver advances it, so a simulated day of requests runs in
// seconds while every implementation under test reads the same clock.
//
// The identity provider's latency is simulated too (Sleep): a fetch that
// "takes 500 ms" holds its caller until the driver has moved the clock 500 ms
// on, and every request that is blocked behind it stays blocked meanwhile.
type simClock struct {
	base time.Time
	ns   atomic.Int64 // simulated time since base

	mu       sync.Mutex
	sleepers []*simSleeper

	// progress is poked whenever a request ends or a sleeper starts.
	progress chan struct{}
}

type simSleeper struct {
	at int64
	ch chan struct{}
}

func newSimClock() *simClock {
	return &simClock{base: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), progress: make(chan struct{}, 1)}
}

// Now is the simulated time.
func (c *simClock) Now() time.Time { return c.base.Add(time.Duration(c.ns.Load())) }

func (c *simClock) poke() {
	select {
	case c.progress <- struct{}{}:
	default:
	}
}

// Sleep blocks for d of simulated time and returns the simulated time it
// woke at.
func (c *simClock) Sleep(ctx context.Context, d time.Duration) (time.Time, error) {
	s := &simSleeper{ch: make(chan struct{})}
	c.mu.Lock()
	s.at = c.ns.Load() + int64(d)
	c.sleepers = append(c.sleepers, s)
	c.mu.Unlock()
	c.poke()
	select {
	case <-s.ch:
		return c.base.Add(time.Duration(s.at)), nil
	case <-ctx.Done():
		c.mu.Lock()
		c.sleepers = slices.DeleteFunc(c.sleepers, func(x *simSleeper) bool { return x == s })
		c.mu.Unlock()
		return time.Time{}, ctx.Err()
	}
}

// sleeping counts the goroutines in Sleep.
func (c *simClock) sleeping() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sleepers)
}

// advance moves the clock to t, waking the sleepers due on the way in order
// of their deadlines, and calling settle after each wake-up so that what it
// unblocks happens at the simulated instant it is due.
func (c *simClock) advance(t int64, settle func()) {
	for {
		c.mu.Lock()
		idx := -1
		for i, s := range c.sleepers {
			if s.at <= t && (idx < 0 || s.at < c.sleepers[idx].at) {
				idx = i
			}
		}
		if idx < 0 {
			c.ns.Store(max(t, c.ns.Load()))
			c.mu.Unlock()
			return
		}
		s := c.sleepers[idx]
		c.sleepers = slices.Delete(c.sleepers, idx, idx+1)
		c.ns.Store(max(s.at, c.ns.Load()))
		c.mu.Unlock()
		close(s.ch)
		settle()
	}
}

// stallResult is what a simulated day measured.
type stallResult struct {
	Requests int64
	// Stalls counts requests that were held up by a token fetch: the
	// simulated clock moved while they ran. MaxStall is the longest.
	Stalls   int64
	MaxStall time.Duration
	// Waited counts requests that waited longer than stallThreshold for
	// any reason (a fetch, or the machine: scheduling, GC). MaxWait is the
	// longest wait of any request.
	Waited  int64
	MaxWait time.Duration
	Errors  int64
}

// stallThreshold: a request waiting longer than this counts as stalled.
const stallThreshold = time.Millisecond

// stallGrace is how long (real time) the driver lets a request run while a
// fetch is sleeping before it treats the request as blocked behind that
// fetch and moves the clock on. A request that is not blocked finishes in
// microseconds.
const stallGrace = 5 * time.Millisecond

// simulateStalls issues one request (get) every interval of simulated time
// for the simulated duration, each in its own goroutine, and measures how
// long each waited. A request's wait is the simulated time that passed
// while it ran; a request during which the clock did not move (it neither
// fetched nor waited for a fetch) is charged its real duration, which is the
// warm path's cost.
//
// The clock only moves when every outstanding request has finished or is
// blocked: a request still running with no fetch in progress is always
// waited for; with a fetch in progress (a goroutine in Sleep), a request
// that makes no progress for stallGrace counts as blocked behind it.
func simulateStalls(clk *simClock, get func() error, interval, duration time.Duration) (stallResult, error) {
	var (
		res         stallResult
		outstanding atomic.Int64
		maxWait     atomic.Int64
		maxStall    atomic.Int64
		waited      atomic.Int64
		stalls      atomic.Int64
		errs        atomic.Int64
		errMu       sync.Mutex
		firstErr    error
	)
	grace := time.NewTimer(time.Hour)
	watchdog := time.NewTimer(time.Hour)
	var stuck error
	settle := func() {
		for outstanding.Load() > 0 && stuck == nil {
			watchdog.Reset(time.Minute)
			if clk.sleeping() == 0 {
				// Running: wait for it to end or to start sleeping.
				select {
				case <-clk.progress:
				case <-watchdog.C:
					stuck = fmt.Errorf("simulation stuck at %s with %d requests outstanding and no fetch in progress", time.Duration(clk.ns.Load()), outstanding.Load())
				}
				continue
			}
			grace.Reset(stallGrace)
			select {
			case <-clk.progress:
				continue
			case <-grace.C:
				return // blocked behind the fetch
			}
		}
	}
	issue := func(record bool) {
		issued := clk.ns.Load()
		outstanding.Add(1)
		go func() {
			start := time.Now()
			err := get()
			wait := time.Since(start)
			sim := clk.ns.Load() - issued
			if sim > 0 {
				wait = time.Duration(sim)
			}
			if record {
				storeMax(&maxWait, int64(wait))
				if sim > 0 {
					stalls.Add(1)
					storeMax(&maxStall, sim)
				}
				if wait > stallThreshold {
					waited.Add(1)
				}
				if err != nil {
					errs.Add(1)
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
				}
			}
			outstanding.Add(-1)
			clk.poke()
		}()
		settle()
	}
	// Warm up: the first token is fetched before the day starts, by one
	// request that is not counted (every implementation waits for its
	// first token).
	issue(false)
	for outstanding.Load() > 0 && stuck == nil {
		clk.advance(clk.ns.Load()+int64(interval), settle)
	}
	start := clk.ns.Load()
	n := int64(duration / interval)
	for i := int64(0); i < n && stuck == nil; i++ {
		clk.advance(start+i*int64(interval), settle)
		issue(true)
	}
	for outstanding.Load() > 0 && stuck == nil {
		clk.advance(clk.ns.Load()+int64(interval), settle)
	}
	if stuck != nil {
		return res, stuck
	}
	res.Requests, res.Waited, res.MaxWait, res.Errors = n, waited.Load(), time.Duration(maxWait.Load()), errs.Load()
	res.Stalls, res.MaxStall = stalls.Load(), time.Duration(maxStall.Load())
	errMu.Lock()
	defer errMu.Unlock()
	if firstErr != nil {
		return res, fmt.Errorf("%d requests failed, the first with: %w", res.Errors, firstErr)
	}
	return res, nil
}

func storeMax(m *atomic.Int64, v int64) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}
