package registry

import (
	"os"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byokcred/byokcred/credential"
	"github.com/byokcred/byokcred/internal/testkit/configtest"
	"github.com/byokcred/byokcred/kind"
)

// subSharedAuth keeps shared state through a Sub build, as a secret-store
// reference's nested credential does.
type subSharedAuth struct {
	Value string `yaml:"value"`
}

// subState counts how often the shared state is made and closed.
type subState struct{ created, closed *atomic.Int32 }

func (s subState) Close() error { s.closed.Add(1); return nil }

var subCreated, subClosed atomic.Int32

func (a *subSharedAuth) Validate(*kind.Build) {}
func (a *subSharedAuth) Source(b *kind.Build) (kind.Result, error) {
	b.Sub("nested").Shared("test-subshared", func() any {
		subCreated.Add(1)
		return subState{&subCreated, &subClosed}
	})
	return kind.Result{Source: credential.StaticTokenSource(&credential.Token{Kind: credential.KindBearer, Value: credential.NewSecret(a.Value)})}, nil
}

func init() { kind.Register("test-subshared", func() kind.AuthConfig { return new(subSharedAuth) }) }

// TestSharedStateOfASubBuildMovesWithItsSource: a source carried over by a
// reload takes along the shared state it took through a Sub build (the
// registry's host records it for the whole build), so the old set's Close
// does not close state the carried source still uses.
func TestSharedStateOfASubBuildMovesWithItsSource(t *testing.T) {
	subCreated.Store(0)
	subClosed.Store(0)
	path := configtest.Write(t, `providers:
  keep: {type: openai, base_url: https://a.example, model: m, auth: {type: test-subshared, value: same}}
`)
	live, err := NewLive(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(`providers:
  keep: {type: openai, base_url: https://a.example, model: m, auth: {type: test-subshared, value: same}}
  other: {type: openai, base_url: https://b.example, model: m, auth: {type: test-echo, value: x}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := live.Reload(); err != nil {
		t.Fatal(err)
	}
	type counts struct{ Created, Closed int32 }
	if diff := cmp.Diff(counts{1, 0}, counts{subCreated.Load(), subClosed.Load()}); diff != "" {
		t.Errorf("after the reload (-want +got):\n%s", diff)
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(counts{1, 1}, counts{subCreated.Load(), subClosed.Load()}); diff != "" {
		t.Errorf("after Close (-want +got):\n%s", diff)
	}
}
