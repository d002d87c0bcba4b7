package fakemodel

import (
	"net/http"
	"sync"
)

// Keys is the credentials an endpoint accepts — the keys issued and not
// revoked — for Options.Check: a request carrying any other is refused
// with 401 and counted.
type Keys struct {
	mu      sync.Mutex
	valid   map[string]bool
	refused int
}

// Set replaces the accepted keys (revoking every other).
func (k *Keys) Set(keys ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.valid = map[string]bool{}
	for _, key := range keys {
		k.valid[key] = true
	}
}

// Check is an Options.Check: 401 unless r's credential is accepted.
func (k *Keys) Check(r *Request) int {
	_, v := r.Credential()
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.valid[v] {
		k.refused++
		return http.StatusUnauthorized
	}
	return 0
}

// Refused counts the requests refused so far.
func (k *Keys) Refused() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.refused
}
