// Package gatedauth is a test credential kind whose source answers only
// once the test opens its gate: a plugin on its first, cold fetch. Tests use
// it to hold a fetch in flight while something else happens (a reload).
//
// Importing it registers the kind "test-gated" (key: value, the token it
// serves). Gates are per value: give each run its own value (Run) so that
// -count works.
package gatedauth

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/kind"
)

// Kind is the auth type this package registers.
const Kind = "test-gated"

// Gate controls the fetches of one value's source.
type Gate struct {
	// Started receives one value per fetch that began.
	Started chan struct{}
	// Open, once closed, lets every fetch answer.
	Open chan struct{}
	// Closed reports whether a source of this value was closed.
	Closed atomic.Bool
}

var (
	gates sync.Map // value -> *Gate
	runs  atomic.Int64
)

// For returns value's gate.
func For(value string) *Gate {
	g, _ := gates.LoadOrStore(value, &Gate{Started: make(chan struct{}, 16), Open: make(chan struct{})})
	return g.(*Gate)
}

// Value returns a value no other run of the test binary used, prefixed.
func Value(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, runs.Add(1))
}

type auth struct {
	Value string `yaml:"value"`
}

type source struct {
	g     *Gate
	value string
}

func (s source) Token(ctx context.Context) (*credential.Token, error) {
	s.g.Started <- struct{}{}
	select {
	case <-s.g.Open:
		return &credential.Token{Kind: credential.KindBearer, Value: credential.NewSecret(s.value), Expiry: time.Now().Add(time.Hour)}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s source) Close() error {
	s.g.Closed.Store(true)
	return nil
}

func (*auth) Validate(*kind.Build) {}

func (a *auth) Source(*kind.Build) (kind.Result, error) {
	return kind.Result{Source: source{For(a.Value), a.Value}}, nil
}

func init() {
	kind.Register(Kind, func() kind.AuthConfig { return new(auth) })
}
