// Package fakeclock is a settable clock for tests of code that takes a
// `Now func() time.Time`.
package fakeclock

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when told to. It is safe for concurrent
// use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock at a fixed instant (2026-01-01 12:00 UTC), so that
// tests do not depend on the day they run.
func New() *Clock { return &Clock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// At returns a clock at t, for tests whose tokens are minted against the
// real time.
func At(t time.Time) *Clock { return &Clock{now: t} }
