// Package entrahook lets tests point auth/entra's on-behalf-of credentials
// at a loopback fake authority. It is internal, so a library user cannot
// reach it, and no config key sets it: production always talks to the real
// Entra authority with instance discovery on.
package entrahook

import (
	"net/http"
	"sync/atomic"
)

// Options are the azidentity client options a test overrides.
type Options struct {
	// AuthorityHost replaces the public cloud's login host
	// (https://127.0.0.1:PORT/).
	AuthorityHost string
	// Client trusts the fake authority's test CA.
	Client *http.Client
}

var current atomic.Pointer[Options]

// Get returns the override in force, or nil.
func Get() *Options { return current.Load() }

// Set installs o until the test ends.
func Set(t interface{ Cleanup(func()) }, o Options) {
	current.Store(&o)
	t.Cleanup(func() { current.Store(nil) })
}
