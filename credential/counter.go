package credential

import (
	"sync/atomic"
	"unsafe"
)

// stripes is the number of slots of a stripedCounter (2^4, matching the
// hash's shift), comfortably more than the cores that count at once.
const stripes = 16

// stripedCounter is a counter for the hot path: each Add lands on one of
// several cache-line-sized slots picked by the calling goroutine's stack
// address, so that a goroutine keeps writing the same line and goroutines
// on different cores rarely share one. A single atomic counter written by
// every warm token call made cores fight over one cache line, which cost
// more than the rest of the call; slots picked at random still moved every
// line between cores.
type stripedCounter struct {
	slots [stripes]struct {
		n atomic.Int64
		_ [56]byte
	}
}

// Add adds one.
func (c *stripedCounter) Add() {
	var mark byte // lives on this goroutine's stack: its address names the stack
	// Fibonacci hashing spreads stack addresses, which share their low bits,
	// over the slots.
	slot := (uint64(uintptr(unsafe.Pointer(&mark))>>10) * 0x9E3779B97F4A7C15) >> (64 - 4)
	c.slots[slot].n.Add(1)
}

// Load returns the sum of the slots.
func (c *stripedCounter) Load() int64 {
	var sum int64
	for i := range c.slots {
		sum += c.slots[i].n.Load()
	}
	return sum
}
